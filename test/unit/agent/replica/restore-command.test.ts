// `clusterd store restore`: a backup taken from a real store (its consistent snapshot, as
// GET /v1/backup sends it) restores into a data directory as the same state, the store that
// was there moved aside; every refusal (damaged, truncated, foreign, an invalid store behind a
// valid checksum, a store in use) changes nothing in the data directory. The clusterd binary
// exits 65 for a refused backup.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { pino } from 'pino'
import { BEFORE_RESTORE_PREFIX, restoreStore } from '../../../../agent/replica/restore-command.js'
import { AWAITING_SNAPSHOT_MARKER } from '../../../../agent/replica/store-recovery.js'
import { ManagerStore, type StoreEntry } from '../../../../manager/store/index.js'
import { encodeBackup } from '../../../../protocol/backup-format.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import { job } from '../../manager/store/fixture.js'

const logger = pino({ level: 'silent' })
const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../../../..')
const SOURCE = { peerId: '12D3KooWSource', epoch: 4 }

/** A populated store's consistent snapshot, encoded as `clusterctl backup` writes it. */
async function backupOf (path: string): Promise<{ text: string, entries: StoreEntry[], revision: number }> {
  const store = new ManagerStore({ logger }, { path, epoch: 4 })
  await store.start()
  await store.upsertNode({ name: 'n1', peerId: 'p1', reachable: true })
  await store.upsertNode({ name: 'n2', peerId: 'p2', reachable: false })
  await store.putJob(job('j-1', ['n1'], { status: 'succeeded' }))
  await store.appendJobEvents('j-1', [{ kind: 'status', message: 'job succeeded' } as never])
  await store.setConfig('on-return', 'none')
  const snap = await store.openSnapshot(64)
  const entries: StoreEntry[] = []
  for await (const chunk of snap.chunks) entries.push(...chunk)
  await store.stop()
  return { text: encodeBackup({ revision: snap.revision, createdAt: '2026-12-06T10:00:00.000Z', source: SOURCE }, entries), entries, revision: snap.revision }
}

async function exported (path: string): Promise<StoreEntry[]> {
  const store = new ManagerStore({ logger }, { path })
  await store.start()
  try {
    return await store.exportAll()
  } finally {
    await store.stop()
  }
}

