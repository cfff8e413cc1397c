import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { JobRunner } from '../../../../manager/jobs/job-runner.js'
import type { ManagerStore } from '../../../../manager/store/index.js'
import type { PlaybookPlan } from '../../../../manager/roles/plan.js'
import { loadRoleConfig, type RoleConfig } from '../../../../manager/roles/role-config.js'
import { shippedPlaybookDir } from '../../../../manager/roles/shipped.js'
import type { PlaybookResult, RunOptions } from '../../../../manager/ansible/playbook-runner.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import type { JobRecord } from '../../../../protocol/jobs.js'
import { waitFor } from '../../../harness/poll.js'
import { RUNNER_INIT, finishedJob, jobComponents, openJobStore } from './job-fixture.js'

// The rolling-upgrade run with a real LevelDB store: waves, the post-upgrade check and test,
// pause, resume, retry of the failed, and a manager restart mid-rollout. Ansible and SSH are
// fakes here; test/integration/rolling-upgrade.test.ts runs the same on real test hosts.

const TEST_PLAYBOOK = '/roles/base-test.yml'

/** One fake ansible-runner run: what it ran, on which hosts, in check mode or not. */
interface Run { playbooks: string[], hosts: string[], check: boolean }

class FakePlaybooks {
  runs: Run[] = []
  /** Hosts whose test playbook fails. */
  failTest = new Set<string>()
  /** Hosts whose check-mode run finds drift. */
  drift = new Set<string>()
  /** While set, an upgrade run of `holdHost` waits for it (or the abort). */
  hold: Promise<void> | null = null
  holdHost = ''
  async run (plan: PlaybookPlan, options: RunOptions = {}): Promise<PlaybookResult> {
    const check = options.check === true
    this.runs.push({ playbooks: plan.playbooks, hosts: plan.hosts.map(h => h.name), check })
    const test = plan.playbooks.includes(TEST_PLAYBOOK)
    if (this.hold !== null && plan.kind === 'upgrade' && plan.hosts.some(h => h.name === this.holdHost)) {
      await Promise.race([this.hold, new Promise(resolve => options.signal?.addEventListener('abort', resolve))])
    }
    const cancelled = options.signal?.aborted === true
    return {
      ident: 'x', status: cancelled ? 'cancelled' : 'ok', check, exitCode: cancelled ? null : 0, durationMs: 1,
      hosts: plan.hosts.map(h => cancelled || (test && this.failTest.has(h.name))
        ? { name: h.name, alias: h.name, outcome: 'failed' as const, reason: cancelled ? 'cancelled' as const : 'task-failed' as const, changed: 0, ok: 0, failedTask: 'marker file exists', message: 'Assertion failed', changes: [] }
        : check && this.drift.has(h.name)
          ? { name: h.name, alias: h.name, outcome: 'ok' as const, changed: 1, ok: 3, changes: [{ task: 'Login banner names the node' }] }
          : { name: h.name, alias: h.name, outcome: 'ok' as const, changed: check ? 0 : 1, ok: 3, changes: [] })
    } as unknown as PlaybookResult
  }

  /** Hosts of every upgrade (not check, not test) run, in order. */
  upgraded (): string[][] {
    return this.runs.filter(r => !r.check && !r.playbooks.includes(TEST_PLAYBOOK)).map(r => r.hosts)
  }
}

const NODES = ['a', 'b', 'c', 'd', 'e', 'f']

