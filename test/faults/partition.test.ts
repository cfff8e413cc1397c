// Fault injection: partition the manager and half the cluster from the other half, write on
// both sides, then heal. Six manager-eligible agents; the manager and two others on side A, three
// on side B. While split, both sides must have a working manager (side B elects one with a
// higher epoch) that acknowledges writes; after the heal exactly one manager remains and every
// write either side acknowledged is in its store (partition merge, manager/store/merge.ts).

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { AgentProcess } from '../harness/agent-process.js'
import { waitFor } from '../harness/poll.js'
import { AckedWriter, JOB_TIMEOUT_KEY, varsKey } from './acked-writes.js'
import { FaultCluster } from './cluster.js'
import { Partition } from './partition.js'
import { RESULTS_DIR, writeResult } from './results.js'

const HOSTS = 6
/** How long both sides write while split, once each side has its manager. */
const SPLIT_WRITE_MS = 8_000

describe('fault injection: partition the manager from half the cluster, then heal', () => {
  const started = Date.now()
  let c: FaultCluster
  const result: Record<string, unknown> = {}

  before(async () => {
    c = await FaultCluster.create({ prefix: 'ftp', count: HOSTS })
    await c.waitForNodes(HOSTS)
  })

  after(async () => {
    await c?.saveLogs(join(RESULTS_DIR, 'logs', 'partition')).catch(() => {})
    await writeResult('partition', started, result)
    await c?.destroy()
  })

  it('both sides keep a working manager; after the heal one manager remains with every acknowledged write of both sides', async () => {
    const m = await c.waitForStable()
    const sideA = [c.host(m.name), ...c.hosts.filter(h => h.name !== m.name).slice(0, HOSTS / 2 - 1)]
    const sideB = c.hosts.filter(h => !sideA.includes(h))
    const agentsOf = (side: typeof sideA): AgentProcess[] => side.map(h => c.agent(h.name))
    // Writers on each side, never through a manager (so a side's write is a forwarded one).
    const writerA = new AckedWriter(() => agentsOf(sideA).find(a => a.host.name !== m.name), JOB_TIMEOUT_KEY, 1, 100)
    const writerB = new AckedWriter(() => agentsOf(sideB)[0], varsKey('sideB'), 1, 100)
    writerA.start()
    await waitFor(() => writerA.acks.length >= 3, { timeoutMs: 20_000, message: 'side A writes before the split' })

    const tSplit = Date.now()
    const partition = await Partition.between(sideA, sideB)
    let healed = false
    try {
      writerB.start()
      const managerB = await c.waitForManager({ after: m, among: () => agentsOf(sideB), timeoutMs: 60_000 })
      const splitElectedMs = Date.now() - tSplit
      const managerA = await c.agreedManager(agentsOf(sideA))
      assert.equal(managerA?.peerId, m.peerId, 'side A keeps its manager')
      assert.ok(managerB.epoch > m.epoch)
      // Both sides acknowledge writes while split.
      const ackedA = writerA.acks.length
      const ackedB = writerB.acks.length
      await new Promise(resolve => setTimeout(resolve, SPLIT_WRITE_MS))
      await writerA.stop()
      await writerB.stop()
      const splitAcksA = writerA.acks.filter(a => a.at > tSplit).length
      const splitAcksB = writerB.acks.length
      assert.ok(writerA.acks.length > ackedA, `side A acknowledged writes while split (${writerA.errors.slice(-2).map(e => e.message).join('; ')})`)
      assert.ok(writerB.acks.length > ackedB && splitAcksB > 0, `side B acknowledged writes while split (${writerB.errors.slice(-2).map(e => e.message).join('; ')})`)

      const tHeal = Date.now()
      await partition.heal()
      healed = true
      const one = await waitFor(async () => {
        const agreed = await c.agreedManager()
        if (agreed === undefined) return undefined
        const roles = await Promise.all(c.running().map(async a => (await c.replicaStatus(a)).role))
        return roles.filter(r => r === 'manager').length === 1 ? agreed : undefined
      }, { timeoutMs: 90_000, intervalMs: 250, message: 'one manager after the heal' })
      const healedMs = Date.now() - tHeal
      // Every acknowledged write of both sides is there (the merge may take a moment after the heal).
      const reader = c.running().find(a => a.host.name !== one.name) as AgentProcess
      let checks: unknown
      await waitFor(async () => {
        const [a, b] = await Promise.all([writerA.check(reader), writerB.check(reader)])
        checks = { a, b }
        return a.lost === 0 && b.lost === 0 ? true : undefined
      }, { timeoutMs: 60_000, intervalMs: 500 }).catch(err => { throw new Error(`acknowledged writes lost after the heal: ${JSON.stringify(checks)}: ${(err as Error).message}`) })
      Object.assign(result, {
        sideA: sideA.map(h => h.name), sideB: sideB.map(h => h.name), managerA: m.name, managerB: managerB.name,
        epochA: m.epoch, epochB: managerB.epoch, splitElectedMs, splitAcksA, splitAcksB, healedMs,
        winner: (one as ManagerInfo).name, winnerEpoch: one.epoch, checks, lost: 0
      })
    } finally {
      await writerA.stop()
      await writerB.stop()
      if (!healed) await partition.heal()
    }
  })
})
