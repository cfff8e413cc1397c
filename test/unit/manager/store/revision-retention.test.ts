/**
 * Retention of configuration revisions (manager/store/revision-retention.ts): the pure choice
 * of what stays (newest K, those a node record or an unfinished job names), and the store on
 * real LevelDB pruning headers and unshared files in bounded replicated steps, never leaving a
 * header without its files, reloading clean and never reusing a number.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { pino } from 'pino'
import { ManagerStore } from '../../../../manager/store/index.js'
import { DEFAULT_RETENTION, type RetentionPolicy } from '../../../../manager/store/retention.js'
import { referencedRevisions, revisionsToDrop } from '../../../../manager/store/revision-retention.js'
import { retentionPolicy, validateConfigValue } from '../../../../manager/api/config-values.js'
import { sha256Hex } from '../../../../protocol/revisions.js'
import { fakeClock, job, prunePass, tempDir } from './fixture.js'

const silent = pino({ level: 'silent' })
const policy = (revisionsMaxCount: number): RetentionPolicy => ({ ...DEFAULT_RETENTION, revisionsMaxCount })

/** A whole pruning pass; how many keys it deleted. */
async function fullPass (store: ManagerStore, p: RetentionPolicy, maxOps: number, afterStep?: () => Promise<void>): Promise<number> {
  return (await prunePass(store, p, maxOps, afterStep)).reduce((x, y) => x + y, 0)
}

/** Revision `n`'s files: one shared by every revision, one of its own. */
function files (n: number): Array<{ path: string, content: Buffer }> {
  return [
    { path: 'roles.yaml', content: Buffer.from('roles: []\n') },
    { path: `playbooks/p${n}.yml`, content: Buffer.from(`- hosts: all # ${n}\n`) }
  ]
}

/** Every stored revision has every file it lists. */
async function everyHeaderWhole (store: ManagerStore): Promise<void> {
  for (const info of await store.listRevisions()) {
    for (const f of info.files) assert.ok(await store.readRevisionBlob(f.sha256) !== undefined, `revision ${info.revision} lacks ${f.path}`)
  }
}

describe('revision retention: what stays (pure)', () => {
  it('names the revisions of node records and of queued, running and paused jobs, not of finished ones', () => {
    const jobs = [
      job('q', ['a'], { status: 'queued', revision: 3 }),
      job('r', ['a'], { status: 'running', nodeRevisions: { a: 4, b: 5 } }),
      job('p', ['a'], { status: 'paused', revision: 6 }),
      job('done', ['a'], { status: 'succeeded', revision: 7 }),
      job('failed', ['a'], { status: 'failed', revision: 8 }),
      job('old', ['a'], { status: 'queued' })
    ]
    assert.deepEqual([...referencedRevisions([1, null, 2, 1, undefined], jobs)].sort((x, y) => x - y), [1, 2, 3, 4, 5, 6])
  })

  it('drops all but the newest K, oldest first, keeping referenced ones and always the newest', () => {
    assert.deepEqual(revisionsToDrop([1, 2, 3, 4, 5, 6], 2, new Set([2])), [1, 3, 4])
    assert.deepEqual(revisionsToDrop([6, 1, 5, 3], 10, new Set()), [])
    assert.deepEqual(revisionsToDrop([1, 2, 3], 0, new Set()), [1, 2], 'a count below one still keeps the newest')
    assert.deepEqual(revisionsToDrop([], 1, new Set()), [])
  })

  it('the config key: a count from 1, default 50, into the policy', () => {
    assert.equal(validateConfigValue('retention.revisions.max-count', '20'), 20)
    for (const bad of ['0', '-1', '2.5', 'all']) assert.throws(() => validateConfigValue('retention.revisions.max-count', bad), bad)
    assert.equal(retentionPolicy(() => undefined).revisionsMaxCount, 50)
    assert.equal(retentionPolicy(k => k === 'retention.revisions.max-count' ? 20 : undefined).revisionsMaxCount, 20)
  })
})

