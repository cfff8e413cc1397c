// GET /v1/backup on a real store: the stream is one consistent revision even while writes go
// on between its chunks, and a client that stops reading releases the snapshot.

import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { backupRoute } from '../../../../manager/api/backup-route.js'
import type { ManagerStore, StoreEntry } from '../../../../manager/store/index.js'
import type { BackupStreamItem } from '../../../../protocol/backup-format.js'
import { newStore, tempDir } from '../store/fixture.js'

describe('GET /v1/backup', () => {
  let store: ManagerStore
  let cleanup: () => Promise<void>

  beforeEach(async () => {
    const t = await tempDir()
    cleanup = t.cleanup
    store = newStore(t.path)
    await store.start()
    for (let i = 0; i < 200; i++) await store.upsertNode({ name: `n${String(i).padStart(3, '0')}`, peerId: `p${i}`, reachable: true })
  })
  afterEach(async () => {
    await store.stop()
    await cleanup()
  })

  const route = (chunkBytes?: number): ReturnType<typeof backupRoute> => backupRoute({
    openSnapshot: async max => await store.openSnapshot(chunkBytes ?? max),
    source: () => ({ peerId: 'me', epoch: 2 }),
    now: () => new Date('2026-12-06T10:00:00.000Z')
  })

  it('streams start, entries in chunks, end: exactly the store at the start revision, though writes go on meanwhile', async () => {
    const expected = await store.exportAll()
    const items = await route(4096)({ params: {}, query: {}, body: undefined, signal: new AbortController().signal }) as AsyncIterable<BackupStreamItem>
    const got: BackupStreamItem[] = []
    for await (const item of items) {
      got.push(item)
      // A write between every chunk: none of them may show up in this snapshot.
      await store.upsertNode({ name: `late${got.length}`, peerId: `q${got.length}`, reachable: true })
    }
    const start = got[0]
    assert.deepEqual(start, { backup: 'start', revision: expected.find(e => e.key === 'm!revision')?.value, createdAt: '2026-12-06T10:00:00.000Z', source: { peerId: 'me', epoch: 2 } })
    const chunks = got.filter(i => i.backup === 'entries')
    assert.ok(chunks.length > 3, `several chunks (${chunks.length})`)
    const entries: StoreEntry[] = chunks.flatMap(c => c.backup === 'entries' ? c.entries : [])
    assert.deepEqual(entries, expected)
    assert.deepEqual(got.at(-1), { backup: 'end', entries: expected.length })
    assert.ok(store.revision > (start?.backup === 'start' ? start.revision : 0), 'the writes did happen')
  })

  it('a client that goes away mid-stream closes the snapshot: the store still stops cleanly', async () => {
    const items = await route(1024)({ params: {}, query: {}, body: undefined, signal: new AbortController().signal }) as AsyncGenerator<BackupStreamItem>
    await items.next()
    await items.next()
    await items.return(undefined)
    await store.upsertNode({ name: 'after', peerId: 'pa', reachable: true })
  })

  it('answers unavailable on a manager built without snapshots', async () => {
    await assert.rejects(backupRoute(undefined)({ params: {}, query: {}, body: undefined, signal: new AbortController().signal }), /CLUSTERD_ERR_UNAVAILABLE|cannot take backups/)
  })
})
