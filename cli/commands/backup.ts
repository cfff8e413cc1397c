/**
 * `clusterctl backup FILE`: save a consistent snapshot of the manager store (`GET /v1/backup`)
 * as a backup file (protocol/backup-format.ts). The file holds the cluster's records, so it is
 * created with mode 0600; it is written to a temporary file beside FILE, synced, then renamed
 * over FILE, so FILE is either the previous file or a whole new backup, never a partial one.
 */

import { randomBytes } from 'node:crypto'
import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { BackupEncoder, decodeStreamItem } from '../../protocol/backup-format.js'
import type { ApiClient } from '../client.js'
import { unreachableError, usageError } from '../errors.js'

/** What a finished backup holds. */
export interface BackupResult {
  file: string
  revision: number
  entries: number
  bytes: number
}

/** Stream the manager's snapshot into `file`; the returned line says what was written. */
export async function backup (client: ApiClient, file: string): Promise<string> {
  const r = await writeBackup(client, file)
  return `backup of manager store revision ${r.revision} (${r.entries} entries, ${r.bytes} bytes) written to ${r.file}\n`
}

/** Write the backup file; exported for tests that check the file itself. */
export async function writeBackup (client: ApiClient, file: string): Promise<BackupResult> {
  if (file === '') throw usageError('name the backup FILE to write')
  const target = resolve(file)
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  let handle: FileHandle | null = await open(tmp, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw usageError(`cannot create ${file}: ${err.message}`)
  })
  try {
    const enc = new BackupEncoder()
    let bytes = 0
    let revision: number | null = null
    let ended = false
    const write = async (text: string): Promise<void> => {
      bytes += Buffer.byteLength(text)
      await handle?.write(text)
    }
    for await (const raw of client.backup()) {
      const d = decodeStreamItem(raw)
      if (!d.ok) throw unreachableError(`the backup stream from the agent is malformed: ${d.reason}`)
      const item = d.item
      if (item.backup === 'start') {
        if (revision !== null) throw unreachableError('the backup stream started twice')
        revision = item.revision
        await write(enc.header({ revision: item.revision, createdAt: item.createdAt, source: item.source }))
      } else if (item.backup === 'entries') {
        if (revision === null || ended) throw unreachableError('the backup stream sent entries outside its start and end')
        await write(item.entries.map(e => enc.entry(e)).join(''))
      } else {
        if (revision === null || item.entries !== enc.entries) {
          throw unreachableError(`the backup stream ended with ${item.entries} entries but sent ${enc.entries}`)
        }
        ended = true
        await write(enc.trailer())
      }
    }
    if (revision === null || !ended) throw unreachableError('the backup stream ended early (the manager went away?); no backup was written, retry')
    await handle.sync()
    await handle.close()
    handle = null
    await rename(tmp, target)
    await syncDir(dirname(target))
    return { file, revision, entries: enc.entries, bytes }
  } catch (err) {
    await handle?.close().catch(() => {})
    await rm(tmp, { force: true }).catch(() => {})
    throw err
  }
}

/** Make the rename durable (best effort: some file systems refuse to sync a directory). */
async function syncDir (dir: string): Promise<void> {
  const d = await open(dir, 'r').catch(() => null)
  await d?.sync().catch(() => {})
  await d?.close().catch(() => {})
}
