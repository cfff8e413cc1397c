import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import type { JobRunner } from '../../../../manager/jobs/job-runner.js'
import type { ManagerStore } from '../../../../manager/store/index.js'
import type { JobRecord } from '../../../../protocol/jobs.js'
import { finishedJob, openRouteFixture, type FakePlaybooks, type RouteFixture } from './job-fixture.js'

// Verify and reconfigure jobs through the real job runner and a real LevelDB store; the
// Ansible edge is a fake that reports, per host, the tasks that (would) change.

describe('verify and reconfigure jobs', () => {
  let fx: RouteFixture
  let store: ManagerStore
  let playbooks: FakePlaybooks
  let runner: JobRunner

  beforeEach(async () => {
    fx = await openRouteFixture('maint', ['a', 'b', 'fresh'], ['a', 'b'])
    store = fx.store
    playbooks = fx.playbooks
    runner = fx.runner
  })

  afterEach(async () => { await fx.close() })

  const finished = async (id: string): Promise<JobRecord> => await finishedJob(store, id)
  const types = async (node: string): Promise<string[]> => (await store.listEvents({ node })).map(e => e.type)

  it('verify runs the nodes\' role playbooks in check mode, records drift per node, and leaves them commissioned', async () => {
    playbooks.changes.set('a', ['Worker config is rendered'])
    const job = await runner.submit({ kind: 'verify', nodes: ['a', 'b'], roles: [], vars: {}, actor: 'on-return' })
    assert.equal((await store.getNode('a'))?.state, 'commissioned', 'no transitional state for a check')
    const done = await finished(job.id)
    assert.equal(done.status, 'succeeded', 'drift is a finding, not a failure')
    const run = playbooks.runs[0]
    assert.equal(run?.check, true)
    assert.equal(run?.plan.kind, 'verify')
    assert.deepEqual(run?.plan.hosts.map(h => h.roles), [['base', 'worker'], ['base', 'worker']])
    assert.deepEqual(run?.plan.playbooks.map(p => p.split('/').at(-1)), ['base.yml', 'worker.yml'])
    assert.deepEqual(done.perNode.a?.drift, { changed: 1, tasks: ['Worker config is rendered'] })
    assert.deepEqual(done.perNode.b?.drift, { changed: 0, tasks: [] })
    assert.equal(done.perNode.a?.message, 'drift: 1 task(s) would change: Worker config is rendered', 'job show and --wait print it')
    const a = await store.getNode('a')
    assert.equal(a?.state, 'commissioned')
    assert.deepEqual([a?.drift?.jobId, a?.drift?.changed, a?.drift?.tasks], [job.id, 1, ['Worker config is rendered']])
    assert.equal((await store.getNode('b'))?.drift?.changed, 0)
    assert.deepEqual((await types('a')).slice(-2), ['verify-requested', 'drift-checked'])
  })

  it('reconfigure re-applies (not check mode) and clears drift; a node in a job is refused', async () => {
    playbooks.changes.set('a', ['Worker config is rendered'])
    await finished((await runner.submit({ kind: 'verify', nodes: ['a'], roles: [], vars: {}, actor: 'operator' })).id)
    const job = await runner.submit({ kind: 'reconfigure', nodes: ['a'], roles: [], vars: {}, actor: 'operator' })
    await assert.rejects(runner.submit({ kind: 'verify', nodes: ['a'], roles: [], vars: {}, actor: 'operator' }), (err: any) => err.code === 'CLUSTERD_ERR_NODE_BUSY')
    const done = await finished(job.id)
    assert.equal(done.status, 'succeeded')
    assert.equal(playbooks.runs.at(-1)?.check, false)
    assert.equal(done.perNode.a?.drift, undefined)
    assert.equal((await store.getNode('a'))?.drift, null)
    assert.equal((await store.getNode('a'))?.state, 'commissioned')
    assert.deepEqual((await types('a')).slice(-2), ['reconfigure-requested', 'reconfigured'])
  })

  it('a failed reconfigure fails the job, keeps the node commissioned with its drift, and says why', async () => {
    playbooks.changes.set('b', ['Worker config is rendered'])
    await finished((await runner.submit({ kind: 'verify', nodes: ['b'], roles: [], vars: {}, actor: 'operator' })).id)
    playbooks.failHosts.add('b')
    const done = await finished((await runner.submit({ kind: 'reconfigure', nodes: ['b'], roles: [], vars: {}, actor: 'operator' })).id)
    assert.equal(done.status, 'failed')
    const b = await store.getNode('b')
    assert.equal(b?.state, 'commissioned')
    assert.equal(b?.drift?.changed, 1)
    const last = (await store.listEvents({ node: 'b' })).at(-1)
    assert.equal(last?.type, 'reconfigure-failed')
    assert.match(last?.reason ?? '', /Worker user exists/)
  })

  it('refuses nodes that are not commissioned and writes nothing', async () => {
    const eventsBefore = await store.listEvents({ limit: 1000 })
    for (const kind of ['verify', 'reconfigure'] as const) {
      await assert.rejects(runner.submit({ kind, nodes: ['a', 'fresh'], roles: [], vars: {}, actor: 'operator' }),
        (err: any) => err.code === 'CLUSTERD_ERR_INVALID_TRANSITION' && new RegExp(`cannot ${kind} a node that is discovered`).test(err.message))
    }
    assert.deepEqual(await store.listEvents({ limit: 1000 }), eventsBefore)
    assert.deepEqual(await store.listJobs(), [])
    assert.equal(playbooks.runs.length, 0)
  })
})
