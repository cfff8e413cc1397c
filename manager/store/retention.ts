/**
 * Retention: which finished jobs (with their progress events) and which lifecycle events the
 * store may forget, planned in bounded steps. A step reads a bounded slice of the store and
 * returns at most `maxOps` deletions; the store writes them as one ordinary (replicated) batch,
 * so replicas forget the same keys and no single write grows with the store.
 *
 * What is never pruned: a job that is not finished, a node record, and a node's newest
 * lifecycle event (the store's invariants hang on it: the record's state is the newest event's
 * `to`, and the global log ends at the newest event).
 */
import type { JobRecord } from '../../protocol/jobs.js'
import { isTerminalJobStatus } from '../../protocol/jobs.js'
import type { LifecycleEvent } from '../../protocol/nodes.js'
import type { BatchOp } from './committer.js'
import { PREFIX } from './constants.js'
import { eventKey, jobKey, nodeEventKey, range } from './keys.js'
import type { StoreDb } from './open-db.js'
import { guardIterator, parseStored } from './restore.js'

/** How much history the store keeps (`retention.*` config keys; ages in seconds). */
export interface RetentionPolicy {
  /** Finished jobs kept, newest first; older ones go with their events. */
  jobsMaxCount: number
  /** Finished jobs older than this (by finish time) go. */
  jobsMaxAgeS: number
  /** Lifecycle events kept per node (the newest is always kept). */
  eventsMaxPerNode: number
  /** Lifecycle events older than this go (except each node's newest). */
  eventsMaxAgeS: number
}

/** Defaults: roughly a month of jobs, a quarter of events, enough per node to read its story. */
export const DEFAULT_RETENTION: RetentionPolicy = {
  jobsMaxCount: 1000,
  jobsMaxAgeS: 30 * 86_400,
  eventsMaxPerNode: 100,
  eventsMaxAgeS: 90 * 86_400
}

/** Where a pruning pass stands between steps. */
export interface PruneCursor {
  /** Node names after this one still get their lifecycle events checked ('' = from the start). */
  afterNode: string
}

/** Result of one step. */
export interface PrunePlan {
  ops: BatchOp[]
  /** Job ids whose record is deleted by `ops`. */
  jobsDeleted: string[]
  /** Where the next step goes on; null when the pass is complete. */
  next: PruneCursor | null
}

/** Limits of one step. */
export interface PruneLimits {
  /** Most deletions in one step (one write). */
  maxOps: number
  /** Most nodes whose event log one step looks at. */
  maxNodes: number
}

/** Default step limits: a write of at most 500 deletes, a few thousand seeks. */
export const DEFAULT_PRUNE_LIMITS: PruneLimits = { maxOps: 500, maxNodes: 2000 }

/** The finished jobs retention drops, oldest first. */
export function jobsToDrop (jobs: JobRecord[], policy: RetentionPolicy, now: number): JobRecord[] {
  const finished = jobs.filter(j => isTerminalJobStatus(j.status))
  const at = (j: JobRecord): string => j.finishedAt ?? j.createdAt
  finished.sort((a, b) => at(a) === at(b) ? (a.id < b.id ? 1 : -1) : (at(a) < at(b) ? 1 : -1)) // newest first
  const cutoff = new Date(now - policy.jobsMaxAgeS * 1000).toISOString()
  return finished.filter((j, i) => i >= policy.jobsMaxCount || at(j) < cutoff).reverse()
}

/**
 * Plan one pruning step: first finished jobs over the limits (their events, then the record
 * once every event is gone), then lifecycle events of nodes after `cursor`.
 * `lastSeq` gives each node's newest event seq (the store's staged view).
 */
export async function planPrune (db: StoreDb, path: string, lastSeq: ReadonlyMap<string, number>, policy: RetentionPolicy,
  cursor: PruneCursor, now: number, limits: PruneLimits = DEFAULT_PRUNE_LIMITS): Promise<PrunePlan> {
  const ops: BatchOp[] = []
  const jobsDeleted: string[] = []
  const room = (): number => limits.maxOps - ops.length

  const jobs: JobRecord[] = []
  for await (const [key, raw] of guardIterator(path, db.iterator(range(PREFIX.job)))) jobs.push(parseStored(key, raw) as JobRecord)
  for (const job of jobsToDrop(jobs, policy, now)) {
    if (room() <= 0) return { ops, jobsDeleted, next: cursor }
    const prefix = `${PREFIX.jobEvent}!${job.id}`
    let left = false
    let n = 0
    for await (const key of guardIterator(path, db.keys({ ...range(prefix), limit: room() + 1 }))) {
      if (n++ >= room()) { left = true; break }
      ops.push({ type: 'del', key })
    }
    if (left || room() <= 0) return { ops, jobsDeleted, next: cursor }
    ops.push({ type: 'del', key: jobKey(job.id) })
    jobsDeleted.push(job.id)
  }

  const cutoff = new Date(now - policy.eventsMaxAgeS * 1000).toISOString()
  const names = [...lastSeq.keys()].filter(n => n > cursor.afterNode).sort()
  let seen = 0
  for (const name of names) {
    if (room() <= 0 || seen >= limits.maxNodes) return { ops, jobsDeleted, next: { afterNode: previous(names, name, cursor) } }
    seen++
    const newest = lastSeq.get(name) ?? 0
    const keepFrom = newest - policy.eventsMaxPerNode + 1 // seqs below this go on count
    const prefix = `${PREFIX.nodeEvent}!${name}`
    let full = false
    for await (const [key, raw] of guardIterator(path, db.iterator({ ...range(prefix), limit: room() + 1 }))) {
      const seq = Number(key.slice(key.lastIndexOf('!') + 1))
      if (seq >= newest) break
      const event = parseStored(key, raw) as LifecycleEvent
      if (seq >= keepFrom && event.at >= cutoff) break
      if (room() < 2) { full = true; break }
      ops.push({ type: 'del', key: nodeEventKey(name, seq) }, { type: 'del', key: eventKey(event.gseq) })
    }
    // This node may have more to prune: come back to it in the next step.
    if (full || room() <= 0) return { ops, jobsDeleted, next: { afterNode: previous(names, name, cursor) } }
  }
  return { ops, jobsDeleted, next: null }
}

/** The cursor that makes the next step start at `name` again. */
function previous (names: string[], name: string, cursor: PruneCursor): string {
  const i = names.indexOf(name)
  return i > 0 ? names[i - 1] as string : cursor.afterNode
}
