// Higher epochs win merges (manager/store/merge.ts): the situation of a manager frozen mid-job.
// Manager A (epoch 1) commissions n1 in job j1; B takes over (epoch 2: a copy of A's state) and
// resumes j1; A wakes and records its own late view (j1 failed, n1 commission-failed, a config
// write), with a later clock. Two real LevelDB stores; B merges A's export.

import { after, afterEach, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { ManagerStore, type StoreEntry } from '../../../../manager/store/index.js'
import { assertConsistent, fakeClock, job, tempDir } from './fixture.js'

const T0 = Date.parse('2026-03-01T00:00:00.000Z')
const runner = { actor: 'job-runner' as const }

function store (path: string, epoch: number, start: number): ManagerStore {
  return new ManagerStore({ logger: pino({ level: 'silent' }), now: fakeClock(start) }, { path, epoch })
}

/** Keys whose value changed or appeared between two exports (what the late writes touched). */
function changedKeys (before: StoreEntry[], after: StoreEntry[]): Set<string> {
  const old = new Map(before.map(e => [e.key, JSON.stringify(e.value)]))
  return new Set(after.filter(e => !e.key.startsWith('m!') && old.get(e.key) !== JSON.stringify(e.value)).map(e => e.key))
}

describe('merge: higher epochs win, late views are kept as events', () => {
  const dirs: Array<Awaited<ReturnType<typeof tempDir>>> = []
  let a: ManagerStore // the frozen, replaced manager (epoch 1)
  let b: ManagerStore // the manager that took over (epoch 2)
  let beforeLate: StoreEntry[]

  beforeEach(async () => {
    const [da, db] = [await tempDir(), await tempDir()]
    dirs.push(da, db)
    a = store(da.path, 1, T0)
    await a.start()
    await a.upsertNode({ name: 'n1', peerId: 'p1', reachable: true })
    await a.setConfig('shared', 'before')
    await a.putJob(job('j1', ['n1'], { status: 'running', startedAt: new Date(T0 + 5).toISOString() }))
    await a.applyTransition('n1', { type: 'COMMISSION', jobId: 'j1', roles: ['web'], vars: {} }, { actor: 'operator' })
    // B was A's replica: it takes over with A's state, then resumes j1 (its runner rewrites it).
    b = store(db.path, 2, T0 + 10_000)
    await b.start()
    await b.importAll(await a.exportAll())
    await b.putJob(job('j1', ['n1'], { status: 'running', startedAt: new Date(T0 + 10_001).toISOString() }))
    await b.setConfig('shared', 'epoch 2')
    // A wakes later (its clock is the later one) and records its late view.
    beforeLate = await a.exportAll()
    const late = store(da.path, 1, T0 + 60_000)
    await a.stop()
    a = late
    await a.start()
    await a.applyTransition('n1', { type: 'JOB_FAILED', jobId: 'j1', reason: 'lease lost' }, runner)
    await a.putJob(job('j1', ['n1'], { status: 'failed', startedAt: new Date(T0 + 5).toISOString(), finishedAt: new Date(T0 + 60_010).toISOString(), reason: 'n1 failed' }))
    await a.setConfig('shared', 'late epoch 1')
    await a.setConfig('a-only', 'late epoch 1')
  })

  afterEach(async () => {
    await a.stop()
    await b.stop()
  })

  after(async () => {
    for (const d of dirs) await d.cleanup()
  })

  it('stamps the writing epoch on events, job records and config writes', async () => {
    const entries = await a.exportAll()
    const events = entries.filter(e => e.key.startsWith('x!n1!')).map(e => e.value as { epoch?: number })
    assert.deepEqual(events.map(e => e.epoch), [1, 1, 1])
    assert.equal((await b.getJob('j1'))?.writtenEpoch, 2)
    assert.equal((entries.find(e => e.key === 'cm!shared')?.value as { epoch?: number }).epoch, 1)
  })

  it('late writes (never acknowledged) are kept as stale-view events, never applied; merging again adds nothing', async () => {
    const unacked = changedKeys(beforeLate, await a.exportAll())
    const report = await b.mergeForeign(await a.exportAll(), { unacked })
    assert.deepEqual(report.stale.sort(), ['config a-only', 'config shared', 'job j1', 'node n1'])
    assert.deepEqual(report.nodesTakenOver, [])
    assert.deepEqual(report.jobsUpdated, [])
    const n1 = await b.getNode('n1')
    assert.equal(n1?.state, 'commissioning', 'the node stays in the job epoch 2 runs')
    assert.equal(n1?.currentJob, 'j1')
    assert.equal((await b.getJob('j1'))?.status, 'running', 'the job epoch 2 runs is not failed by the late view')
    assert.equal(await b.getConfig('shared'), 'epoch 2')
    assert.equal(await b.getConfig('a-only'), undefined, 'a late write is not applied even without a conflict')
    const events = await b.listEvents({ node: 'n1', afterSeq: 0 })
    assert.deepEqual(events.map(e => e.type), ['discovered', 'commission-requested', 'stale-view', 'stale-view'])
    const views = events.filter(e => e.type === 'stale-view')
    assert.ok(views.every(e => e.from === 'commissioning' && e.to === 'commissioning' && e.actor === 'partition-merge' && e.epoch === 2))
    assert.deepEqual(views.map(e => [e.staleView?.epoch, e.staleView?.record]).sort(), [[1, 'job j1'], [1, 'node n1']])
    const said = views.find(e => e.staleView?.record === 'node n1')
    assert.match(said?.staleView?.said ?? '', /^job-failed commissioning -> commission-failed: lease lost$/)
    assert.match(said?.reason ?? '', /not applied: a replaced manager \(epoch 1\)/)
    assertConsistent(await b.exportAll())
    const revision = b.revision
    const again = await b.mergeForeign(await a.exportAll(), { unacked })
    assert.equal(again.lifecycleEvents, 0)
    assert.equal(b.revision, revision, 'no second write')
  })

  it('acknowledged lower-epoch history is appended, but where epoch 2 acted, epoch 2 wins over a later clock', async () => {
    // As if A's late writes had been acknowledged (the minority side of a partition).
    const report = await b.mergeForeign(await a.exportAll())
    assert.deepEqual(report.stale, [])
    assert.deepEqual(report.nodesTakenOver, [], 'n1 reports on j1, which epoch 2 took over: its state stays')
    assert.equal((await b.getNode('n1'))?.state, 'commissioning')
    assert.equal((await b.getJob('j1'))?.status, 'running', 'job: the copy of the higher epoch, although the other is finished and later')
    assert.equal(await b.getConfig('shared'), 'epoch 2', 'config: the higher epoch, although the other write is later')
    assert.equal(await b.getConfig('a-only'), 'late epoch 1', 'no conflict: the acknowledged write is kept')
    const events = await b.listEvents({ node: 'n1', afterSeq: 0 })
    assert.deepEqual(events.map(e => e.type), ['discovered', 'commission-requested', 'job-failed', 'reconciled'])
    assertConsistent(await b.exportAll())
  })

  it('between equal epochs the later change still wins (partition rules unchanged)', async () => {
    // A third store of epoch 1 that never saw B: A's later job-failed takes n1 over.
    const dc = await tempDir()
    dirs.push(dc)
    const c = store(dc.path, 1, T0 + 20_000)
    await c.start()
    try {
      await c.importAll(beforeLate)
      const report = await c.mergeForeign(await a.exportAll())
      assert.deepEqual(report.nodesTakenOver, ['n1'])
      assert.equal((await c.getNode('n1'))?.state, 'commission-failed')
      assert.equal((await c.getJob('j1'))?.status, 'failed')
    } finally {
      await c.stop()
    }
  })
})
