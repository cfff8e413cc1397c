import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { JobRunner } from '../../../../manager/jobs/job-runner.js'
import type { ManagerStore } from '../../../../manager/store/index.js'
import { shippedPlaybookDir } from '../../../../manager/roles/shipped.js'
import type { PlaybookPlan } from '../../../../manager/roles/plan.js'
import type { PlaybookResult, RunOptions } from '../../../../manager/ansible/playbook-runner.js'
import { withLeases } from '../../../../manager/fencing/lease-plan.js'
import type { HeldLease, JobFencing, LeaseAcquisition } from '../../../../manager/fencing/node-leases.js'
import type { LeaseRefusalCode } from '../../../../protocol/fencing-wire.js'
import { waitFor } from '../../../harness/poll.js'
import { RUNNER_INIT, finishedJob, jobComponents, openJobStore } from './job-fixture.js'

// The job runner with a fake fencing collaborator: the lease comes before the pre-check, a
// refused lease fails only that node with the code, a lost lease stops the run, and every lease
// is released when the run ends.
const PLAYBOOKS = shippedPlaybookDir()

class FakeFencing implements JobFencing {
  log: string[] = []
  refuse = new Map<string, LeaseRefusalCode>()
  held = new Map<string, { lost: AbortController, released: boolean }>()
  async acquire (node: { name: string, peerId: string }): Promise<LeaseAcquisition> {
    this.log.push(`lease ${node.name}`)
    const code = this.refuse.get(node.name)
    if (code !== undefined) return { ok: false, code, message: 'the node said no', unreachable: false }
    const lost = new AbortController()
    const entry = { lost, released: false }
    this.held.set(node.name, entry)
    const lease: HeldLease = {
      node: node.name, leaseId: 'ab'.repeat(16), epoch: 1, leaseFile: '/var/lib/clusterd/lease.json', signal: lost.signal, acquireMs: 1,
      release: async () => { entry.released = true; this.log.push(`release ${node.name}`) }
    }
    return { ok: true, lease }
  }

  guard (plan: PlaybookPlan, leases: ReadonlyMap<string, HeldLease>): PlaybookPlan { return withLeases(plan, leases) }
}

class HoldingPlaybooks {
  runs: PlaybookPlan[] = []
  hold = false
  started = false
  async run (plan: PlaybookPlan, options: RunOptions = {}): Promise<PlaybookResult> {
    this.runs.push(plan)
    this.started = true
    if (this.hold) await new Promise(resolve => options.signal?.addEventListener('abort', resolve, { once: true }))
    const cancelled = options.signal?.aborted === true
    return {
      ident: 'x', status: cancelled ? 'cancelled' : 'completed', check: false, exitCode: cancelled ? null : 0, durationMs: 1,
      hosts: plan.hosts.map(h => cancelled
        ? { name: h.name, alias: h.name, outcome: 'failed', reason: 'cancelled', changed: 0, ok: 0, changes: [] }
        : { name: h.name, alias: h.name, outcome: 'ok', changed: 0, ok: 1, changes: [] })
    } as unknown as PlaybookResult
  }
}

