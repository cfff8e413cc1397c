import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { pino } from 'pino'
import { recoverStore } from '../../../../agent/replica/recover-command.js'
import { AWAITING_SNAPSHOT_MARKER, DAMAGED_PREFIX, StoreRecovery, refuseWhileAwaiting, type RecoverableStore } from '../../../../agent/replica/store-recovery.js'
import { ManagerStore } from '../../../../manager/store/index.js'
import { isDiskFull, writeFailure } from '../../../../manager/store/open-db.js'
import { readUnacked, writeUnacked } from '../../../../manager/store/unacked.js'
import { ClusterdError } from '../../../../protocol/errors.js'

const logger = pino({ level: 'silent' })

describe('store recovery: a damaged manager store is moved aside and awaits a snapshot', () => {
  let dataDir: string
  let recovery: StoreRecovery
  let open: () => RecoverableStore
  const opened: RecoverableStore[] = []

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'clusterd-recovery-'))
    recovery = new StoreRecovery({ logger, now: () => new Date('2026-12-02T08:00:00.000Z') }, { dataDir })
    await recovery.load()
    open = recovery.wrap(() => new ManagerStore({ logger }, { path: join(dataDir, 'manager') }))
  })

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.stop().catch(() => {})
    await rm(dataDir, { recursive: true, force: true })
  })

  async function populated (): Promise<ManagerStore> {
    const store = new ManagerStore({ logger }, { path: join(dataDir, 'manager') })
    await store.start()
    await store.upsertNode({ name: 'n1', peerId: 'p1', reachable: true })
    await store.setConfig('on-return', 'none')
    await store.stop()
    return store
  }

  it('a healthy store opens as is and does not await anything', async () => {
    await populated()
    const store = open()
    opened.push(store)
    await store.start()
    assert.equal(recovery.awaitingSnapshot, false)
    assert.ok(store.revision > 0)
  })

  it('a corrupt store is moved to manager.damaged-<time>, a marker is written and an empty store takes its place', async () => {
    await populated()
    // The revision marker says more was acknowledged than the database holds: lost writes.
    await writeFile(join(dataDir, 'manager', 'CLUSTERD-REVISION'), JSON.stringify({ revision: 999, at: 'x' }))
    const store = open()
    opened.push(store)
    await store.start()
    assert.equal(store.revision, 0)
    assert.equal(recovery.awaitingSnapshot, true)
    const names = await readdir(dataDir)
    const damaged = names.find(n => n.startsWith(DAMAGED_PREFIX))
    assert.equal(damaged, `${DAMAGED_PREFIX}2026-12-02T080000.000Z`)
    assert.ok((await readdir(join(dataDir, damaged))).includes('CLUSTERD-REVISION'), 'the damaged files are kept for the operator')
    const marker = JSON.parse(await readFile(join(dataDir, AWAITING_SNAPSHOT_MARKER), 'utf8'))
    assert.match(marker.reason, /lost|damaged|revision/)
    assert.equal(marker.damaged, join(dataDir, damaged))

    // A restart before any snapshot still awaits one.
    await store.stop()
    const again = new StoreRecovery({ logger }, { dataDir })
    await again.load()
    assert.equal(again.awaitingSnapshot, true)

    // A snapshot clears it.
    const source = new ManagerStore({ logger }, { path: join(dataDir, 'source') })
    await source.start()
    await source.upsertNode({ name: 'n9', peerId: 'p9', reachable: true })
    const entries = await source.exportAll()
    await source.stop()
    const replica = again.wrap(() => new ManagerStore({ logger }, { path: join(dataDir, 'manager') }))()
    opened.push(replica)
    await replica.start()
    assert.equal(again.awaitingSnapshot, true)
    await replica.importAll(entries)
    assert.equal(again.awaitingSnapshot, false)
    assert.ok(!(await readdir(dataDir)).includes(AWAITING_SNAPSHOT_MARKER))
    assert.equal(replica.revision, 1)
  })

  it('an unopenable database (CURRENT names a missing manifest) is recovered the same way', async () => {
    await populated()
    await writeFile(join(dataDir, 'manager', 'CURRENT'), 'MANIFEST-999999\n')
    const store = open()
    opened.push(store)
    await store.start()
    assert.equal(recovery.awaitingSnapshot, true)
  })

  it('a store held by another process is not damage: the error passes through and nothing moves', async () => {
    await populated()
    const holder = new ManagerStore({ logger }, { path: join(dataDir, 'manager') })
    await holder.start()
    opened.push(holder)
    const store = open()
    await assert.rejects(store.start(), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_STORE_UNAVAILABLE')
    assert.equal(recovery.awaitingSnapshot, false)
    assert.deepEqual((await readdir(dataDir)).sort(), ['manager'])
  })

  it('clusterd store recover: refuses while the agent holds the store, moves a damaged one aside, and --accept-empty drops the marker', async () => {
    await populated()
    const holder = new ManagerStore({ logger }, { path: join(dataDir, 'manager') })
    await holder.start()
    await assert.rejects(recoverStore(logger, { dataDir, acceptEmpty: false }), (err: unknown) => err instanceof ClusterdError && /stop the agent/.test(err.message))
    await holder.stop()
    assert.match((await recoverStore(logger, { dataDir, acceptEmpty: false }))[0] ?? '', /healthy \(revision 2\)/)
    await writeFile(join(dataDir, 'manager', 'CURRENT'), 'MANIFEST-999999\n')
    const lines = await recoverStore(logger, { dataDir, acceptEmpty: false })
    assert.match(lines.join('\n'), /awaits a snapshot from a replica.*--accept-empty/s)
    assert.ok((await readdir(dataDir)).includes(AWAITING_SNAPSHOT_MARKER))
    const accepted = await recoverStore(logger, { dataDir, acceptEmpty: true })
    assert.match(accepted.join('\n'), /no longer awaits a snapshot.*lost/s)
    assert.ok(!(await readdir(dataDir)).includes(AWAITING_SNAPSHOT_MARKER))
  })

  it('the manager role refuses to start while the store awaits a snapshot, and is built normally after', async () => {
    let built = 0
    const factory = refuseWhileAwaiting(recovery, () => { built++; return { start: async () => {}, stop: async () => {}, routes: () => new Map() } })
    await recovery.moveAside('test damage')
    const refusing = factory({ epoch: 3 })
    await assert.rejects(refusing.start(), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_STORE_CORRUPT' && /awaits a snapshot/.test(err.message))
    await refusing.stop()
    assert.equal(built, 0, 'no manager was built on the empty store')
    await recovery.clear('test')
    await factory({ epoch: 4 }).start()
    assert.equal(built, 1)
  })

  it('passes exportAll and mergeForeign through to the store', async () => {
    await populated()
    const store = open()
    opened.push(store)
    await store.start()
    const before = store.revision
    const mine = await store.exportAll()
    assert.ok(mine.some(e => e.key === 'n!n1'))
    const other = new ManagerStore({ logger }, { path: join(dataDir, 'other') })
    await other.start()
    await other.upsertNode({ name: 'n2', peerId: 'p2', reachable: true })
    const theirs = await other.exportAll()
    await other.stop()
    await store.mergeForeign?.(theirs)
    assert.ok(store.revision > before)
    assert.ok((await store.exportAll()).some(e => e.key === 'n!n2'))
  })

  it('passes the late-writes sidecar through (a pulled replica names its late writes as a replaced manager)', async () => {
    await populated()
    await writeUnacked(join(dataDir, 'manager'), { epoch: 1, newerEpoch: 2, keys: ['c!on-return'] })
    const store = open()
    opened.push(store)
    await store.start()
    assert.deepEqual((await store.unacked?.())?.keys, ['c!on-return'])
    await store.setUnacked?.(null)
    assert.equal(await store.unacked?.(), null)
    assert.equal(await readUnacked(join(dataDir, 'manager')), null)
  })
})

describe('a full disk on a store write', () => {
  it('is recognised from LevelDB and errno errors and becomes CLUSTERD_ERR_STORE_FULL', () => {
    const level = Object.assign(new Error('IO error: /var/lib/clusterd/manager/000005.log: No space left on device'), { code: 'LEVEL_IO_ERROR' })
    assert.equal(isDiskFull(level), true)
    assert.equal(isDiskFull(Object.assign(new Error('write failed'), { code: 'ENOSPC' })), true)
    assert.equal(isDiskFull(new Error('IO error: Permission denied')), false)
    const full = writeFailure(level, '/d/manager')
    assert.equal(full.code, 'CLUSTERD_ERR_STORE_FULL')
    assert.equal(full.status, 507)
    assert.match(full.message, /disk full.*nothing acknowledged is lost/)
    assert.equal(writeFailure(new Error('IO error'), '/d').code, 'CLUSTERD_ERR_STORE_UNAVAILABLE')
  })
})
