// Merging another lineage's store (a healed partition): two real LevelDB stores share a
// history, diverge, and one merges the other's export. Nothing either side wrote may be lost.

import { after, afterEach, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { ManagerStore } from '../../../../manager/store/index.js'
import type { LifecycleEvent } from '../../../../protocol/nodes.js'
import { assertConsistent, fakeClock, job, newStore, tempDir } from './fixture.js'

const T0 = Date.parse('2026-03-01T00:00:00.000Z')
const operator = { actor: 'operator' as const }

describe('ManagerStore.mergeForeign (partition heal)', () => {
  const dirs: Array<Awaited<ReturnType<typeof tempDir>>> = []
  let survivor: ManagerStore // the manager that stays (higher epoch)
  let deposed: ManagerStore // the other side's manager

  beforeEach(async () => {
    const [a, b] = [await tempDir(), await tempDir()]
    dirs.push(a, b)
    // Shared history, then the stores diverge; the deposed side's clock runs later, so its
    // conflicting writes are the newer ones.
    survivor = newStore(a.path, fakeClock(T0))
    await survivor.start()
    await survivor.upsertNode({ name: 'n1', peerId: 'p1', reachable: true })
    await survivor.setConfig('x', 1)
    await survivor.setConfig('shared', 'before')
    deposed = newStore(b.path, fakeClock(T0 + 60_000))
    await deposed.start()
    await deposed.importAll(await survivor.exportAll())
  })

  afterEach(async () => {
    await survivor.stop()
    await deposed.stop()
  })

  after(async () => {
    for (const d of dirs) await d.cleanup()
  })

  async function diverge (): Promise<void> {
    await survivor.upsertNode({ name: 'n3', peerId: 'p3', reachable: true })
    await survivor.setConfig('shared', 'survivor')
    await survivor.setConfig('x', undefined)
    await survivor.putJob(job('j-s', ['n3'], { status: 'succeeded', finishedAt: new Date(T0 + 10).toISOString() }))
    await survivor.appendJobEvents('j-s', [{ kind: 'status', message: 'done on the survivor' }])

    await deposed.upsertNode({ name: 'n2', peerId: 'p2', reachable: true })
    await deposed.applyTransition('n1', { type: 'COMMISSION', jobId: 'j-d', roles: ['web'], vars: {} }, operator)
    await deposed.setConfig('shared', 'deposed')
    await deposed.setConfig('deposed-only', { on: true })
    await deposed.putJob(job('j-d', ['n1'], { status: 'running', startedAt: new Date(T0 + 60_010).toISOString() }))
    await deposed.appendJobEvents('j-d', [{ kind: 'status', message: 'started on the deposed side' }, { kind: 'precheck', node: 'n1', message: 'ok' }])
  }

  it('brings in every change of the other side and keeps every change of its own', async () => {
    await diverge()
    const report = await survivor.mergeForeign(await deposed.exportAll())

    assert.deepEqual(report.nodesAdded, ['n2'])
    assert.deepEqual(report.nodesTakenOver, ['n1'], 'the deposed side operated n1 last: its state wins')
    assert.deepEqual(report.jobsAdded, ['j-d'])
    assert.deepEqual(report.activeJobs, ['j-d'], 'an unfinished job from the other side is reported for the job runner')
    assert.deepEqual(report.config.sort(), ['deposed-only', 'shared'])

    assert.equal((await survivor.getNode('n1'))?.state, 'commissioning')
    assert.equal((await survivor.getNode('n1'))?.currentJob, 'j-d')
    assert.equal((await survivor.getNode('n2'))?.state, 'discovered')
    assert.equal((await survivor.getNode('n3'))?.state, 'discovered', 'our own node stays')
    assert.equal(await survivor.getConfig('shared'), 'deposed', 'the later write wins')
    assert.deepEqual(await survivor.getConfig('deposed-only'), { on: true })
    assert.equal(await survivor.getConfig('x'), undefined, 'our later deletion stands against their older value')
    assert.equal((await survivor.getJob('j-s'))?.status, 'succeeded')
    assert.equal((await survivor.getJob('j-d'))?.status, 'running')
    assert.deepEqual((await survivor.listJobEvents('j-d')).map(e => e.message), ['started on the deposed side', 'ok'])

    const n1 = await survivor.listEvents({ node: 'n1', afterSeq: 0 })
    assert.deepEqual(n1.map(e => [e.seq, e.type]), [[1, 'discovered'], [2, 'commission-requested']])
    const all = await survivor.listEvents({ afterSeq: 0 })
    assert.deepEqual(all.map((e: LifecycleEvent) => e.node).sort(), ['n1', 'n1', 'n2', 'n3'], 'the global log holds both sides once')
    assertConsistent(await survivor.exportAll())

    // The survivor's state survives a restart (the merge is one durable write).
    await survivor.stop()
    await survivor.start()
    assert.equal(await survivor.getConfig('shared'), 'deposed')
    assertConsistent(await survivor.exportAll())
  })

  it('is idempotent: merging the same state (or a replica of it) again changes nothing', async () => {
    await diverge()
    const copy = await deposed.exportAll()
    await survivor.mergeForeign(copy)
    const revision = survivor.revision
    const before = await survivor.exportAll()
    const again = await survivor.mergeForeign(copy)
    assert.deepEqual(again, { nodesAdded: [], nodesTakenOver: [], lifecycleEvents: 0, jobsAdded: [], jobsUpdated: [], jobEvents: 0, config: [], activeJobs: [], stale: [] })
    assert.equal(survivor.revision, revision, 'no write')
    assert.deepEqual(await survivor.exportAll(), before)
  })

  it('merging a state that is behind ours (an ordinary lagging replica) changes nothing', async () => {
    const lagging = await survivor.exportAll()
    await survivor.setConfig('newer', 1)
    const report = await survivor.mergeForeign(lagging)
    assert.equal(report.lifecycleEvents + report.config.length + report.nodesAdded.length + report.jobsAdded.length, 0)
    assert.equal(await survivor.getConfig('newer'), 1)
  })

  it('keeps our node state when our last lifecycle event is the later one, but still appends their events', async () => {
    await deposed.setConfig('noise', 1)
    await deposed.applyTransition('n1', { type: 'SET_VARS', vars: { a: '1' } }, operator)
    // Our own later change to n1 (our clock jumps past theirs).
    const late = newStore(dirs[0]?.path as string, fakeClock(T0 + 3_600_000))
    await survivor.stop()
    await late.start()
    await late.applyTransition('n1', { type: 'COMMISSION', jobId: 'j-late', roles: ['web'], vars: {} }, operator)
    const report = await late.mergeForeign(await deposed.exportAll())
    assert.deepEqual(report.nodesTakenOver, [])
    assert.equal(report.lifecycleEvents, 1)
    const n1 = await late.getNode('n1')
    assert.equal(n1?.state, 'commissioning')
    const events = await late.listEvents({ node: 'n1', afterSeq: 0 })
    assert.deepEqual(events.map(e => e.type), ['discovered', 'commission-requested', 'vars-set', 'reconciled'])
    assert.deepEqual([events[3]?.from, events[3]?.to, events[3]?.actor], ['discovered', 'commissioning', 'partition-merge'])
    assert.equal((await late.mergeForeign(await deposed.exportAll())).lifecycleEvents, 0, 'a second merge adds nothing (not even another reconciled event)')
    assertConsistent(await late.exportAll())
    survivor = late
  })

  it('rejects a malformed foreign state before writing anything', async () => {
    const revision = survivor.revision
    const bad = (await deposed.exportAll()).map(e => e.key === 'n!n1' ? { ...e, value: { record: { name: 'other' } } } : e)
    await assert.rejects(survivor.mergeForeign(bad), /import rejected|invalid/)
    await assert.rejects(survivor.mergeForeign([{ key: 'zz!x', value: 1 }]), /import rejected/)
    assert.equal(survivor.revision, revision)
  })
})