describe('clusterd store restore', () => {
  let dir: string
  let dataDir: string
  let backup: Awaited<ReturnType<typeof backupOf>>
  let file: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterd-restore-'))
    dataDir = join(dir, 'data')
    backup = await backupOf(join(dir, 'source'))
    file = join(dir, 'cluster.backup')
    await writeFile(file, backup.text, { mode: 0o600 })
    // The node's own store: other state, which the restore replaces but keeps aside.
    const own = new ManagerStore({ logger }, { path: join(dataDir, 'manager') })
    await own.start()
    await own.upsertNode({ name: 'other', peerId: 'px', reachable: true })
    await own.stop()
  })

  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  const snapshotOfDataDir = async (): Promise<{ names: string[], store: StoreEntry[] }> =>
    ({ names: (await readdir(dataDir)).sort(), store: await exported(join(dataDir, 'manager')) })

  it('restores the snapshot as the same state and moves the store that was there aside', async () => {
    const ownBefore = await exported(join(dataDir, 'manager'))
    await writeFile(join(dataDir, AWAITING_SNAPSHOT_MARKER), '{"since":"x","reason":"y","damaged":null}\n')
    const lines = await restoreStore(logger, { dataDir, file, now: () => new Date('2026-12-06T11:00:00.000Z') })
    assert.match(lines[0] ?? '', new RegExp(`revision ${backup.revision}, ${backup.entries.length} entries`))
    assert.deepEqual(await exported(join(dataDir, 'manager')), backup.entries, 'the restored store holds exactly the snapshot')
    const aside = join(dataDir, `${BEFORE_RESTORE_PREFIX}2026-12-06T110000.000Z`)
    assert.deepEqual(await exported(aside), ownBefore, 'the previous store is kept, not deleted')
    assert.deepEqual((await readdir(dataDir)).sort(), ['manager', `${BEFORE_RESTORE_PREFIX}2026-12-06T110000.000Z`], 'no temporary directory, no awaiting-snapshot marker left')
    // The restored store opens at the backup's revision, with no lineage (it follows no manager yet).
    const store = new ManagerStore({ logger }, { path: join(dataDir, 'manager') })
    await store.start()
    assert.equal(store.revision, backup.revision)
    assert.equal(await store.lineage(), null)
    assert.deepEqual((await store.listNodes()).map(n => n.name), ['n1', 'n2'])
    assert.equal((await store.getJob('j-1'))?.status, 'succeeded')
    await store.stop()
  })

  it('moves aside a store too damaged to open (it is no one\'s) and restores', async () => {
    // Acknowledged writes lost: the store refuses to open as CLUSTERD_ERR_STORE_CORRUPT.
    await writeFile(join(dataDir, 'manager', 'CLUSTERD-REVISION'), JSON.stringify({ revision: 999_999, at: '2026-12-06T09:00:00.000Z' }))
    await assert.rejects(new ManagerStore({ logger }, { path: join(dataDir, 'manager') }).start(), /acknowledged writes were lost/)
    const lines = await restoreStore(logger, { dataDir, file })
    assert.match(lines[1] ?? '', new RegExp(`kept at .*${BEFORE_RESTORE_PREFIX}`))
    assert.deepEqual(await exported(join(dataDir, 'manager')), backup.entries)
  })

  it('restores into a data directory without a store', async () => {
    const fresh = join(dir, 'fresh')
    const lines = await restoreStore(logger, { dataDir: fresh, file })
    assert.match(lines[1] ?? '', /no store here before/)
    assert.deepEqual(await exported(join(fresh, 'manager')), backup.entries)
  })

  const refusals: Array<[string, (text: string) => string | Buffer, string, RegExp]> = [
    ['a changed byte', t => t.replace('"n1"', '"m1"'), 'CLUSTERD_ERR_BACKUP_DAMAGED', /checksum mismatch/],
    ['a truncated file', t => t.slice(0, Math.floor(t.length * 0.7)), 'CLUSTERD_ERR_BACKUP_DAMAGED', /truncated/],
    ['a file cut at a line end', t => t.slice(0, t.lastIndexOf('\n', t.length - 2) + 1), 'CLUSTERD_ERR_BACKUP_DAMAGED', /truncated/],
    ['another version', t => t.replace('"version":1', '"version":9'), 'CLUSTERD_ERR_BACKUP_FOREIGN', /version 9 is not supported/],
    ['not a backup', () => 'SQLite format 3\u0000', 'CLUSTERD_ERR_BACKUP_FOREIGN', /not a clusterd backup/],
    ['an empty file', () => '', 'CLUSTERD_ERR_BACKUP_DAMAGED', /empty/]
  ]
  for (const [what, damage, code, reason] of refusals) {
    it(`refuses ${what} with ${code} and changes nothing`, async () => {
      const before = await snapshotOfDataDir()
      await writeFile(file, damage(backup.text))
      await assert.rejects(restoreStore(logger, { dataDir, file }), (err: unknown) => {
        assert.ok(err instanceof ClusterdError, String(err))
        assert.equal(err.code, code)
        assert.match(err.message, reason)
        assert.match(err.message, /nothing was changed/)
        return true
      })
      assert.deepEqual(await snapshotOfDataDir(), before)
    })
  }

  it('refuses a valid checksum around an invalid store (a node without its event) and changes nothing', async () => {
    const before = await snapshotOfDataDir()
    const entries = backup.entries.filter(e => !e.key.startsWith('x!n1!'))
    await writeFile(file, encodeBackup({ revision: backup.revision, createdAt: '2026-12-06T10:00:00.000Z', source: SOURCE }, entries))
    await assert.rejects(restoreStore(logger, { dataDir, file }), /CLUSTERD_ERR_BACKUP_DAMAGED|does not hold a valid manager store/)
    // The header's revision must be the store's.
    await writeFile(file, encodeBackup({ revision: backup.revision + 1, createdAt: '2026-12-06T10:00:00.000Z', source: SOURCE }, backup.entries))
    await assert.rejects(restoreStore(logger, { dataDir, file }), /header says revision/)
    assert.deepEqual(await snapshotOfDataDir(), before)
  })

  it('refuses while the agent holds the store (its LevelDB lock) and changes nothing', async () => {
    const names = (await readdir(dataDir)).sort()
    const held = new ManagerStore({ logger }, { path: join(dataDir, 'manager') })
    await held.start()
    try {
      await assert.rejects(restoreStore(logger, { dataDir, file }), (err: unknown) => {
        assert.ok(err instanceof ClusterdError)
        assert.equal(err.code, 'CLUSTERD_ERR_STORE_UNAVAILABLE')
        assert.match(err.message, /in use by another process.*stop the agent on this node first/)
        return true
      })
      assert.deepEqual((await readdir(dataDir)).sort(), names)
      assert.deepEqual((await held.listNodes()).map(n => n.name), ['other'])
    } finally {
      await held.stop()
    }
  })

  it('the clusterd binary: exit 65 and one line naming the code for a refused backup, exit 0 for a good one', async () => {
    const run = async (f: string): Promise<{ code: number, stdout: string, stderr: string }> => {
      try {
        const r = await promisify(execFile)(process.execPath, [join(REPO, 'bin/clusterd.js'), 'store', 'restore', f, '--data-dir', dataDir])
        return { code: 0, stdout: r.stdout, stderr: r.stderr }
      } catch (err: any) {
        return { code: err.code, stdout: err.stdout, stderr: err.stderr }
      }
    }
    const bad = join(dir, 'bad.backup')
    await writeFile(bad, backup.text.replace('"n2"', '"n3"'))
    const refused = await run(bad)
    assert.equal(refused.code, 65, refused.stderr)
    assert.match(refused.stderr, /^clusterd: backup .* refused: checksum mismatch.*\(CLUSTERD_ERR_BACKUP_DAMAGED\)\n$/)
    const ok = await run(file)
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /restored manager store/)
    assert.equal(await readFile(join(dataDir, 'manager', 'CLUSTERD-REVISION'), 'utf8').then(t => JSON.parse(t).revision), backup.revision)
  })
})
