import { afterEach, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { JobRunner } from '../../../manager/jobs/job-runner.js'
import { ManagerStore } from '../../../manager/store/index.js'
import type { LifecycleEvent } from '../../../protocol/nodes.js'
import { FakePlaybooks, RUNNER_INIT, finishedJob, jobComponents } from './jobs/job-fixture.js'

// What the manager reports for the agent's /metrics: lifecycle events once durable (the store),
// jobs as they end (the job runner), node counts by state. Real LevelDB; Ansible faked.

describe('manager metrics reports', () => {
  let dir: string
  let store: ManagerStore
  const events: LifecycleEvent[] = []

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterd-mm-'))
    events.length = 0
    store = new ManagerStore({ logger: pino({ level: 'silent' }), onLifecycleEvents: es => { events.push(...es) } }, { path: join(dir, 'db'), epoch: 1 })
    await store.start()
  })
  afterEach(async () => {
    await store.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('reports each lifecycle event once it is durable, and counts nodes by state', async () => {
    await store.upsertNode({ name: 'a', peerId: 'peer-a', reachable: true }, { actor: 'discovery' })
    await store.upsertNode({ name: 'b', peerId: 'peer-b', reachable: true }, { actor: 'discovery' })
    // A reachability change writes the record without an event: nothing reported.
    await store.upsertNode({ name: 'b', peerId: 'peer-b', reachable: false }, { actor: 'discovery' })
    assert.deepEqual(events.map(e => [e.node, e.from, e.to]), [['a', null, 'discovered'], ['b', null, 'discovered']])
    assert.deepEqual(store.nodesByState(), { discovered: 2 })
  })

  it('tells the sink of every job that ends, with its kind, status and duration', async () => {
    await store.upsertNode({ name: 'a', peerId: 'peer-a', reachable: true }, { actor: 'discovery' })
    const finished: Array<[string, string, number]> = []
    const runner = new JobRunner(jobComponents(store, new FakePlaybooks(), { metrics: { jobFinished: (kind, status, seconds) => { finished.push([kind, status, seconds]) } } }), RUNNER_INIT)
    await runner.start()
    try {
      const job = await runner.submit({ kind: 'commission', nodes: ['a'], roles: ['worker'], vars: {}, actor: 'operator' })
      await finishedJob(store, job.id)
      assert.equal(finished.length, 1)
      const [kind, status, seconds] = finished[0] as [string, string, number]
      assert.equal(kind, 'commission')
      assert.equal(status, 'succeeded')
      assert.ok(seconds >= 0 && seconds < 10, `duration ${seconds} s`)
      assert.deepEqual(events.map(e => e.to), ['discovered', 'commissioning', 'commissioned'])
      assert.deepEqual(store.nodesByState(), { commissioned: 1 })
      assert.equal(runner.active, 0)
    } finally {
      await runner.stop()
    }
  })
})