describe('rolling upgrade run', () => {
  let store: ManagerStore
  let close: () => Promise<void>
  let playbooks: FakePlaybooks
  let roles: RoleConfig
  let runner: JobRunner

  const newRunner = (): JobRunner => new JobRunner(jobComponents(store, playbooks, { roles: async () => roles }), RUNNER_INIT)

  beforeEach(async () => {
    ({ store, close } = await openJobStore('rollout', NODES))
    const shipped = await loadRoleConfig(shippedPlaybookDir())
    roles = { ...shipped, roles: shipped.roles.map(r => r.name === 'base' ? { ...r, test: [TEST_PLAYBOOK] } : r) }
    playbooks = new FakePlaybooks()
    runner = newRunner()
    await runner.start()
    const commission = await runner.submit({ kind: 'commission', nodes: NODES, roles: ['worker'], vars: {}, actor: 'operator' })
    assert.equal((await finishedJob(store, commission.id)).status, 'succeeded')
    playbooks.runs = []
  })

  afterEach(async () => {
    await runner.stop()
    await close()
  })

  const rollout = async (settings: { batchSize: number, maxUnavailable?: number, maxFailures?: number, pauseBetweenS?: number }): Promise<JobRecord> =>
    await runner.submit({ kind: 'upgrade', nodes: NODES, roles: [], vars: {}, actor: 'operator', rollout: { maxUnavailable: settings.batchSize, maxFailures: 0, pauseBetweenS: 0, ...settings } })

  const paused = async (id: string): Promise<JobRecord> => await waitFor(async () => {
    const j = await store.getJob(id)
    return j?.status === 'paused' ? j : undefined
  }, { timeoutMs: 5000, message: `job ${id} did not pause` })

  it('goes batch by batch, at most max-unavailable at once, each node upgraded, checked and tested', async () => {
    const job = await rollout({ batchSize: 2, maxUnavailable: 1 })
    assert.deepEqual(job.batches?.map(b => b.nodes), [['a', 'b'], ['c', 'd'], ['e', 'f']])
    assert.equal((await store.getNode('c'))?.state, 'commissioned', 'a node waits in its state until its wave')
    const done = await finishedJob(store, job.id)
    assert.equal(done.status, 'succeeded')
    assert.deepEqual(playbooks.upgraded(), NODES.map(n => [n]))
    // Per node: the upgrade, the roles in check mode, then the test playbook.
    assert.deepEqual(playbooks.runs.slice(0, 3).map(r => [r.hosts, r.check, r.playbooks.includes(TEST_PLAYBOOK)]), [[['a'], false, false], [['a'], true, false], [['a'], false, true]])
    assert.ok(done.batches?.every(b => b.status === 'succeeded'))
    for (const n of NODES) assert.equal((await store.getNode(n))?.state, 'commissioned')
  })

  it('pauses after a failed test with the reason, holds no lease or slot; retry --failed finishes it in the same job', async () => {
    playbooks.failTest.add('c')
    const job = await rollout({ batchSize: 2, maxUnavailable: 1 })
    const p = await paused(job.id)
    assert.match(p.reason ?? '', /paused in batch 2 of 3: 1 node\(s\) failed, more than --max-failures 0: c \(post-upgrade test: task-failed: task "marker file exists": Assertion failed\)/)
    assert.deepEqual(p.batches?.map(b => b.status), ['succeeded', 'running', 'pending'], 'batch 2 is half done, batch 3 not started')
    assert.equal(p.perNode.d?.outcome, 'pending', 'd (same batch) is not run while c holds the one unavailable slot')
    assert.equal((await store.getNode('c'))?.state, 'upgrade-failed')
    assert.equal((await store.getNode('e'))?.state, 'commissioned')
    assert.equal(runner.active, 0, 'a paused job takes no run slot')
    // Its nodes stay held.
    await assert.rejects(runner.submit({ kind: 'verify', nodes: ['e'], roles: [], vars: {}, actor: 'operator' }), (e: unknown) => e instanceof ClusterdError && e.code === 'CLUSTERD_ERR_NODE_BUSY')
    await assert.rejects(runner.resume('nope', 'operator'), (e: unknown) => e instanceof ClusterdError && e.code === 'CLUSTERD_ERR_JOB_NOT_FOUND')

    playbooks.failTest.clear()
    const before = playbooks.upgraded().length
    const again = await runner.retryFailed(job.id, 'operator')
    assert.equal(again.id, job.id)
    const done = await finishedJob(store, job.id)
    assert.equal(done.status, 'succeeded')
    assert.deepEqual(playbooks.upgraded().slice(before), [['c'], ['d'], ['e'], ['f']], 'only the failed node and those not yet run')
    for (const n of NODES) assert.equal((await store.getNode(n))?.state, 'commissioned')
    await assert.rejects(runner.retryFailed(job.id, 'operator'), (e: unknown) => e instanceof ClusterdError && e.code === 'CLUSTERD_ERR_NOTHING_TO_RETRY')
  })

  it('resume accepts the failure and goes on; the job ends failed naming it', async () => {
    playbooks.drift.add('a')
    const job = await rollout({ batchSize: 3 })
    const p = await paused(job.id)
    assert.match(p.reason ?? '', /a \(post-upgrade check: drift: 1 task\(s\) would change: Login banner names the node\)/)
    assert.equal(p.perNode.b?.outcome, 'ok', 'the rest of the wave finished')
    await assert.rejects(runner.retryFailed('nope', 'operator'), (e: unknown) => e instanceof ClusterdError && e.code === 'CLUSTERD_ERR_JOB_NOT_FOUND')
    await runner.resume(job.id, 'operator')
    const done = await finishedJob(store, job.id)
    assert.equal(done.status, 'failed')
    assert.match(done.reason ?? '', /1 of 6 node\(s\) failed: a/)
    assert.deepEqual(done.rollout?.accepted, ['a'])
    await assert.rejects(runner.resume(job.id, 'operator'), (e: unknown) => e instanceof ClusterdError && e.code === 'CLUSTERD_ERR_JOB_NOT_PAUSED')
    // A finished job's failed nodes are retried in a new rolling upgrade.
    playbooks.drift.clear()
    const retry = await runner.retryFailed(job.id, 'operator')
    assert.notEqual(retry.id, job.id)
    assert.deepEqual(retry.nodes, ['a'])
    assert.equal(retry.rollout?.batchSize, 3)
    assert.equal((await finishedJob(store, retry.id)).status, 'succeeded')
  })

  it('a new manager resumes a rollout mid-wave, and leaves a paused one paused until resumed', async () => {
    let release = (): void => {}
    playbooks.hold = new Promise(resolve => { release = resolve })
    playbooks.holdHost = 'c'
    const job = await rollout({ batchSize: 2, maxUnavailable: 1 })
    await waitFor(async () => playbooks.upgraded().some(h => h.includes('c')) ? true : undefined, { timeoutMs: 5000, message: 'c did not start' })
    await runner.stop()
    release()
    playbooks.hold = null
    const stored = await store.getJob(job.id)
    assert.equal(stored?.status, 'running', 'a stopped manager leaves the rollout running in the store')
    assert.equal((await store.getNode('c'))?.state, 'upgrading')
    playbooks.failTest.add('e')
    const before = playbooks.upgraded().length
    runner = newRunner()
    await runner.start()
    const p = await paused(job.id)
    assert.deepEqual(playbooks.upgraded().slice(before), [['c'], ['d'], ['e']], 'the new manager re-ran c and went on, not a or b')
    await runner.stop()
    runner = newRunner()
    await runner.start()
    assert.equal((await store.getJob(job.id))?.status, 'paused', 'a paused rollout is not restarted by a new manager')
    assert.equal(runner.active, 0)
    for (const n of ['a', 'e', 'f']) assert.equal(await runner.nodeJob(n), job.id, `${n} (done, failed or pending) is still held by the paused rollout`)
    assert.equal(p.reason, (await store.getJob(job.id))?.reason)
    playbooks.failTest.clear()
    await runner.retryFailed(job.id, 'operator')
    assert.equal((await finishedJob(store, job.id)).status, 'succeeded')
  })

  it('waits --pause-between between batches', async () => {
    const job = await rollout({ batchSize: 3, pauseBetweenS: 1 })
    const done = await finishedJob(store, job.id)
    assert.equal(done.status, 'succeeded')
    const events = await store.listJobEvents(job.id)
    const wait = events.find(e => /^next batch at /.test(e.message ?? ''))
    assert.ok(wait !== undefined, 'the wait is announced')
    const until = Date.parse((wait.message ?? '').slice('next batch at '.length, 'next batch at '.length + 24))
    const second = events.find(e => /^batch 2 of 2: upgrading/.test(e.message ?? ''))
    assert.ok(second !== undefined && Date.parse(second.at) >= until, 'batch 2 started after the pause')
  })

  it('refuses bad uses up front', async () => {
    await assert.rejects(runner.submit({ kind: 'verify', nodes: ['a'], roles: [], vars: {}, actor: 'operator', rollout: { batchSize: 1, maxUnavailable: 1, maxFailures: 0, pauseBetweenS: 0 } }),
      (e: unknown) => e instanceof ClusterdError && e.code === 'CLUSTERD_ERR_INVALID_ARGUMENT')
    const plain = await runner.submit({ kind: 'upgrade', nodes: ['a'], roles: [], vars: {}, actor: 'operator' })
    await assert.rejects(runner.resume(plain.id, 'operator'), (e: unknown) => e instanceof ClusterdError && e.code === 'CLUSTERD_ERR_JOB_NOT_PAUSED')
    assert.equal((await finishedJob(store, plain.id)).status, 'succeeded')
    await assert.rejects(runner.retryFailed(plain.id, 'operator'), (e: unknown) => e instanceof ClusterdError && e.code === 'CLUSTERD_ERR_NOTHING_TO_RETRY')
  })
})
