// Fault injection: power a commissioned node off and on. Two manager-eligible agents and a
// worker node; the worker is commissioned, then powered off (link down, every process of the
// host killed). The manager marks it unreachable; powered on again (same disk, agent started
// by its "boot"), it is reachable again, the manager records that it returned (a new boot of
// its agent) and the on-return policy (verify, the default) checks it: no drift.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { JobRecord } from '../../protocol/jobs.js'
import type { LifecycleEvent, NodeRecord } from '../../protocol/nodes.js'
import type { AgentProcess } from '../harness/agent-process.js'
import { waitFor } from '../harness/poll.js'
import { FaultCluster } from './cluster.js'
import { RESULTS_DIR, writeResult } from './results.js'

describe('fault injection: power a commissioned node off and on', () => {
  const started = Date.now()
  let c: FaultCluster
  let worker: string
  const result: Record<string, unknown> = {}
  const api = (): AgentProcess => c.agent(c.hosts[0]?.name as string)
  const node = async (name: string): Promise<NodeRecord> => (await api().client.request<{ node: NodeRecord }>('GET', `/v1/nodes/${name}`)).node
  const events = async (name: string): Promise<LifecycleEvent[]> => await api().client.request<LifecycleEvent[]>('GET', `/v1/events?node=${name}&limit=1000`)
  const finished = async (id: string): Promise<JobRecord> => await waitFor(async () => {
    const j = await api().client.request<JobRecord>('GET', `/v1/jobs/${id}`)
    return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined
  }, { timeoutMs: 180_000, intervalMs: 250, message: `job ${id} finishing` })

  before(async () => {
    c = await FaultCluster.create({ prefix: 'ftw', count: 3, eligible: i => i < 2 })
    worker = c.hosts[2]?.name as string
    await waitFor(async () => (await node(worker).catch(() => undefined))?.boot != null ? true : undefined,
      { timeoutMs: 60_000, intervalMs: 250, message: 'the worker discovered with its boot fact' })
    const j = await api().client.request<JobRecord>('POST', '/v1/commission', { nodes: [worker], roles: ['worker'] })
    assert.equal((await finished(j.id)).status, 'succeeded')
    await api().client.request('PUT', '/v1/config/on-return', { value: 'verify' })
  })

  after(async () => {
    await c?.saveLogs(join(RESULTS_DIR, 'logs', 'power-cycle')).catch(() => {})
    await writeResult('power-cycle', started, result)
    await c?.destroy()
  })

  it('is marked unreachable while off, returns when on, and on-return verify checks it (no drift)', async () => {
    const before = await node(worker)
    assert.equal(before.state, 'commissioned')
    const t0 = Date.now()
    await c.powerOff(worker)
    await waitFor(async () => (await node(worker)).reachable === false ? true : undefined,
      { timeoutMs: 60_000, intervalMs: 100, message: `${worker} marked unreachable` })
    const unreachableMs = Date.now() - t0
    const off = await node(worker)
    assert.equal(off.state, 'commissioned', 'a node that is off keeps its lifecycle state')

    const returnedBefore = (await events(worker)).filter(e => e.type === 'returned').length
    const t1 = Date.now()
    await c.powerOn(worker)
    const returned = await waitFor(async () => {
      const r = (await events(worker)).filter(e => e.type === 'returned')
      return r.length > returnedBefore ? r.at(-1) : undefined
    }, { timeoutMs: 90_000, intervalMs: 250, message: `the manager noticing ${worker} return` })
    const returnedMs = Date.now() - t1
    const back = await node(worker)
    assert.equal(back.reachable, true)
    const job = await waitFor(async () => {
      const js = await api().client.request<JobRecord[]>(`GET`, `/v1/jobs?node=${worker}`)
      return js.find(j => j.kind === 'verify' && j.createdAt >= returned.at)
    }, { timeoutMs: 60_000, intervalMs: 250, message: 'the on-return verify job' })
    const done = await finished(job.id)
    assert.equal(done.status, 'succeeded', done.reason ?? '')
    const checked = await node(worker)
    assert.equal(checked.state, 'commissioned')
    assert.equal(checked.drift?.changed, 0, `no drift after a power cycle: ${JSON.stringify(checked.drift)}`)
    const types = (await events(worker)).map(e => e.type)
    assert.deepEqual(types.slice(types.lastIndexOf('returned')), ['returned', 'verify-requested', 'drift-checked'])
    Object.assign(result, { worker, unreachableMs, returnedMs, returnReason: returned.reason, verifyJob: done.id, verifyStatus: done.status, drift: checked.drift })
  })
})
