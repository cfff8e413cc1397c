/**
 * `GET /v1/backup`: a consistent snapshot of the manager store as an NDJSON stream
 * (protocol/backup-format.ts): a start item with the snapshot's revision and this manager,
 * chunks of entries in key order, an end item with the count. It reads one LevelDB iterator
 * opened once every staged write is durable (the replication snapshot's code), so the stream
 * is one revision however long it takes and writes go on meanwhile; memory is one chunk.
 */

import type { ApiHandler } from '../../protocol/api-handler.js'
import { BACKUP_CHUNK_BYTES, type BackupEntry, type BackupSource, type BackupStreamItem } from '../../protocol/backup-format.js'
import { ClusterdError } from '../../protocol/errors.js'

/** What the route reads: the store's snapshot (ManagerStore.openSnapshot) and who this manager is. */
export interface BackupSnapshots {
  openSnapshot: (maxBytes: number) => Promise<{ revision: number, chunks: AsyncGenerator<BackupEntry[]> }>
  source: () => BackupSource
  now?: () => Date
}

/** The handler of `GET /v1/backup`; without `c` (a manager built without one) it answers unavailable. */
export function backupRoute (c: BackupSnapshots | undefined): ApiHandler {
  return async ({ signal }) => {
    if (c === undefined) throw new ClusterdError('CLUSTERD_ERR_UNAVAILABLE', 'this manager cannot take backups')
    const snap = await c.openSnapshot(BACKUP_CHUNK_BYTES)
    const start: BackupStreamItem = { backup: 'start', revision: snap.revision, createdAt: (c.now?.() ?? new Date()).toISOString(), source: c.source() }
    return items(start, snap.chunks, signal)
  }
}

async function * items (start: BackupStreamItem, chunks: AsyncGenerator<BackupEntry[]>, signal: AbortSignal): AsyncGenerator<BackupStreamItem> {
  let count = 0
  try {
    yield start
    for await (const entries of chunks) {
      if (signal.aborted) return
      count += entries.length
      if (entries.length > 0) yield { backup: 'entries', entries }
    }
    yield { backup: 'end', entries: count }
  } finally {
    // Closes the LevelDB iterator when the client went away mid-stream.
    await chunks.return(undefined)
  }
}
