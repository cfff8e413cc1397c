/**
 * The lineage sidecar (`CLUSTERD-LINEAGE` in the database directory): which manager's history
 * the store follows, as the epoch and peer of the manager whose snapshot it took (or of the
 * manager that wrote it). Two stores of one lineage hold prefixes of one linear history, so a
 * new manager need not pull a replica of its own former lineage that is not ahead of it.
 *
 * Absent means unknown (a new store, or one whose snapshot was interrupted): the manager then
 * pulls and merges that store as before. It is removed before a snapshot replaces the state
 * and written after, so a crash in between leaves it absent, never wrong.
 */
import { open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Lineage } from '../../protocol/replication-wire.js'

/** File name of the lineage sidecar. */
export const LINEAGE_FILE = 'CLUSTERD-LINEAGE'

/** Read the sidecar; null when absent or unreadable (unknown is always safe). */
export async function readLineage (path: string): Promise<Lineage | null> {
  try {
    const v = JSON.parse(await readFile(join(path, LINEAGE_FILE), 'utf8')) as Partial<Lineage> | null
    if (typeof v?.epoch === 'number' && Number.isSafeInteger(v.epoch) && v.epoch >= 1 && typeof v.peerId === 'string' && v.peerId.length > 0) {
      return { epoch: v.epoch, peerId: v.peerId }
    }
  } catch {}
  return null
}

/** Durably replace (write, fsync, rename) or remove the sidecar. */
export async function writeLineage (path: string, lineage: Lineage | null): Promise<void> {
  const file = join(path, LINEAGE_FILE)
  if (lineage === null) {
    await rm(file, { force: true })
    return
  }
  const tmp = `${file}.tmp`
  const handle = await open(tmp, 'w')
  try {
    await handle.writeFile(JSON.stringify(lineage))
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, file)
}
