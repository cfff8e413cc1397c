/**
 * Configuration revisions in the store: a header per revision (`r!<n>`: hash, time, author,
 * message, roles, files by path and SHA-256) and each file's bytes once by content
 * (`rb!<sha256>`, base64), shared by every revision holding them. A revision is written in one
 * batch (header and the blobs the store lacks), so it is whole or absent on every replica; its
 * size is bounded by protocol/revisions.ts MAX_REVISION_BYTES. Retention prunes old revisions
 * but the newest ones and those a node record or an unfinished job names
 * (revision-retention.ts). Part of the manager store (manager-store.ts).
 */
import { ClusterdError } from '../../protocol/errors.js'
import { revisionHash, sha256Hex, type RevisionInfo } from '../../protocol/revisions.js'
import { revisionInfoProblem } from './revision-check.js'
import type { BatchOp } from './committer.js'
import { PREFIX } from './constants.js'
import { range, revisionBlobKey, revisionKey } from './keys.js'
import { guardIterator, guardRead, parseStored } from './restore.js'
import type { StoreCore } from './store-core.js'

/** A revision to store: its files' bytes and what describes it. */
export interface NewRevision {
  files: Array<{ path: string, content: Buffer }>
  roles: string[]
  author: string
  message: string
}

const SHA256 = /^[0-9a-f]{64}$/

/** Revisions, on the shared core. */
export class RevisionTable {
  constructor (private readonly core: StoreCore) {}

  /** Every revision, oldest first. */
  async listRevisions (): Promise<RevisionInfo[]> {
    const db = this.core.assertStarted()
    const out: RevisionInfo[] = []
    for await (const [key, raw] of guardIterator(this.core.path, db.iterator(range(PREFIX.revision)))) out.push(this.decode(key, raw))
    return out
  }

  /** One revision's header, if it exists. */
  async getRevision (revision: number): Promise<RevisionInfo | undefined> {
    const db = this.core.assertStarted()
    if (!Number.isSafeInteger(revision) || revision < 1) return undefined
    const key = revisionKey(revision)
    const raw = await guardRead(this.core.path, db.get(key), key)
    return raw === undefined ? undefined : this.decode(key, raw)
  }

  /** The newest revision (the cluster's current one), if any. */
  async latestRevision (): Promise<RevisionInfo | undefined> {
    const db = this.core.assertStarted()
    for await (const [key, raw] of guardIterator(this.core.path, db.iterator({ ...range(PREFIX.revision), reverse: true, limit: 1 }))) return this.decode(key, raw)
    return undefined
  }

  /** A file's bytes by SHA-256, checked against it; undefined when the store lacks it. */
  async readBlob (sha256: string): Promise<Buffer | undefined> {
    const db = this.core.assertStarted()
    if (!SHA256.test(sha256)) return undefined
    const key = revisionBlobKey(sha256)
    const raw = await guardRead(this.core.path, db.get(key), key)
    if (raw === undefined) return undefined
    const bytes = Buffer.from(parseStored(key, raw) as string, 'base64')
    if (sha256Hex(bytes) !== sha256) throw new ClusterdError('CLUSTERD_ERR_STORE_CORRUPT', `manager store entry ${key} does not match its SHA-256`, { key })
    return bytes
  }

  /**
   * Store `rev` as the next revision, in one write; when its content equals the newest
   * revision's, nothing is written and that one is returned (`created: false`).
   */
  async addRevision (rev: NewRevision): Promise<{ info: RevisionInfo, created: boolean }> {
    const core = this.core
    const db = core.assertStarted()
    const files = rev.files.map(f => ({ path: f.path, sha256: sha256Hex(f.content), size: f.content.byteLength, content: f.content }))
      .sort((a, b) => a.path < b.path ? -1 : 1)
    const hash = revisionHash(files)
    return await core.write<{ info: RevisionInfo, created: boolean }>(async () => {
      // Inside the serial queue, after everything staged before is durable: the newest
      // revision read here is the one this write follows, so numbers are never reused.
      await core.barrier()
      const latest = await this.latestRevision()
      if (latest?.hash === hash) return core.noWrite({ info: latest, created: false })
      const info: RevisionInfo = {
        revision: (latest?.revision ?? 0) + 1,
        hash,
        createdAt: core.now().toISOString(),
        author: rev.author,
        message: rev.message,
        roles: rev.roles,
        files: files.map(f => ({ path: f.path, sha256: f.sha256, size: f.size })),
        ...(core.epoch !== undefined ? { epoch: core.epoch } : {})
      }
      const ops: BatchOp[] = []
      for (const f of files) {
        const key = revisionBlobKey(f.sha256)
        if (ops.some(o => o.key === key) || await guardRead(core.path, db.get(key), key) !== undefined) continue
        ops.push({ type: 'put', key, value: JSON.stringify(f.content.toString('base64')) })
      }
      ops.push({ type: 'put', key: revisionKey(info.revision), value: JSON.stringify(info) })
      return core.stage(ops, undefined, { info, created: true })
    })
  }

  private decode (key: string, raw: string): RevisionInfo {
    const value = parseStored(key, raw)
    const problem = revisionInfoProblem(value, key)
    if (problem !== undefined) throw new ClusterdError('CLUSTERD_ERR_STORE_CORRUPT', `manager store entry ${key} is invalid: ${problem}`, { key })
    return value as RevisionInfo
  }
}
