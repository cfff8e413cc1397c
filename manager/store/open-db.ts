/**
 * Opening the LevelDB database with errors an operator can act on, and the revision marker
 * that catches writes LevelDB silently dropped.
 */
import { open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { ClusterdError } from '../../protocol/errors.js'
import { REVISION_MARKER_FILE } from './constants.js'

/** The database type the store uses: string keys, JSON text values. */
export type StoreDb = Level<string, string>

/** Open (creating if missing) the database at `path`; throw a ClusterdError that says why not. */
export async function openDb (path: string): Promise<StoreDb> {
  const db = new Level<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  try {
    await db.open()
  } catch (err: any) {
    const cause = err?.cause ?? err
    const detail = `${cause?.code ?? ''} ${cause?.message ?? String(cause)}`.trim()
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new ClusterdError('CLUSTERD_ERR_STORE_UNAVAILABLE', `manager store ${path} is in use by another process (${detail})`, { path })
    }
    if (cause?.code === 'LEVEL_CORRUPTION' || /corrupt/i.test(detail)) {
      throw new ClusterdError('CLUSTERD_ERR_STORE_CORRUPT', `manager store ${path} is damaged: ${detail}`, { path })
    }
    // A CURRENT or MANIFEST that names missing files is damage, not an access problem.
    if (cause?.code === 'LEVEL_IO_ERROR' && /No such file/i.test(detail)) {
      throw new ClusterdError('CLUSTERD_ERR_STORE_CORRUPT', `manager store ${path} is damaged (files missing): ${detail}`, { path })
    }
    throw new ClusterdError('CLUSTERD_ERR_STORE_UNAVAILABLE', `manager store ${path} cannot be opened: ${detail}`, { path })
  }
  return db
}

/** True when a LevelDB or file-system error says the disk (or its quota) is full. */
export function isDiskFull (err: unknown): boolean {
  const e = err as { code?: unknown, message?: unknown, cause?: unknown } | null
  const text = `${String(e?.code ?? '')} ${String(e?.message ?? '')} ${String((e?.cause as { message?: unknown } | undefined)?.message ?? '')}`
  return /ENOSPC|EDQUOT|No space left on device|Disk quota exceeded/i.test(text)
}

/**
 * The error a failed durable write becomes. Nothing of the failed batch was acknowledged; the
 * store refuses later writes (its in-memory view is ahead of the disk) and keeps serving reads.
 */
export function writeFailure (err: unknown, path: string): ClusterdError {
  const detail = (err as Error | null)?.message ?? String(err)
  if (isDiskFull(err)) {
    return new ClusterdError('CLUSTERD_ERR_STORE_FULL',
      `manager store ${path}: disk full (${detail}); the change was not made and nothing acknowledged is lost. Free space, then restart the agent on this node (a replica takes over meanwhile)`, { path })
  }
  return new ClusterdError('CLUSTERD_ERR_STORE_UNAVAILABLE', `manager store write failed (${detail}); restart the manager`, { path })
}

/** Contents of the revision marker. */
export interface RevisionMarker {
  revision: number
  at: string
}

/** Read the revision marker; null when there is none (a new database). */
export async function readMarker (path: string): Promise<RevisionMarker | null> {
  let text: string
  try {
    text = await readFile(join(path, REVISION_MARKER_FILE), 'utf8')
  } catch (err: any) {
    if (err?.code === 'ENOENT') return null
    throw new ClusterdError('CLUSTERD_ERR_STORE_UNAVAILABLE', `cannot read ${REVISION_MARKER_FILE} in ${path}: ${err?.message}`, { path })
  }
  try {
    const marker = JSON.parse(text) as RevisionMarker
    if (typeof marker.revision === 'number') return marker
  } catch {}
  throw new ClusterdError('CLUSTERD_ERR_STORE_CORRUPT', `${REVISION_MARKER_FILE} in ${path} is unreadable`, { path })
}

/** Durably replace the revision marker (write, fsync, rename). */
export async function writeMarker (path: string, revision: number, at: string): Promise<void> {
  const file = join(path, REVISION_MARKER_FILE)
  const tmp = `${file}.tmp`
  try {
    const handle = await open(tmp, 'w')
    try {
      await handle.writeFile(JSON.stringify({ revision, at } satisfies RevisionMarker))
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, file)
  } catch (err: any) {
    throw new ClusterdError('CLUSTERD_ERR_STORE_UNAVAILABLE', `cannot write ${file}: ${err?.message ?? err}`, { path })
  }
}
