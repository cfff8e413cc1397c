import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { JobRunner, type JobRunnerComponents } from '../../../../manager/jobs/job-runner.js'
import type { ManagerStore } from '../../../../manager/store/index.js'
import type { PlaybookPlan } from '../../../../manager/roles/plan.js'
import type { PlaybookResult, RunOptions } from '../../../../manager/ansible/playbook-runner.js'
import type { PrecheckResult } from '../../../../manager/ssh/precheck.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import { waitFor } from '../../../harness/poll.js'
import { HOST_KEY, RUNNER_INIT, finishedJob, jobComponents, openJobStore } from './job-fixture.js'

// Pure job-runner logic with a real LevelDB store and the shipped roles.yaml; the Ansible and
// SSH edges are fakes here (they are proven against real hosts in test/integration).

class FakePlaybooks {
  runs: PlaybookPlan[] = []
  failHosts = new Set<string>()
  hold: Promise<void> | null = null
  async run (plan: PlaybookPlan, options: RunOptions = {}): Promise<PlaybookResult> {
    this.runs.push(plan)
    for (const h of plan.hosts) options.onEvent?.({ type: 'host-ok', host: h.name, task: 'write config', changed: true })
    if (this.hold !== null) {
      await Promise.race([this.hold, new Promise(resolve => options.signal?.addEventListener('abort', resolve))])
    }
    const cancelled = options.signal?.aborted === true
    return {
      ident: 'x', status: cancelled ? 'cancelled' : 'ok', check: false, exitCode: cancelled ? null : 0, durationMs: 1,
      hosts: plan.hosts.map(h => this.failHosts.has(h.name) || cancelled
        ? { name: h.name, alias: h.name, outcome: 'failed' as const, reason: cancelled ? 'cancelled' as const : 'task-failed' as const, changed: 0, ok: 0, failedTask: 'boom', message: 'it broke', changes: [] }
        : { name: h.name, alias: h.name, outcome: 'ok' as const, changed: 1, ok: 2, changes: [] })
    } as unknown as PlaybookResult
  }
}

