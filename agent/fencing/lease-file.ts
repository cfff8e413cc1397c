/**
 * The node's lease on disk: `<data-dir>/lease.json`, mode 0600, replaced atomically (temporary
 * file, rename), so a playbook's lease check reads either the old or the new lease, never half of
 * one, and a restarted agent honours a lease it granted before it stopped. A new grant is
 * durable (fsync of the file and the directory) before the node answers; a renewal or release
 * need not be, because a restarted agent honours any recorded lease for a full TTL from its start
 * (see lease-keeper.ts); on a loaded disk one write took seconds, longer than a renewal may.
 * Content: `{"version":1,"lease":{epoch,holder,leaseId,grantedAt,expiresAt}|null}`.
 */

import { randomBytes } from 'node:crypto'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { checkLease, type Lease } from '../../protocol/fencing-wire.js'

/** File name of the lease file in the data dir. */
export const LEASE_FILE_NAME = 'lease.json'
const MAX_FILE_BYTES = 4096

/** What reading the lease file found. */
export type LeaseFileContent =
  | { ok: true, lease: Lease | null }
  /** The file exists but cannot be used (damaged, unreadable): the caller must assume a lease may be held. */
  | { ok: false, reason: string }

/** Read the lease file; a missing file is "no lease". Never throws. */
export async function readLeaseFile (path: string): Promise<LeaseFileContent> {
  let text: string
  try {
    const buf = await readFile(path)
    if (buf.byteLength > MAX_FILE_BYTES) return { ok: false, reason: `${path} is ${buf.byteLength} bytes, larger than a lease` }
    text = buf.toString('utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, lease: null }
    return { ok: false, reason: `${path} cannot be read: ${(err as Error).message}` }
  }
  let v: unknown
  try { v = JSON.parse(text) } catch { return { ok: false, reason: `${path} is not JSON` } }
  if (typeof v !== 'object' || v === null || (v as { version?: unknown }).version !== 1) return { ok: false, reason: `${path} is not a version 1 lease file` }
  const lease = (v as { lease?: unknown }).lease
  if (lease === null) return { ok: true, lease: null }
  const checked = checkLease(lease)
  return checked.ok ? { ok: true, lease: checked.value } : { ok: false, reason: `${path}: ${checked.reason}` }
}

/** Replace the lease file atomically with `lease` (null: no lease); `durable`: synced to disk before it resolves. */
export async function writeLeaseFile (path: string, lease: Lease | null, options: { durable?: boolean } = {}): Promise<void> {
  const durable = options.durable ?? true
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}`)
  const fh = await open(tmp, 'wx', 0o600)
  try {
    await fh.writeFile(JSON.stringify({ version: 1, lease }) + '\n')
    if (durable) await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  if (!durable) return
  const dir = await open(dirname(path), 'r')
  try { await dir.sync() } finally { await dir.close() }
}

/**
 * One writer for the lease file: writes never overlap, a newer content supersedes a pending
 * older one (only the latest is written), and `write` resolves once a write including it is on
 * disk (synced when any merged request asked for it). Callers await it only for new grants;
 * renewals are answered from memory and written behind (a loaded disk took seconds even without
 * fsync), so the file's expiry may lag the real one: the on-node lease check then errs on the
 * early side, never the late one.
 */
export class LeaseFileWriter {
  private pending: { lease: Lease | null, version: number, durable: boolean } | null = null
  private version = 0
  private running: Promise<void> | null = null
  private waiters: Array<{ version: number, resolve: () => void, reject: (err: Error) => void }> = []

  constructor (private readonly path: string) {}

  /** Make `lease` the file's next content. */
  async write (lease: Lease | null, durable: boolean): Promise<void> {
    const version = ++this.version
    this.pending = { lease, version, durable: durable || (this.pending?.durable ?? false) }
    const done = new Promise<void>((resolve, reject) => { this.waiters.push({ version, resolve, reject }) })
    this.running ??= this.loop()
    return await done
  }

  /** Resolves once nothing is pending. */
  async idle (): Promise<void> {
    while (this.running !== null) await this.running
  }

  private async loop (): Promise<void> {
    while (this.pending !== null) {
      const p = this.pending
      this.pending = null
      let error: Error | null = null
      try { await writeLeaseFile(this.path, p.lease, { durable: p.durable }) } catch (err) { error = err as Error }
      const settled = this.waiters.filter(w => w.version <= p.version)
      this.waiters = this.waiters.filter(w => w.version > p.version)
      for (const w of settled) error === null ? w.resolve() : w.reject(error)
    }
    this.running = null
  }
}
