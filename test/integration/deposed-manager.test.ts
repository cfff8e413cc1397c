// A deposed manager stops at once (docs/architecture.md, "Deposed managers"), on real hosts:
// separate agent processes with real LevelDB stores, real sshd and ansible-runner. dm0 is the
// first manager, dm1 the worker a job runs on (not eligible), dm2 an eligible standby holding a
// replica. The manager's agent is frozen with SIGSTOP in the middle of a job (what a long GC
// pause or a stalled VM does), dm2 takes over (a higher epoch), resumes the job and takes
// acknowledged writes; API writes sent to the frozen agent wait in its socket. On SIGCONT the old
// manager must step down within 2 s, acknowledge none of its late writes (they fail with
// CLUSTERD_ERR_MANAGER_CHANGED, or were forwarded to the new manager after it stepped down),
// and its late view (the job it saw fail) must not fail the new manager's job: every acknowledged
// write of both epochs is on the new manager, the node ends commissioned.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { cp, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { ApiClient } from '../../cli/client.js'
import { shippedPlaybookDir } from '../../manager/roles/shipped.js'
import type { JobRecord } from '../../protocol/jobs.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { LifecycleEvent, NodeRecord } from '../../protocol/nodes.js'
import type { ReplicaStatus } from '../../protocol/replication-wire.js'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import type { AgentProcess } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'

const SLOW = `- name: slow
  hosts: role_slow
  gather_facts: false
  tasks:
    - name: Slow step
      ansible.builtin.command:
        argv: [/bin/sh, -c, 'sleep "$(cat /srv/slow-seconds 2>/dev/null || echo 1)"']
      changed_when: false
`
/** How long the manager's agent stays frozen: well past a failover and the old node lease's expiry. */
const FREEZE_MS = 20_000

/** One write the test made and what the API answered. */
interface Write { key: string, value: unknown, phase: string, ok: boolean, code?: string, message?: string }

