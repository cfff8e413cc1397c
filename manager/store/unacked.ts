/**
 * The late-writes sidecar (`CLUSTERD-UNACKED` in the database directory): keys this store wrote
 * after its manager had been replaced, i.e. writes every replica refused as stale, which were
 * never acknowledged (docs/architecture.md, "Deposed managers"). They are durable here because
 * a write reaches the local disk before its replicas answer. When the new manager pulls this
 * store, it is told these keys and keeps what they say as `stale-view` events instead of
 * applying it (merge.ts).
 *
 * Removed when a snapshot replaces the state, and when this store's agent becomes manager
 * again (its history then continues from it). Bounded: a deposed manager's store refuses
 * writes once it knows, so only the writes in flight at that moment land here.
 */
import { open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { MAX_UNACKED_KEYS } from '../../protocol/replication-wire.js'

/** File name of the late-writes sidecar. */
export const UNACKED_FILE = 'CLUSTERD-UNACKED'

/** What a deposed manager wrote without acknowledgement. */
export interface UnackedWrites {
  /** Epoch of the manager that wrote them. */
  epoch: number
  /** The newer epoch that had replaced it. */
  newerEpoch: number
  keys: string[]
}

/** Read the sidecar; null when absent or unreadable. */
export async function readUnacked (path: string): Promise<UnackedWrites | null> {
  try {
    const v = JSON.parse(await readFile(join(path, UNACKED_FILE), 'utf8')) as Partial<UnackedWrites> | null
    if (typeof v?.epoch === 'number' && typeof v.newerEpoch === 'number' && Array.isArray(v.keys) && v.keys.every(k => typeof k === 'string')) {
      return { epoch: v.epoch, newerEpoch: v.newerEpoch, keys: v.keys.slice(0, MAX_UNACKED_KEYS) }
    }
  } catch {}
  return null
}

/** Durably replace (write, fsync, rename) or, with null, remove the sidecar. */
export async function writeUnacked (path: string, value: UnackedWrites | null): Promise<void> {
  const file = join(path, UNACKED_FILE)
  if (value === null) {
    await rm(file, { force: true })
    return
  }
  const tmp = `${file}.tmp`
  const handle = await open(tmp, 'w', 0o600)
  try {
    await handle.writeFile(JSON.stringify({ ...value, keys: value.keys.slice(0, MAX_UNACKED_KEYS) }))
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, file)
}
