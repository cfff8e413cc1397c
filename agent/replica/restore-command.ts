/**
 * `clusterd store restore FILE [--data-dir D]`: put a backup (`clusterctl backup FILE`,
 * protocol/backup-format.ts) in place as this node's manager store, with the agent stopped.
 *
 * Order matters, so a refusal touches nothing: the whole file is read and verified first
 * (format, version, checksum, entry count, the store layout inside); then the existing store
 * is opened once to prove no agent holds it (LevelDB's lock); then the backup is imported into
 * a new directory beside it; only then is the existing store moved aside (never deleted) and
 * the new one renamed into its place. The restored store has no lineage sidecar, so it follows
 * no manager's history until this node's agent, elected, starts one from it.
 */

import { mkdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { META_KEYS, ManagerStore, validateImport } from '../../manager/store/index.js'
import { decodeBackup, type DecodedBackup } from '../../protocol/backup-format.js'
import { ClusterdError } from '../../protocol/errors.js'
import { STORE_DIR_NAME, StoreRecovery, pathExists } from './store-recovery.js'

/** Prefix of the store a restore moved aside (followed by an ISO time without colons). */
export const BEFORE_RESTORE_PREFIX = 'manager.before-restore-'
/** Prefix of the directory a restore builds the new store in. */
const RESTORING_PREFIX = 'manager.restoring-'


/** Read and verify the backup file; every failure is a ClusterdError naming the file. */
async function readBackup (file: string): Promise<Extract<DecodedBackup, { ok: true }>> {
  let data: Buffer
  try {
    data = await readFile(file)
  } catch (err: any) {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `cannot read backup ${file}: ${err?.message ?? err}`)
  }
  const decoded = decodeBackup(data)
  if (!decoded.ok) {
    throw new ClusterdError(decoded.kind === 'foreign' ? 'CLUSTERD_ERR_BACKUP_FOREIGN' : 'CLUSTERD_ERR_BACKUP_DAMAGED',
      `backup ${file} refused: ${decoded.reason}; nothing was changed`, { file })
  }
  try {
    validateImport(decoded.entries)
  } catch (err: any) {
    throw new ClusterdError('CLUSTERD_ERR_BACKUP_DAMAGED', `backup ${file} refused: it does not hold a valid manager store (${String(err?.message ?? err)}); nothing was changed`, { file })
  }
  const revision = decoded.entries.find(e => e.key === META_KEYS.revision)?.value
  if (revision !== decoded.header.revision) {
    throw new ClusterdError('CLUSTERD_ERR_BACKUP_DAMAGED', `backup ${file} refused: its header says revision ${decoded.header.revision}, its store ${String(revision)}; nothing was changed`, { file })
  }
  return decoded
}

/** Restore `file` into `<dataDir>/manager`; the lines say what was done and what to do next. */
export async function restoreStore (logger: Logger, opts: { dataDir: string, file: string, now?: () => Date }): Promise<string[]> {
  const backup = await readBackup(opts.file)
  const storePath = join(opts.dataDir, STORE_DIR_NAME)
  const stamp = (opts.now?.() ?? new Date()).toISOString().replace(/:/g, '')

  // A running agent holds the store's LevelDB lock (as replica or manager): refuse. A store
  // too damaged to open is not in use by anyone, and is moved aside like a healthy one.
  if (await pathExists(storePath)) {
    const current = new ManagerStore({ logger }, { path: storePath })
    try {
      await current.start()
      await current.stop()
    } catch (err) {
      if (err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_STORE_UNAVAILABLE') {
        throw new ClusterdError('CLUSTERD_ERR_STORE_UNAVAILABLE',
          `${err.message}; stop the agent on this node first (systemctl stop clusterd, or ./bootstrap.sh stop); nothing was changed`, err.details)
      }
      if (!(err instanceof ClusterdError) || err.code !== 'CLUSTERD_ERR_STORE_CORRUPT') throw err
    }
  }

  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 })
  const building = join(opts.dataDir, RESTORING_PREFIX + stamp)
  const restored = new ManagerStore({ logger }, { path: building })
  try {
    await restored.start()
    await restored.importAll(backup.entries)
    await restored.stop()
  } catch (err) {
    await restored.stop().catch(() => {})
    await rm(building, { recursive: true, force: true })
    throw err
  }

  let aside: string | null = null
  if (await pathExists(storePath)) {
    aside = join(opts.dataDir, BEFORE_RESTORE_PREFIX + stamp)
    await rename(storePath, aside)
  }
  await rename(building, storePath)
  // A store that awaited a snapshot (store recovery) has one now: the operator's.
  const recovery = new StoreRecovery({ logger }, { dataDir: opts.dataDir })
  await recovery.load()
  await recovery.clear(`restored from backup ${opts.file}`)

  const h = backup.header
  return [
    `restored manager store ${storePath} from ${opts.file}: revision ${h.revision}, ${backup.entries.length} entries, taken ${h.createdAt} from manager ${h.source.peerId} (epoch ${h.source.epoch})`,
    aside === null ? 'there was no store here before' : `the store that was here is kept at ${aside}`,
    'Start this node\'s agent first, before any other manager-eligible agent, and wait until it is manager (clusterctl manager); see README "Backup and restore".'
  ]
}