describe('JobRunner with node leases (fencing)', () => {
  let store: ManagerStore
  let close: () => Promise<void>
  let playbooks: HoldingPlaybooks
  let fencing: FakeFencing
  let prechecked: string[]
  let precheckEnv: Map<string, Record<string, string> | undefined>
  let runner: JobRunner

  beforeEach(async () => {
    ({ store, close } = await openJobStore('jobs-fence', ['a', 'b']))
    playbooks = new HoldingPlaybooks()
    fencing = new FakeFencing()
    prechecked = []
    precheckEnv = new Map()
    runner = new JobRunner(jobComponents(store, playbooks, {
      precheck: async t => { prechecked.push(t.name); precheckEnv.set(t.name, t.env); fencing.log.push(`precheck ${t.name}`); return { ok: true } },
      fencing
    }), RUNNER_INIT)
    await runner.start()
  })

  afterEach(async () => {
    await runner.stop()
    await close()
  })

  const finished = async (id: string): ReturnType<typeof finishedJob> => await finishedJob(store, id)

  it('takes the lease before the pre-check, presents it with the pre-check and every playbook session, and releases the lease at the end', async () => {
    const job = await runner.submit({ kind: 'commission', nodes: ['a'], roles: ['worker'], vars: {}, actor: 'operator' })
    const done = await finished(job.id)
    assert.equal(done.status, 'succeeded', done.reason ?? '')
    assert.deepEqual(fencing.log, ['lease a', 'precheck a', 'release a'])
    const plan = playbooks.runs[0] as PlaybookPlan
    assert.deepEqual(plan.playbooks, [join(PLAYBOOKS, 'base.yml'), join(PLAYBOOKS, 'worker.yml')])
    assert.deepEqual(plan.hosts[0]?.sshEnv, { CLUSTERD_LEASE: `1:${'ab'.repeat(16)}` })
    assert.deepEqual(precheckEnv.get('a'), { CLUSTERD_LEASE: `1:${'ab'.repeat(16)}` })
    assert.equal(plan.hosts[0]?.vars.clusterd_lease_id, 'ab'.repeat(16))
    assert.equal(plan.hosts[0]?.vars.clusterd_epoch, '1')
    const events = await store.listJobEvents(job.id)
    assert.ok(events.some(e => e.kind === 'lease' && e.node === 'a' && /granted for epoch 1/.test(e.message ?? '')))
  })

  it('a refused lease fails only that node, naming the code, without pre-check or playbook; the node is not left busy', async () => {
    fencing.refuse.set('b', 'CLUSTERD_ERR_STALE_EPOCH')
    const job = await runner.submit({ kind: 'commission', nodes: ['a', 'b'], roles: ['worker'], vars: {}, actor: 'operator' })
    const done = await finished(job.id)
    assert.equal(done.status, 'failed')
    assert.equal(done.perNode.a?.outcome, 'ok')
    assert.equal(done.perNode.b?.outcome, 'failed')
    assert.match(done.perNode.b?.message ?? '', /lease not granted \(CLUSTERD_ERR_STALE_EPOCH\)/)
    assert.deepEqual(prechecked, ['a'])
    assert.deepEqual(playbooks.runs[0]?.hosts.map(h => h.name), ['a'])
    assert.equal((await store.getNode('b'))?.state, 'commission-failed')
    fencing.refuse.clear()
    const retry = await runner.submit({ kind: 'commission', nodes: ['b'], roles: ['worker'], vars: {}, actor: 'operator' })
    assert.equal((await finished(retry.id)).status, 'succeeded')
  })

  it('a lease lost during the playbook run stops the run and fails the node with CLUSTERD_ERR_LEASE_LOST', async () => {
    playbooks.hold = true
    const job = await runner.submit({ kind: 'commission', nodes: ['a', 'b'], roles: ['worker'], vars: {}, actor: 'operator' })
    await waitFor(() => playbooks.started, { timeoutMs: 5000, message: 'the run never started' })
    fencing.held.get('a')?.lost.abort('CLUSTERD_ERR_LEASE_LOST: renewal refused (CLUSTERD_ERR_STALE_EPOCH): newer manager')
    const done = await finished(job.id)
    assert.equal(done.status, 'failed')
    assert.match(done.perNode.a?.message ?? '', /^CLUSTERD_ERR_LEASE_LOST: renewal refused/)
    assert.match(done.perNode.b?.message ?? '', /a lost its lease \(CLUSTERD_ERR_LEASE_LOST\)/)
    assert.equal(fencing.held.get('a')?.released, true)
    assert.equal(fencing.held.get('b')?.released, true)
    assert.equal((await store.getNode('a'))?.state, 'commission-failed')
  })

  it('verify jobs are fenced too (the check-mode run presents the lease)', async () => {
    const c = await runner.submit({ kind: 'commission', nodes: ['a'], roles: ['worker'], vars: {}, actor: 'operator' })
    await finished(c.id)
    const v = await runner.submit({ kind: 'verify', nodes: ['a'], roles: [], vars: {}, actor: 'operator' })
    assert.equal((await finished(v.id)).status, 'succeeded')
    assert.deepEqual(playbooks.runs[1]?.hosts[0]?.sshEnv, { CLUSTERD_LEASE: `1:${'ab'.repeat(16)}` })
    assert.deepEqual(fencing.log.slice(-3), ['lease a', 'precheck a', 'release a'])
  })
})
