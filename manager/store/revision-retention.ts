/**
 * Retention of configuration revisions (`retention.revisions.max-count`): which revision
 * headers (`r!<n>`) and file contents (`rb!<sha256>`) the store may forget. A pruning step
 * (retention.ts `planPrune`) writes them as ordinary replicated deletes, so replicas forget
 * the same revisions.
 *
 * Kept: the newest `max-count` revisions (so always the newest, the cluster's current one, and
 * a new push never reuses a number), every revision a node record names (what it runs), and
 * every revision a job that is not finished names (queued, running, or a paused rollout: its
 * next batches run it). A finished job may name a pruned revision: `history` still shows the
 * number; `roles show` and `job retry --failed` of that job then answer
 * CLUSTERD_ERR_REVISION_NOT_FOUND. A file's bytes go once no kept revision holds them.
 */
import { isTerminalJobStatus, type JobRecord } from '../../protocol/jobs.js'
import type { RevisionInfo } from '../../protocol/revisions.js'
import type { BatchOp } from './committer.js'
import { PREFIX } from './constants.js'
import { range, revisionKey, stripPrefix } from './keys.js'
import type { StoreDb } from './open-db.js'
import { guardIterator, parseStored } from './restore.js'

/** The revisions that must stay whatever their age: named by a node record or by a job that is not finished. */
export function referencedRevisions (nodeRevisions: Iterable<number | null | undefined>, jobs: readonly JobRecord[]): Set<number> {
  const out = new Set<number>()
  for (const r of nodeRevisions) if (typeof r === 'number') out.add(r)
  for (const job of jobs) {
    if (isTerminalJobStatus(job.status)) continue
    if (job.revision !== undefined) out.add(job.revision)
    for (const r of Object.values(job.nodeRevisions ?? {})) out.add(r)
  }
  return out
}

/** The revision numbers retention drops, oldest first: not among the newest `maxCount`, not referenced. */
export function revisionsToDrop (revisions: readonly number[], maxCount: number, referenced: ReadonlySet<number>): number[] {
  const newestFirst = [...revisions].sort((a, b) => b - a)
  // At least one is kept whatever the setting: the newest is the cluster's current revision.
  const keep = Math.max(1, maxCount)
  return newestFirst.filter((r, i) => i >= keep && !referenced.has(r)).reverse()
}

/**
 * The deletes of at most `room` keys that prune revisions: headers first (oldest first), then
 * every file no remaining header holds. A file goes only in the step that deletes the last
 * header holding it or later, so a stored revision never lacks one; what does not fit goes in
 * the next step.
 */
export async function planRevisionPrune (db: StoreDb, path: string, maxCount: number, referenced: ReadonlySet<number>, room: number): Promise<BatchOp[]> {
  if (room <= 0) return []
  const headers: RevisionInfo[] = []
  for await (const [key, raw] of guardIterator(path, db.iterator(range(PREFIX.revision)))) headers.push(parseStored(key, raw) as RevisionInfo)
  const drop = new Set(revisionsToDrop(headers.map(h => h.revision), maxCount, referenced).slice(0, room))
  const ops: BatchOp[] = [...drop].map(r => ({ type: 'del', key: revisionKey(r) }))
  const held = new Set<string>()
  for (const h of headers) if (!drop.has(h.revision)) for (const f of h.files) held.add(f.sha256)
  for await (const key of guardIterator(path, db.keys(range(PREFIX.revisionBlob)))) {
    if (ops.length >= room) break
    if (!held.has(stripPrefix(key, PREFIX.revisionBlob))) ops.push({ type: 'del', key })
  }
  return ops
}
