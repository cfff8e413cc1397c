import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { pino } from 'pino'
import { ManagerStore } from '../../../../manager/store/index.js'
import { DEFAULT_RETENTION, jobsToDrop, type RetentionPolicy } from '../../../../manager/store/retention.js'
import { Pruner } from '../../../../manager/retention/pruner.js'
import { parseDurationS, retentionPolicy, validateConfigValue } from '../../../../manager/api/config-values.js'
import type { ReplicationBatch } from '../../../../protocol/replication-wire.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import { job, prunePass as fullPass, tempDir } from './fixture.js'
import { waitFor } from '../../../harness/poll.js'

const silent = pino({ level: 'silent' })
const DAY = 86_400_000

/** A clock the test moves by hand. */
function manualClock (start = Date.parse('2026-01-01T00:00:00.000Z')): { now: () => Date, advance: (ms: number) => void } {
  let t = start
  return { now: () => new Date(t++), advance: ms => { t += ms } }
}

const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ ...DEFAULT_RETENTION, ...p })

/** Add `n` no-transition events to `node`. */
async function notes (store: ManagerStore, node: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await store.noteNode(node, { type: 'drift-checked', actor: 'operator', reason: `check ${i}` })
}

describe('retention (real LevelDB)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let replicaDir: Awaited<ReturnType<typeof tempDir>>
  beforeEach(async () => { dir = await tempDir(); replicaDir = await tempDir() })
  afterEach(async () => { await dir.cleanup(); await replicaDir.cleanup() })

  it('keeps max-per-node lifecycle events per node, always the newest, in bounded writes; the store reloads clean', async () => {
    const batches: ReplicationBatch[] = []
    const store = new ManagerStore({ logger: silent, now: manualClock().now, afterCommit: async b => { batches.push(structuredClone(b)) } }, { path: dir.path })
    await store.start()
    for (const name of ['a', 'b', 'c']) await store.upsertNode({ name, peerId: `p-${name}`, reachable: true })
    await notes(store, 'a', 40)
    await notes(store, 'b', 3)
    const before = batches.length
    const steps = await fullPass(store, policy({ eventsMaxPerNode: 5 }), 10)
    assert.equal(steps.reduce((x, y) => x + y, 0), 2 * 36, 'a loses 36 events, each in both logs')
    for (const b of batches.slice(before)) assert.ok(b.ops.filter(o => o.type === 'del').length <= 10, 'no step writes more than maxOps deletes')
    const a = await store.listEvents({ node: 'a' })
    assert.deepEqual(a.map(e => e.seq), [37, 38, 39, 40, 41])
    assert.equal((await store.listEvents({ node: 'b' })).length, 4, 'b is under the limit')
    assert.equal((await store.listEvents({ node: 'c' })).length, 1)
    const global = await store.listEvents({ limit: 1000 })
    assert.equal(global.length, 5 + 4 + 1, 'the global log lost the same events')
    assert.deepEqual(await fullPass(store, policy({ eventsMaxPerNode: 5 })), [0], 'a second pass finds nothing')
    await store.stop()
    const again = new ManagerStore({ logger: silent }, { path: dir.path })
    await again.start() // loadState checks the newest event of every node and the end of the global log
    assert.equal((await again.getNode('a'))?.state, 'discovered')
    await again.stop()
  })

  it('prunes lifecycle events by age but never a node\'s newest one', async () => {
    const clock = manualClock()
    const store = new ManagerStore({ logger: silent, now: clock.now }, { path: dir.path })
    await store.start()
    await store.upsertNode({ name: 'old', peerId: 'p1', reachable: true })
    await notes(store, 'old', 4)
    clock.advance(100 * DAY)
    await store.upsertNode({ name: 'new', peerId: 'p2', reachable: true })
    await notes(store, 'new', 2)
    await fullPass(store, policy({ eventsMaxAgeS: 90 * 86_400 }))
    assert.deepEqual((await store.listEvents({ node: 'old' })).map(e => e.seq), [5], 'only its newest event is left')
    assert.equal((await store.listEvents({ node: 'new' })).length, 3)
    await store.stop()
  })

  it('prunes a forgotten name\'s events by count and age too, its last one once old, but never the end of the global log', async () => {
    const clock = manualClock()
    const store = new ManagerStore({ logger: silent, now: clock.now }, { path: dir.path })
    await store.start()
    for (const name of ['gone', 'gone-too', 'kept']) await store.upsertNode({ name, peerId: `p-${name}`, reachable: false })
    await notes(store, 'gone', 9)
    await store.forgetNode('gone', { actor: 'operator' })
    await notes(store, 'kept', 2)
    await store.forgetNode('gone-too', { actor: 'operator' }) // the newest event of the whole log
    await fullPass(store, policy({ eventsMaxPerNode: 3 }), 4)
    assert.deepEqual((await store.listEvents({ node: 'gone' })).map(e => e.type), ['drift-checked', 'drift-checked', 'forgotten'], 'count applies to a forgotten name')
    clock.advance(100 * DAY)
    await store.upsertNode({ name: 'kept', peerId: 'p-kept', reachable: true })
    await store.noteNode('kept', { type: 'returned', actor: 'membership', reason: 'back' })
    await fullPass(store, policy({ eventsMaxAgeS: 90 * 86_400 }))
    assert.deepEqual(await store.listEvents({ node: 'gone' }), [], 'a forgotten name\'s history goes once older than the age limit')
    assert.deepEqual(await store.listEvents({ node: 'gone-too' }), [])
    assert.deepEqual((await store.listEvents({ node: 'kept' })).map(e => e.type), ['returned'], 'a recorded node keeps its newest')
    await store.forgetNode('kept', { actor: 'operator' })
    clock.advance(100 * DAY)
    await fullPass(store, policy({ eventsMaxAgeS: 90 * 86_400 }))
    assert.deepEqual((await store.listEvents({ limit: 10 })).map(e => `${e.node} ${e.type}`), ['kept forgotten'], 'the end of the global log stays')
    await store.stop()
    const again = new ManagerStore({ logger: silent }, { path: dir.path })
    await again.start() // loadState checks that the global log ends at m!gseq
    await again.upsertNode({ name: 'gone', peerId: 'p-new', reachable: true })
    assert.equal((await again.listEvents({ node: 'gone' })).at(-1)?.type, 'discovered', 'the name can be discovered again')
    await again.stop()
  })

  it('drops finished jobs over the count or age with their events, keeps active ones; a pruned job is not found', async () => {
    const clock = manualClock()
    const store = new ManagerStore({ logger: silent, now: clock.now }, { path: dir.path })
    await store.start()
    const t = (d: number): string => new Date(Date.parse('2026-01-01T00:00:00.000Z') + d * DAY).toISOString()
    for (let i = 0; i < 6; i++) {
      await store.putJob(job(`done${i}`, ['n1'], { status: 'succeeded', finishedAt: t(i) }))
      await store.appendJobEvents(`done${i}`, Array.from({ length: 7 }, (_, k) => ({ kind: 'status', message: `m${k}` }) as never))
    }
    await store.putJob(job('running', ['n2'], { status: 'running', startedAt: t(0) }))
    clock.advance(10 * DAY)
    await fullPass(store, policy({ jobsMaxCount: 3, jobsMaxAgeS: 365 * 86_400 }), 4)
    assert.deepEqual((await store.listJobs()).map(j => j.id).sort(), ['done3', 'done4', 'done5', 'running'])
    assert.equal(await store.getJob('done0'), undefined)
    assert.deepEqual(await store.listJobEvents('done0'), [], 'its events went too')
    assert.equal((await store.listJobEvents('done5')).length, 7)
    clock.advance(10 * DAY) // now day 20: every finished job is older than 7 days
    await fullPass(store, policy({ jobsMaxCount: 100, jobsMaxAgeS: 7 * 86_400 }))
    assert.deepEqual((await store.listJobs()).map(j => j.id), ['running'], 'finished more than 7 days ago')
    await assert.rejects(store.appendJobEvents('done5', [{ kind: 'status', message: 'late' } as never]),
      (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_JOB_NOT_FOUND')
    await store.stop()
  })

  it('pruning goes through the write path: a replica fed the batches forgets the same history', async () => {
    const replica = new ManagerStore({ logger: silent }, { path: replicaDir.path })
    await replica.start()
    const store = new ManagerStore({ logger: silent, now: manualClock().now, afterCommit: async b => { const r = await replica.applyReplicated(b); assert.ok('ok' in r) } }, { path: dir.path })
    await store.start()
    await store.upsertNode({ name: 'a', peerId: 'p1', reachable: true })
    await notes(store, 'a', 20)
    await store.putJob(job('j1', ['a'], { status: 'failed', finishedAt: '2026-01-01T00:00:00.000Z' }))
    await store.appendJobEvents('j1', [{ kind: 'status', message: 'x' } as never])
    await fullPass(store, policy({ eventsMaxPerNode: 3, jobsMaxAgeS: 60 }), 8)
    assert.deepEqual(await replica.exportAll(), await store.exportAll())
    assert.equal((await replica.listEvents({ node: 'a' })).length, 3)
    await store.stop()
    await replica.stop()
  })

  it('a merge does not bring back events older than the oldest one a pruned log keeps', async () => {
    const clock = manualClock()
    const store = new ManagerStore({ logger: silent, now: clock.now }, { path: dir.path })
    await store.start()
    await store.upsertNode({ name: 'a', peerId: 'p1', reachable: true })
    await notes(store, 'a', 10)
    const copy = await store.exportAll() // another lineage still holding the full log
    await fullPass(store, policy({ eventsMaxPerNode: 4 }))
    const report = await store.mergeForeign(copy)
    assert.equal(report.lifecycleEvents, 0)
    assert.equal((await store.listEvents({ node: 'a' })).length, 4)
    await store.stop()
  })

  it('jobsToDrop orders by finish time and keeps unfinished jobs', () => {
    const now = Date.parse('2026-02-01T00:00:00.000Z')
    const jobs = [
      job('a', ['n'], { status: 'succeeded', finishedAt: '2026-01-30T00:00:00.000Z' }),
      job('b', ['n'], { status: 'failed', finishedAt: '2026-01-31T00:00:00.000Z' }),
      job('c', ['n'], { status: 'cancelled', finishedAt: '2026-01-01T00:00:00.000Z' }),
      job('d', ['n'], { status: 'queued' })
    ]
    assert.deepEqual(jobsToDrop(jobs, policy({ jobsMaxCount: 2 }), now).map(j => j.id), ['c'])
    assert.deepEqual(jobsToDrop(jobs, policy({ jobsMaxCount: 10, jobsMaxAgeS: 86_400 + 1 }), now).map(j => j.id), ['c', 'a'])
  })

  it('the pruner runs passes on its own and reads the policy each pass', async () => {
    const store = new ManagerStore({ logger: silent, now: manualClock().now }, { path: dir.path })
    await store.start()
    await store.upsertNode({ name: 'a', peerId: 'p1', reachable: true })
    await notes(store, 'a', 12)
    let max = 10
    const pruner = new Pruner({ store, logger: silent, policy: async () => policy({ eventsMaxPerNode: max }) }, { firstPassMs: 0, intervalMs: 20 })
    pruner.start()
    const count = async (n: number): Promise<true | undefined> => (await store.listEvents({ node: 'a' })).length === n ? true : undefined
    await waitFor(async () => await count(10), { timeoutMs: 5000, message: 'first pass kept 10 events' })
    max = 2
    await waitFor(async () => await count(2), { timeoutMs: 5000, message: 'a later pass read the new policy' })
    await pruner.stop()
    await store.stop()
  })
})

describe('retention config values', () => {
  it('parses durations and refuses malformed or out-of-range ones', () => {
    assert.equal(parseDurationS('30d'), 30 * 86_400)
    assert.equal(parseDurationS('12h'), 43_200)
    assert.equal(parseDurationS('90m'), 5400)
    assert.equal(parseDurationS('3600'), 3600)
    assert.ok(Number.isNaN(parseDurationS('1w')))
    assert.equal(validateConfigValue('retention.jobs.max-age', '30d'), 2_592_000)
    for (const bad of ['0', '30', '-1d', '1.5d', 'soon', '99999d']) {
      assert.throws(() => validateConfigValue('retention.events.max-age', bad), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_INVALID_ARGUMENT', bad)
    }
    assert.equal(validateConfigValue('retention.jobs.max-count', '250'), 250)
    for (const bad of ['0', '-3', '2.5', 'many', '']) assert.throws(() => validateConfigValue('retention.events.max-per-node', bad), bad)
    assert.equal(validateConfigValue('replication.acks', '3'), 3)
    assert.throws(() => validateConfigValue('replication.acks', '0'))
    assert.throws(() => validateConfigValue('replication.acks', '17'))
  })

  it('builds the policy from stored values, defaults for unset or no longer valid ones', () => {
    const stored: Record<string, unknown> = { 'retention.jobs.max-count': 50, 'retention.events.max-age': 'garbage' }
    assert.deepEqual(retentionPolicy(k => stored[k]), { ...DEFAULT_RETENTION, jobsMaxCount: 50 })
  })
})