describe('revision retention (real LevelDB)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let replicaDir: Awaited<ReturnType<typeof tempDir>>
  beforeEach(async () => { dir = await tempDir(); replicaDir = await tempDir() })
  afterEach(async () => { await dir.cleanup(); await replicaDir.cleanup() })

  it('keeps the newest K and what nodes and unfinished jobs name; drops the rest with their own files, in bounded replicated steps', async () => {
    const replica = new ManagerStore({ logger: silent }, { path: replicaDir.path })
    await replica.start()
    const store = new ManagerStore({ logger: silent, now: fakeClock(), afterCommit: async b => { const r = await replica.applyReplicated(b); assert.ok('ok' in r, 'the replica takes every pruning batch') } }, { path: dir.path })
    await store.start()
    for (let n = 1; n <= 10; n++) assert.equal((await store.addRevision({ files: files(n), roles: [], author: 'op@host', message: `r${n}` })).info.revision, n)
    await store.upsertNode({ name: 'web1', peerId: 'p1', reachable: true })
    await store.noteNode('web1', { type: 'drift-checked', actor: 'operator', applied: { revision: 2 } })
    await store.putJob(job('rollout', ['web1'], { status: 'paused', revision: 4 }))
    await store.putJob(job('finished', ['web1'], { status: 'succeeded', finishedAt: '2026-01-01T00:00:00.000Z', revision: 5 }))

    const deleted = await fullPass(store, policy(3), 3, async () => { await everyHeaderWhole(store) })
    assert.deepEqual((await store.listRevisions()).map(r => r.revision), [2, 4, 8, 9, 10])
    assert.equal(deleted, 2 * 5, 'five headers (1, 3, 5, 6, 7) and each one\'s own file')
    assert.equal(await store.readRevisionBlob(sha256Hex(files(1)[1]?.content ?? Buffer.alloc(0))), undefined, 'a pruned revision\'s own file is gone')
    assert.ok(await store.readRevisionBlob(sha256Hex(files(1)[0]?.content ?? Buffer.alloc(0))) !== undefined, 'a file kept revisions share stays')
    assert.deepEqual(await replica.exportAll(), await store.exportAll(), 'the replica forgot the same keys')
    assert.equal(await fullPass(store, policy(3), 3), 0, 'a second pass finds nothing')

    // Once the rollout is over and the node moves on, their revisions go too.
    await store.putJob(job('rollout', ['web1'], { status: 'succeeded', finishedAt: '2026-01-01T00:00:00.000Z', revision: 4 }))
    await store.noteNode('web1', { type: 'drift-checked', actor: 'operator', applied: { revision: 10 } })
    await fullPass(store, policy(3), 500)
    assert.deepEqual((await store.listRevisions()).map(r => r.revision), [8, 9, 10])
    assert.equal((await store.addRevision({ files: files(11), roles: [], author: 'op@host', message: 'r11' })).info.revision, 11, 'numbers are never reused')
    await store.stop()
    await replica.stop()

    const again = new ManagerStore({ logger: silent }, { path: dir.path })
    await again.start()
    assert.deepEqual((await again.listRevisions()).map(r => r.revision), [8, 9, 10, 11])
    await everyHeaderWhole(again)
    await again.stop()
  })

  it('a revision pruned here comes back by a merge and goes again on the next pass', async () => {
    const store = new ManagerStore({ logger: silent, now: fakeClock() }, { path: dir.path })
    await store.start()
    for (let n = 1; n <= 4; n++) await store.addRevision({ files: files(n), roles: [], author: 'op@host', message: `r${n}` })
    const copy = await store.exportAll() // another lineage still holding every revision
    await fullPass(store, policy(2), 500)
    assert.deepEqual((await store.listRevisions()).map(r => r.revision), [3, 4])
    await store.mergeForeign(copy)
    await everyHeaderWhole(store)
    await fullPass(store, policy(2), 500)
    assert.deepEqual((await store.listRevisions()).map(r => r.revision), [3, 4])
    await everyHeaderWhole(store)
    await store.stop()
  })
})
