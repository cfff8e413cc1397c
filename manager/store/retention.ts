/**
 * Retention: which finished jobs (with their progress events), which configuration revisions
 * (revision-retention.ts) and which lifecycle events the store may forget, planned in bounded
 * steps. A step reads a bounded slice of the store and returns at most `maxOps` deletions; the
 * store writes them as one ordinary (replicated) batch, so replicas forget the same keys and no
 * single write grows with the store.
 *
 * What is never pruned: a job that is not finished, a node record, the newest revision and any
 * revision a node record or an unfinished job names, and the newest lifecycle event of a node
 * that has a record (the store's invariants hang on it: the record's state is the newest
 * event's `to`). A forgotten name (`node forget`: events, no record) follows the same count and
 * age rules, and its newest event (the `forgotten` one) goes too once older than the age limit:
 * nothing depends on it, and without that every name ever forgotten would keep an event
 * forever; only the event at the end of the global log stays (the store checks on load that
 * the log ends at its `m!gseq` counter).
 */
import type { JobRecord } from '../../protocol/jobs.js'
import { isTerminalJobStatus } from '../../protocol/jobs.js'
import type { LifecycleEvent } from '../../protocol/nodes.js'
import type { BatchOp } from './committer.js'
import { PREFIX } from './constants.js'
import { eventKey, jobKey, nodeEventKey, range } from './keys.js'
import type { StoreDb } from './open-db.js'
import { guardIterator, parseStored } from './restore.js'
import { planRevisionPrune, referencedRevisions } from './revision-retention.js'

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
  /**
   * Configuration revisions kept, newest first, besides those a node record or an unfinished
   * job names (revision-retention.ts). Absent: DEFAULT_RETENTION's.
   */
  revisionsMaxCount?: number
}

/**
 * Defaults: roughly a month of jobs, a quarter of events, enough per node to read its story,
 * and fifty revisions to go back to (at most 640 KiB each, files shared between them).
 */
export const DEFAULT_RETENTION: Required<RetentionPolicy> = {
  jobsMaxCount: 1000,
  jobsMaxAgeS: 30 * 86_400,
  eventsMaxPerNode: 100,
  eventsMaxAgeS: 90 * 86_400,
  revisionsMaxCount: 50
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
 * once every event is gone), then configuration revisions (at the start of a pass), then
 * lifecycle events of nodes after `cursor`. `lastSeq` gives each node's newest event seq and
 * `nodeRevisions` the revision each node record names (the store's staged view).
 */
export async function planPrune (db: StoreDb, path: string, lastSeq: ReadonlyMap<string, number>, nodeRevisions: Iterable<number | null>,
  policy: RetentionPolicy, cursor: PruneCursor, now: number, limits: PruneLimits = DEFAULT_PRUNE_LIMITS): Promise<PrunePlan> {
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

  // Only while the pass is at its start: a step that fills up here returns the same cursor,
  // so revisions are done before the events, and later steps do not read every header again.
  if (cursor.afterNode === '') {
    const maxCount = policy.revisionsMaxCount ?? DEFAULT_RETENTION.revisionsMaxCount
    ops.push(...await planRevisionPrune(db, path, maxCount, referencedRevisions(nodeRevisions, jobs), room()))
    if (room() <= 0) return { ops, jobsDeleted, next: cursor }
  }

  const cutoff = new Date(now - policy.eventsMaxAgeS * 1000).toISOString()
  const globalLast = await lastGlobalSeq(db, path)
  // Every name with events, records or not (forgotten names), one seek per name.
  let afterNode = cursor.afterNode
  let seen = 0
  for (let name = await nextEventName(db, path, afterNode); name !== null; name = await nextEventName(db, path, name)) {
    if (room() <= 0 || seen >= limits.maxNodes) return { ops, jobsDeleted, next: { afterNode } }
    seen++
    const recorded = lastSeq.get(name)
    const newest = recorded ?? await newestSeq(db, path, name)
    const keepFrom = newest - policy.eventsMaxPerNode + 1 // seqs below this go on count
    const prefix = `${PREFIX.nodeEvent}!${name}`
    let full = false
    for await (const [key, raw] of guardIterator(path, db.iterator({ ...range(prefix), limit: room() + 1 }))) {
      const seq = Number(key.slice(key.lastIndexOf('!') + 1))
      if (seq > newest || (seq === newest && recorded !== undefined)) break
      const event = parseStored(key, raw) as LifecycleEvent
      if ((seq >= keepFrom && event.at >= cutoff) || event.gseq === globalLast) break
      if (room() < 2) { full = true; break }
      ops.push({ type: 'del', key: nodeEventKey(name, seq) }, { type: 'del', key: eventKey(event.gseq) })
    }
    // This node may have more to prune: come back to it in the next step.
    if (full || room() <= 0) return { ops, jobsDeleted, next: { afterNode } }
    afterNode = name
  }
  return { ops, jobsDeleted, next: null }
}

/**
 * The first node name after `after` ('' = the first) that has lifecycle events. Keys are
 * `x!<name>!<seq>`; name characters all sort after '"', which sorts after '!', so
 * `x!<name>"` is past every key of `name` and before the next name's.
 */
async function nextEventName (db: StoreDb, path: string, after: string): Promise<string | null> {
  const base = `${PREFIX.nodeEvent}!`
  for await (const key of guardIterator(path, db.keys({ gt: `${base}${after}"`, lt: `${PREFIX.nodeEvent}"`, limit: 1 }))) {
    const rest = key.slice(base.length)
    return rest.slice(0, rest.indexOf('!'))
  }
  return null
}

/** The gseq of the newest event in the global log (0: none). */
async function lastGlobalSeq (db: StoreDb, path: string): Promise<number> {
  for await (const key of guardIterator(path, db.keys({ ...range(PREFIX.event), reverse: true, limit: 1 }))) return Number(key.slice(PREFIX.event.length + 1))
  return 0
}

/** The newest event seq of a name without a record (a forgotten one). */
async function newestSeq (db: StoreDb, path: string, name: string): Promise<number> {
  for await (const key of guardIterator(path, db.keys({ ...range(`${PREFIX.nodeEvent}!${name}`), reverse: true, limit: 1 }))) {
    return Number(key.slice(key.lastIndexOf('!') + 1))
  }
  return 0
}
