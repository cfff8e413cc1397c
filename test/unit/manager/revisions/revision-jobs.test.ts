import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { revisionRoutes } from '../../../../manager/api/revision-routes.js'
import { JobRunner } from '../../../../manager/jobs/job-runner.js'
import { Revisions } from '../../../../manager/revisions/revisions.js'
import type { PlaybookPlan } from '../../../../manager/roles/plan.js'
import { shippedPlaybookDir } from '../../../../manager/roles/shipped.js'
import type { ManagerStore } from '../../../../manager/store/index.js'
import { readRevisionDir } from '../../../../protocol/revision-dir.js'
import type { HistoryEntry, UpgradePlan } from '../../../../protocol/revisions.js'
import { FakePlaybooks, RUNNER_INIT, finishedJob, jobComponents, logger, openJobStore } from '../jobs/job-fixture.js'

// Jobs from stored revisions: a real store and real materialised directories; Ansible is a
// fake that records each plan (real hosts: test/integration/revisions.test.ts).

describe('jobs run from stored revisions', () => {
  let store: ManagerStore
  let close: () => Promise<void>
  let dir: string
  let revisions: Revisions
  let playbooks: FakePlaybooks
  let runner: JobRunner
  let hash: (rev: number) => Promise<string>

  beforeEach(async () => {
    ({ store, close } = await openJobStore('revjobs', ['a', 'b']))
    dir = await mkdtemp(join(tmpdir(), 'clusterd-revjobs-'))
    revisions = new Revisions({ store, logger }, { dir })
    playbooks = new FakePlaybooks()
    runner = new JobRunner(jobComponents(store, playbooks, {
      roles: async rev => await revisions.roleConfig(rev),
      currentRevision: async () => await revisions.current()
    }), RUNNER_INIT)
    await runner.start()
    const read = await readRevisionDir(shippedPlaybookDir())
    assert.ok(read.ok)
    await revisions.push({ files: read.files, message: 'r1', author: '' })
    await revisions.push({ files: read.files.map(f => f.path === 'roles.yaml' ? { ...f, content: Buffer.from(`${f.content.toString()}\n# r2\n`) } : f), message: 'r2', author: '' })
    hash = async rev => (await revisions.info(rev)).hash
  })
  afterEach(async () => {
    await runner.stop()
    await close()
    await rm(dir, { recursive: true, force: true })
  })

  const run = async (req: Parameters<JobRunner['submit']>[0]): Promise<Awaited<ReturnType<typeof finishedJob>>> =>
    await finishedJob(store, (await runner.submit(req)).id)

  it('commission runs the current revision and records it on each ok node; the agent version is left to what the agent reports', async () => {
    playbooks.failHosts.add('b')
    const job = await run({ kind: 'commission', nodes: ['a', 'b'], roles: ['worker'], vars: {}, actor: 'operator' })
    assert.equal(job.revision, 2)
    assert.equal(job.agentVersion, '0.1.0')
    const plan = playbooks.plans[0] as PlaybookPlan
    const r2 = join(dir, await hash(2))
    assert.ok(plan.playbooks.every(p => p.startsWith(r2)), plan.playbooks.join(','))
    assert.equal(plan.hosts[0]?.vars.clusterd_revision, 2)
    const a = await store.getNode('a')
    assert.deepEqual([a?.revision, a?.agentVersion], [2, null], 'no facts were reported in this test')
    const b = await store.getNode('b')
    assert.deepEqual([b?.state, b?.revision], ['commission-failed', null], 'a failed node records nothing applied')
  })

  it('upgrade --to runs the upgrade and role playbooks of that revision; refuses no-ops and downgrades unless forced', async () => {
    await run({ kind: 'commission', nodes: ['a', 'b'], roles: ['worker'], vars: {}, actor: 'operator' })
    await assert.rejects(runner.submit({ kind: 'upgrade', nodes: ['a'], roles: [], vars: {}, actor: 'operator', revision: 2 }),
      (err: any) => err.code === 'CLUSTERD_ERR_UPGRADE_REFUSED' && /a already at revision 2/.test(err.message))
    await assert.rejects(runner.submit({ kind: 'upgrade', nodes: ['a', 'b'], roles: [], vars: {}, actor: 'operator', revision: 1 }),
      (err: any) => err.code === 'CLUSTERD_ERR_UPGRADE_REFUSED' && /a, b would go down from revision 2 to 1/.test(err.message))
    await assert.rejects(runner.submit({ kind: 'upgrade', nodes: ['a'], roles: [], vars: {}, actor: 'operator', revision: 9, force: true }),
      (err: any) => err.code === 'CLUSTERD_ERR_REVISION_NOT_FOUND')
    assert.equal((await store.getNode('a'))?.state, 'commissioned', 'a refusal changes nothing')
    const down = await run({ kind: 'upgrade', nodes: ['a'], roles: [], vars: {}, actor: 'operator', revision: 1, force: true })
    assert.equal(down.status, 'succeeded')
    const plan = playbooks.plans.at(-1) as PlaybookPlan
    const r1 = join(dir, await hash(1))
    assert.deepEqual(plan.playbooks, ['upgrade.yml', 'base.yml', 'worker.yml'].map(p => join(r1, p)))
    assert.equal((await store.getNode('a'))?.revision, 1)
    // Without --to an upgrade goes to the current revision and is not judged (as before revisions).
    const up = await run({ kind: 'upgrade', nodes: ['a'], roles: [], vars: {}, actor: 'operator' })
    assert.equal(up.revision, 2)
    assert.equal((await store.getNode('a'))?.revision, 2)
  })

  it('verify and reconfigure run each node\'s applied revision: one run per revision', async () => {
    await run({ kind: 'commission', nodes: ['a', 'b'], roles: ['worker'], vars: {}, actor: 'operator' })
    await run({ kind: 'upgrade', nodes: ['a'], roles: [], vars: {}, actor: 'operator', revision: 1, force: true })
    const v = await run({ kind: 'verify', nodes: ['a'], roles: [], vars: {}, actor: 'operator' })
    assert.equal(v.revision, 1)
    assert.ok((playbooks.plans.at(-1) as PlaybookPlan).playbooks[0]?.startsWith(join(dir, await hash(1))))
    const before = playbooks.plans.length
    const mixed = await run({ kind: 'reconfigure', nodes: ['a', 'b'], roles: [], vars: {}, actor: 'operator' })
    assert.equal(mixed.status, 'succeeded')
    assert.deepEqual([mixed.revision, mixed.nodeRevisions], [undefined, { a: 1, b: 2 }])
    const runs = playbooks.plans.slice(before)
    assert.deepEqual(runs.map(p => [p.hosts.map(h => h.name), p.hosts[0]?.vars.clusterd_revision]), [[['a'], 1], [['b'], 2]])
    const [d1, d2] = [join(dir, await hash(1)), join(dir, await hash(2))]
    assert.ok(runs[0]?.playbooks.every(p => p.startsWith(d1)) === true && runs[1]?.playbooks.every(p => p.startsWith(d2)) === true)
    assert.deepEqual([(await store.getNode('a'))?.revision, (await store.getNode('b'))?.revision], [1, 2], 'each keeps its own revision')
  })

  it('the plan and history routes tell what would happen and what happened', async () => {
    const routes = revisionRoutes({ store, revisions, agentVersion: async () => '0.1.0' }, v => v as string[])
    const call = async (name: keyof typeof routes, body: unknown, query: Record<string, string> = {}): Promise<unknown> =>
      await routes[name]({ params: {}, query, body, signal: new AbortController().signal })
    await run({ kind: 'commission', nodes: ['a', 'b'], roles: ['worker'], vars: {}, actor: 'operator' })
    await run({ kind: 'upgrade', nodes: ['b'], roles: [], vars: {}, actor: 'operator', revision: 1, force: true })
    const plan = await call('upgradePlan', { nodes: [], all: true, to: 1 }) as UpgradePlan
    assert.deepEqual(plan.groups.map(g => [g.fromRevision, g.action, g.nodes]), [[1, 'no-op', ['b']], [2, 'downgrade', ['a']]])
    const history = await call('history', undefined, { node: 'b' }) as HistoryEntry[]
    assert.deepEqual(history.map(h => [h.kind, h.revision, h.outcome]), [['commission', 2, 'ok'], ['upgrade', 1, 'ok']])
    await assert.rejects(call('upgradePlan', { nodes: ['a'], to: 5 }), (err: any) => err.code === 'CLUSTERD_ERR_REVISION_NOT_FOUND')
    // A selector picks the nodes as `upgrade -l` does; only one way of naming them.
    const byRole = await call('upgradePlan', { nodes: [], selector: 'role=worker', to: 1 }) as UpgradePlan
    assert.deepEqual(byRole.groups.map(g => [g.fromRevision, g.action, g.nodes]), [[1, 'no-op', ['b']], [2, 'downgrade', ['a']]])
    await assert.rejects(call('upgradePlan', { nodes: [], selector: 'zone=nowhere', to: 1 }), /no node matching zone=nowhere/)
    await assert.rejects(call('upgradePlan', { nodes: ['a'], selector: 'role=worker' }), /only one of them/)
    await assert.rejects(call('upgradePlan', { nodes: [], selector: 'no such' }), (err: any) => err.code === 'CLUSTERD_ERR_INVALID_ARGUMENT')
  })
})