describe('a deposed manager stops at once; higher epochs win', { timeout: 10 * 60_000 }, () => {
  let fleet: AgentFleet
  let playbookDir: string
  const h = (i: number): TestHost => fleet.host(i)
  const agent = (i: number): AgentProcess => fleet.agent(i)
  const measured: Record<string, unknown> = {}

  const startAgent = async (i: number): Promise<AgentProcess> => await fleet.start(i, { playbookDir })
  const writes: Write[] = []
  /** A config write through `client`, recorded with its outcome (never throws). */
  const write = async (client: ApiClient, phase: string, key: string, value: unknown): Promise<Write> => {
    const w: Write = { key, value, phase, ok: false }
    try {
      await client.request('PUT', `/v1/config/${key}`, { value })
      w.ok = true
    } catch (err) {
      w.code = (err as { code?: string }).code
      w.message = (err as Error).message
    }
    writes.push(w)
    return w
  }

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'deposed-manager', prefix: 'dm', count: 3, managerKey: true, eligible: i => i !== 1 })
    playbookDir = join(fleet.dir, 'playbooks')
    await cp(shippedPlaybookDir(), playbookDir, { recursive: true })
    const roles = parse(await readFile(join(playbookDir, 'roles.yaml'), 'utf8'))
    roles.roles.slow = { description: 'test role: sleeps for /srv/slow-seconds', playbooks: ['slow.yml'] }
    await writeFile(join(playbookDir, 'roles.yaml'), stringify(roles))
    await writeFile(join(playbookDir, 'slow.yml'), SLOW)
    await startAgent(0)
    await fleet.waitForManager({ name: h(0).name, among: [agent(0)] })
    await startAgent(1)
    await startAgent(2)
    await waitFor(async () => {
      const nodes = await agent(2).client.request<NodeRecord[]>('GET', '/v1/nodes').catch(() => [])
      const replica = await agent(2).client.request<ReplicaStatus>('GET', '/v1/replica').catch(() => null)
      return nodes.length === 3 && replica?.role === 'replica' && replica.syncedEpoch >= 1 ? true : undefined
    }, { timeoutMs: 60_000, intervalMs: 250, message: () => `the cluster did not form:\n${agent(0).output.slice(-3000)}` })
  })

  after(async () => {
    console.error(`# deposed-manager measurements: ${JSON.stringify(measured)}`)
    for (const a of fleet?.all ?? []) { try { a.proc.kill('SIGCONT') } catch {} }
    await fleet?.close()
  })

  it('frozen mid-job and woken after a failover: steps down within 2 s, acknowledges nothing, its late view fails nothing', async () => {
    const api = agent(2).client
    const old = await agent(0).manager() as ManagerInfo
    // Acknowledged writes of epoch 1 (forwarded from dm2 to the manager).
    assert.equal((await write(api, 'epoch 1', 'job-timeout', 901)).ok, true)
    assert.equal((await write(api, 'epoch 1', 'vars', { phase: 'epoch 1' })).ok, true)
    // A job whose playbook is still running on dm1 when the manager freezes.
    await h(1).exec(['/bin/sh', '-c', 'echo 12 > /srv/slow-seconds'])
    const job = await api.request<JobRecord>('POST', '/v1/commission', { nodes: [h(1).name], roles: ['slow'] })
    await waitFor(async () => {
      const j = await api.request<JobRecord>('GET', `/v1/jobs/${job.id}`)
      return j.perNode[h(1).name]?.step === 'playbook' ? true : undefined
    }, { timeoutMs: 60_000, intervalMs: 100, message: 'the job never reached its playbook' })
    // The new manager's rerun of the playbook is quick.
    await h(1).exec(['/bin/sh', '-c', 'echo 1 > /srv/slow-seconds'])

    const frozen = agent(0)
    const pid = frozen.proc.pid as number
    process.kill(pid, 'SIGSTOP')
    const frozenAt = Date.now()
    let woke = 0
    try {
      const fresh = await waitFor(async () => {
        const m = await agent(2).manager()
        return m !== null && m.epoch > old.epoch && m.name === h(2).name ? m : undefined
      }, { timeoutMs: 30_000, intervalMs: 100, message: () => `dm2 did not take over:\n${agent(2).output.slice(-3000)}` })
      measured.newEpoch = fresh.epoch
      // Acknowledged writes of the new epoch.
      assert.equal((await waitFor(async () => { const w = await write(api, 'epoch 2', 'max-parallel-jobs', 7); return w.ok ? w : undefined }, { timeoutMs: 20_000, intervalMs: 250 })).ok, true)
      assert.equal((await write(api, 'epoch 2', 'vars', { phase: 'epoch 2' })).ok, true)
      // Late writes: sent to the frozen agent's own API, they wait in its socket until it wakes.
      const slow = new ApiClient({ addr: frozen.socket, timeoutMs: 60_000 })
      const late = [
        write(slow, 'late', 'vars', { phase: 'late' }),
        write(slow, 'late', 'on-return', 'none'),
        write(slow, 'late', 'retention.jobs.max-count', 123),
        write(slow, 'late', 'job-timeout', 1999)
      ]
      // The freeze lasts FREEZE_MS in all (a fixed fault duration, not a wait for state).
      await new Promise(resolve => setTimeout(resolve, Math.max(0, FREEZE_MS - (Date.now() - frozenAt))))
      const outputBefore = frozen.output.length
      woke = Date.now()
      process.kill(pid, 'SIGCONT')

      // It steps down within 2 s of waking: no manager role on dm0 any more.
      const steppedDown = await waitFor(async () => {
        const r = await frozen.client.request<ReplicaStatus>('GET', '/v1/replica').catch(() => null)
        return r !== null && r.role !== 'manager' ? Date.now() : undefined
      }, { timeoutMs: 10_000, intervalMs: 20, message: () => `dm0 kept the manager role:\n${frozen.output.slice(outputBefore).slice(-4000)}` })
      measured.stepDownMs = steppedDown - woke
      assert.ok(steppedDown - woke <= 2000, `dm0 stepped down ${steppedDown - woke} ms after waking (more than 2 s)`)
      await Promise.all(late)
      const lateWrites = writes.filter(w => w.phase === 'late')
      measured.late = lateWrites.map(w => `${w.key}: ${w.ok ? 'acknowledged (by the new manager)' : `${w.code ?? ''} ${w.message ?? ''}`}`)
      // Each late write is refused (MANAGER_CHANGED), or went to the new manager after the step-down
      // and was acknowledged there. A connection the woken agent reset (seen once, cause not
      // pinned down) is not acknowledged either; like every refused write it must not be applied (below).
      for (const w of lateWrites) {
        assert.ok(w.ok || w.code === 'CLUSTERD_ERR_MANAGER_CHANGED' || (w.code === undefined && /connection reset/.test(w.message ?? '')),
          `late write of ${w.key} failed otherwise: ${w.code ?? ''} ${w.message ?? ''}`)
      }
      const wokeLog = frozen.output.slice(outputBefore)
      assert.doesNotMatch(wokeLog, /write acknowledged without a replica ack/, 'the deposed manager acknowledged a write alone')
      // Logged once when a replica or node told it; not at all if the newer claim came first.
      const logged = (wokeLog.match(/"msg":"deposed: /g) ?? []).length
      measured.deposedLogged = logged
      assert.ok(logged <= 1, `the step-down is logged ${logged} times:\n${wokeLog.slice(-4000)}`)

      // dm0 accepts the new manager and becomes its replica.
      await waitFor(async () => {
        const [m, r] = await Promise.all([frozen.manager(), frozen.client.request<ReplicaStatus>('GET', '/v1/replica').catch(() => null)])
        return m?.peerId === fresh.peerId && r?.role === 'replica' && r.syncedEpoch === fresh.epoch ? true : undefined
      }, { timeoutMs: 60_000, intervalMs: 250, message: () => `dm0 did not follow the new manager:\n${frozen.output.slice(-3000)}` })

      // The job of the new epoch finishes: the old manager's late view failed nothing.
      const done = await waitFor(async () => {
        const j = await api.request<JobRecord>('GET', `/v1/jobs/${job.id}`)
        return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined
      }, { timeoutMs: 120_000, intervalMs: 250, message: () => `job ${job.id} did not finish:\n${agent(2).output.slice(-3000)}` })
      assert.equal(done.status, 'succeeded', `${done.reason ?? ''}\n${agent(2).output.slice(-3000)}`)
      assert.equal(done.writtenEpoch, fresh.epoch)
      const shown = await api.request<{ node: NodeRecord }>('GET', `/v1/nodes/${h(1).name}`)
      assert.equal(shown.node.state, 'commissioned')
      const events = await api.request<LifecycleEvent[]>('GET', `/v1/events?node=${h(1).name}`)
      assert.ok(!events.some(e => e.type === 'job-failed'), `a job-failed event was applied: ${JSON.stringify(events)}`)
      measured.staleViews = events.filter(e => e.type === 'stale-view').map(e => e.reason)

      // 0 acknowledged writes lost; no refused write applied. Per key: the last acknowledged value.
      const config = await api.request<Record<string, unknown>>('GET', '/v1/config')
      const mergeLog = (): string => [0, 2].map(i => `${h(i).name}:\n${agent(i).output.split('\n').filter(l => /merg|unacked|pulled|stale|deposed|late/i.test(l)).slice(-40).join('\n')}`).join('\n')
      const keys = new Set(writes.map(w => w.key))
      for (const key of keys) {
        const acked = writes.filter(w => w.key === key && w.ok)
        const refused = writes.filter(w => w.key === key && !w.ok)
        // Late writes that were acknowledged went to the new manager after the step-down, last.
        const last = acked.at(-1)
        if (last !== undefined) assert.deepEqual(config[key], last.value, `${key}: the last acknowledged write (${last.phase}) is on the new manager`)
        for (const r of refused) {
          if (!acked.some(a => JSON.stringify(a.value) === JSON.stringify(r.value))) {
            assert.notDeepEqual(config[key], r.value, `${key}: a refused write (${r.phase}) was applied; merge and replication log:\n${mergeLog()}`)
          }
        }
      }
    } finally {
      if (woke === 0) process.kill(pid, 'SIGCONT')
    }
  })
})