describe('JobRunner', () => {
  let store: ManagerStore
  let close: () => Promise<void>
  let playbooks: FakePlaybooks
  let prechecks: Map<string, PrecheckResult>
  let runner: JobRunner

  const components = (): JobRunnerComponents => jobComponents(store, playbooks, {
    precheck: async t => prechecks.get(t.name) ?? { ok: true },
    target: n => n.name === 'ghost' ? { unavailable: 'no facts' } : { address: '10.0.0.1', hostKeys: [HOST_KEY] }
  })

  beforeEach(async () => {
    ({ store, close } = await openJobStore('jobs', ['a', 'b', 'c', 'ghost']))
    playbooks = new FakePlaybooks()
    prechecks = new Map()
    runner = new JobRunner(components(), RUNNER_INIT)
    await runner.start()
  })

  afterEach(async () => {
    await runner.stop()
    await close()
  })

  const finished = async (id: string): ReturnType<typeof finishedJob> => await finishedJob(store, id)

  it('commissions nodes: job succeeds, nodes become commissioned with their roles', async () => {
    const job = await runner.submit({ kind: 'commission', nodes: ['a', 'b'], roles: ['worker'], vars: {}, actor: 'operator' })
    assert.equal(job.status, 'queued')
    assert.equal((await store.getNode('a'))?.state, 'commissioning')
    const done = await finished(job.id)
    assert.equal(done.status, 'succeeded')
    assert.equal((await store.getNode('a'))?.state, 'commissioned')
    assert.deepEqual((await store.getNode('b'))?.roles, ['worker'])
    assert.deepEqual(playbooks.runs[0]?.hosts.map(h => h.roles), [['base', 'worker'], ['base', 'worker']])
    const events = await store.listJobEvents(job.id)
    assert.ok(events.some(e => e.kind === 'task-changed' && e.node === 'a'))
  })

  it('fails only the node whose task failed', async () => {
    playbooks.failHosts.add('b')
    const job = await runner.submit({ kind: 'commission', nodes: ['a', 'b'], roles: ['worker'], vars: {}, actor: 'operator' })
    const done = await finished(job.id)
    assert.equal(done.status, 'failed')
    assert.equal(done.perNode.a?.outcome, 'ok')
    assert.equal(done.perNode.b?.outcome, 'failed')
    assert.match(done.perNode.b?.message ?? '', /boom/)
    assert.equal((await store.getNode('a'))?.state, 'commissioned')
    assert.equal((await store.getNode('b'))?.state, 'commission-failed')
  })

  it('never runs a playbook on a node whose pre-check failed (host key mismatch), and says why', async () => {
    prechecks.set('a', { ok: false, reason: 'host-key-mismatch', message: 'presented key is not pinned' })
    const job = await runner.submit({ kind: 'commission', nodes: ['a', 'b'], roles: ['worker'], vars: {}, actor: 'operator' })
    const done = await finished(job.id)
    assert.deepEqual(playbooks.runs[0]?.hosts.map(h => h.name), ['b'])
    assert.match(done.perNode.a?.message ?? '', /host-key-mismatch/)
    assert.equal((await store.getNode('a'))?.reason?.includes('host-key-mismatch'), true)
  })

  it('refuses invalid requests up front and changes nothing', async () => {
    const before = await store.listEvents({})
    const refusals: Array<[Parameters<JobRunner['submit']>[0], string]> = [
      [{ kind: 'commission', nodes: ['nope'], roles: ['worker'], vars: {}, actor: 'operator' }, 'CLUSTERD_ERR_NODE_NOT_FOUND'],
      [{ kind: 'commission', nodes: ['a'], roles: ['wizard'], vars: {}, actor: 'operator' }, 'CLUSTERD_ERR_UNKNOWN_ROLE'],
      [{ kind: 'commission', nodes: ['a'], roles: ['storage'], vars: {}, actor: 'operator' }, 'CLUSTERD_ERR_INVALID_ARGUMENT'],
      [{ kind: 'decommission', nodes: ['a'], roles: [], vars: {}, actor: 'operator' }, 'CLUSTERD_ERR_INVALID_TRANSITION']
    ]
    for (const [req, code] of refusals) {
      await assert.rejects(runner.submit(req), (err: unknown) => err instanceof ClusterdError && err.code === code, code)
    }
    assert.deepEqual(await store.listEvents({}), before)
    assert.deepEqual(await store.listJobs(), [])
    assert.equal((await store.getNode('a'))?.state, 'discovered')
  })

  it('keeps a node in one job at a time', async () => {
    playbooks.hold = new Promise(() => {})
    const first = await runner.submit({ kind: 'commission', nodes: ['a'], roles: ['worker'], vars: {}, actor: 'operator' })
    await assert.rejects(runner.submit({ kind: 'commission', nodes: ['a', 'b'], roles: ['worker'], vars: {}, actor: 'operator' }),
      (err: unknown) => err instanceof ClusterdError && (err.code === 'CLUSTERD_ERR_NODE_BUSY' || err.code === 'CLUSTERD_ERR_INVALID_TRANSITION'))
    const other = await runner.submit({ kind: 'commission', nodes: ['b'], roles: ['worker'], vars: {}, actor: 'operator' })
    await waitFor(async () => (await store.getJob(other.id))?.status === 'running' ? true : undefined, { timeoutMs: 3000, message: 'jobs on disjoint nodes run concurrently' })
    await runner.cancel(first.id)
    await runner.cancel(other.id)
  })

  it('cancels a running job: nodes land in the failed state with a cancel reason', async () => {
    playbooks.hold = new Promise(() => {})
    const job = await runner.submit({ kind: 'commission', nodes: ['a'], roles: ['worker'], vars: {}, actor: 'operator' })
    await waitFor(async () => (await store.getJob(job.id))?.status === 'running' ? true : undefined, { timeoutMs: 3000, message: 'job runs' })
    const cancelled = await runner.cancel(job.id, 'operator changed mind')
    assert.equal(cancelled.status, 'cancelled')
    const node = await store.getNode('a')
    assert.equal(node?.state, 'commission-failed')
    assert.match(node?.reason ?? '', /operator changed mind/)
  })

  it('resumes a job interrupted by a manager stop, without re-running finished nodes', async () => {
    playbooks.hold = new Promise(() => {})
    const job = await runner.submit({ kind: 'commission', nodes: ['a', 'b'], roles: ['worker'], vars: {}, actor: 'operator' })
    await waitFor(async () => (await store.getJob(job.id))?.status === 'running' ? true : undefined, { timeoutMs: 3000, message: 'job runs' })
    await runner.stop()
    assert.equal((await store.getJob(job.id))?.status, 'running', 'left running for the next manager')
    assert.equal((await store.getNode('a'))?.state, 'commissioning')
    playbooks.hold = null
    runner = new JobRunner(components(), { ...RUNNER_INIT, epoch: 2 })
    await runner.start()
    const done = await finished(job.id)
    assert.equal(done.status, 'succeeded')
    assert.equal((await store.getNode('a'))?.state, 'commissioned')
    assert.ok((await store.listJobEvents(job.id)).some(e => e.kind === 'status' && /restarted/.test(e.message ?? '')))
  })

  it('a job another manager finished (merged in) is not rewritten, and its nodes take new work', async () => {
    playbooks.hold = new Promise(() => {})
    const job = await runner.submit({ kind: 'commission', nodes: ['a'], roles: ['worker'], vars: {}, actor: 'operator' })
    await waitFor(async () => (await store.getJob(job.id))?.status === 'running' ? true : undefined, { timeoutMs: 3000, message: 'job runs' })
    // What a merge from the other lineage brings: the job finished there, the node commissioned.
    const theirs = { ...(await store.getJob(job.id))!, status: 'failed' as const, reason: 'ended by the other manager', finishedAt: new Date().toISOString() }
    await store.putJob(theirs)
    assert.ok((await store.applyTransition('a', { type: 'JOB_SUCCEEDED', jobId: job.id }, { actor: 'partition-merge' })).ok)
    assert.equal(runner.involves([job.id]), true)
    assert.equal(runner.involves(['j-other']), false)
    // The manager restarts its runner after such a merge: the interrupted run leaves the job as merged.
    await runner.stop()
    await runner.start()
    const stored = await store.getJob(job.id)
    assert.equal(stored?.status, 'failed')
    assert.equal(stored?.reason, 'ended by the other manager')
    assert.equal(runner.involves([job.id]), false)
    playbooks.hold = null
    const next = await runner.submit({ kind: 'decommission', nodes: ['a'], roles: [], vars: {}, actor: 'operator' })
    assert.equal((await finished(next.id)).status, 'succeeded')
    assert.equal((await store.getJob(job.id))?.reason, 'ended by the other manager', 'the finished job is never reopened')
  })

  it('fails a node whose target is unknown with the reason', async () => {
    const job = await runner.submit({ kind: 'commission', nodes: ['ghost'], roles: ['worker'], vars: {}, actor: 'operator' })
    const done = await finished(job.id)
    assert.equal(done.perNode.ghost?.outcome, 'unreachable')
    assert.match(done.perNode.ghost?.message ?? '', /no facts/)
    assert.equal(playbooks.runs.length, 0)
  })
})
