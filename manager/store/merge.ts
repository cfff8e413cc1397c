/**
 * Merging another lineage's store into this one: what a new manager does with the state of
 * an agent that followed (or was) a different manager, e.g. the old manager of the other side
 * of a healed partition. Pure: it reads two exports and returns the writes that bring every
 * change of the foreign store that this store lacks into it, without dropping any of ours.
 *
 * Rules (docs/architecture.md, "Partitions and reconciliation"):
 * - Lifecycle events and job events are append-only histories: the union is kept. An event is
 *   the same on both sides when everything but its sequence numbers is equal; a foreign-only
 *   event is appended after ours with new sequence numbers. When retention pruned our log of a
 *   node, their events older than our oldest kept one are not brought back.
 * - A node's current state (record + machine snapshot) comes from the side whose newest
 *   lifecycle event is later (ties keep ours). Fencing leases mean only one side can have run
 *   jobs on a node, so this is the side that actually operated it. `reachable` stays ours
 *   (this manager's membership view is the current one).
 * - Jobs are identified by their random ids: a foreign-only job is copied; a job on both sides
 *   takes the record that is further along (terminal over active, then the later finish).
 * - A node this store forgot (its log ends with `forgotten`) stays forgotten unless the other
 *   side's events about it are later than the forget; their log then continues ours.
 * - Config keys: the later write wins, judged by the write time each side recorded (`cm!key`);
 *   a deletion is a write too (a tombstone). A key with no recorded time loses to one with.
 */
import type { JobEvent, JobRecord } from '../../protocol/jobs.js'
import { isTerminalJobStatus } from '../../protocol/jobs.js'
import type { LifecycleEvent } from '../../protocol/nodes.js'
import type { BatchOp } from './committer.js'
import { PREFIX } from './constants.js'
import { configKey, configMetaKey, eventKey, jobEventKey, jobKey, nodeEventKey, nodeKey, stripPrefix } from './keys.js'
import { decodeNode, encodeNode, type NodeEntry } from './node-entry.js'
import type { StoreEntry } from './types.js'

/** When and how a config key was last written (`cm!<key>`). */
export interface ConfigMeta {
  /** ISO-8601 time of the write. */
  at: string
  /** The write deleted the key. */
  deleted?: boolean
}

/** What a merge changes and reports. */
export interface MergePlan {
  /** Puts and deletes to write in one batch (without revision and gseq). */
  ops: BatchOp[]
  /** Node entries whose in-memory view changes. */
  nodes: NodeEntry[]
  /** Config values whose view changes (`undefined`: deleted). */
  config: Array<{ key: string, value: unknown }>
  /** The global event sequence after the merge. */
  gseq: number
  report: MergeReport
}

/** Counts of what a merge brought in, for logs and tests. */
export interface MergeReport {
  nodesAdded: string[]
  nodesTakenOver: string[]
  lifecycleEvents: number
  jobsAdded: string[]
  jobsUpdated: string[]
  jobEvents: number
  config: string[]
  /** Jobs from the foreign side that are not finished: the job runner must pick them up. */
  activeJobs: string[]
}

/** A store export parsed into its parts. */
interface Parsed {
  nodes: Map<string, NodeEntry>
  nodeEvents: Map<string, LifecycleEvent[]>
  jobs: Map<string, JobRecord>
  jobEvents: Map<string, JobEvent[]>
  config: Map<string, unknown>
  configMeta: Map<string, ConfigMeta>
}

function parse (entries: StoreEntry[]): Parsed {
  const p: Parsed = { nodes: new Map(), nodeEvents: new Map(), jobs: new Map(), jobEvents: new Map(), config: new Map(), configMeta: new Map() }
  const push = <T>(m: Map<string, T[]>, k: string, v: T): void => { const list = m.get(k); if (list === undefined) m.set(k, [v]); else list.push(v) }
  for (const { key, value } of entries) {
    const prefix = key.slice(0, key.indexOf('!'))
    const rest = stripPrefix(key, prefix)
    switch (prefix) {
      case PREFIX.node: p.nodes.set(rest, decodeNode(key, rest, value)); break
      case PREFIX.nodeEvent: push(p.nodeEvents, (value as LifecycleEvent).node, value as LifecycleEvent); break
      case PREFIX.job: p.jobs.set(rest, value as JobRecord); break
      case PREFIX.jobEvent: push(p.jobEvents, (value as JobEvent).jobId, value as JobEvent); break
      case PREFIX.config: p.config.set(rest, value); break
      case PREFIX.configMeta: p.configMeta.set(rest, value as ConfigMeta); break
      default: break // meta counters and the global event log (a copy of the per-node logs)
    }
  }
  for (const list of p.nodeEvents.values()) list.sort((a, b) => a.seq - b.seq)
  for (const list of p.jobEvents.values()) list.sort((a, b) => a.seq - b.seq)
  return p
}

/** Identity of an event regardless of where it sits in a log. */
function identity (e: object): string {
  const { seq: _s, gseq: _g, ...rest } = e as Record<string, unknown>
  return JSON.stringify(rest)
}

function lastAt (events: LifecycleEvent[] | undefined): string {
  return events?.at(-1)?.at ?? ''
}

/** How far along a job is, for choosing between two copies of it. */
function progress (j: JobRecord): [number, string] {
  const rank = isTerminalJobStatus(j.status) ? 2 : j.status === 'running' ? 1 : 0
  return [rank, j.finishedAt ?? j.startedAt ?? j.createdAt]
}

/**
 * Plan the merge of `foreign` (another store's export) into `local` (this store's export);
 * `gseq` is this store's global event sequence. Throws CLUSTERD_ERR_STORE_CORRUPT (from the
 * node decoder) on a malformed foreign node entry, before anything is written.
 */
export function planMerge (local: StoreEntry[], foreign: StoreEntry[], gseq: number): MergePlan {
  const ours = parse(local)
  const theirs = parse(foreign)
  const ops: BatchOp[] = []
  const nodes: NodeEntry[] = []
  const config: Array<{ key: string, value: unknown }> = []
  const report: MergeReport = { nodesAdded: [], nodesTakenOver: [], lifecycleEvents: 0, jobsAdded: [], jobsUpdated: [], jobEvents: 0, config: [], activeJobs: [] }

  for (const [name, their] of theirs.nodes) {
    const our = ours.nodes.get(name)
    const ourEvents = ours.nodeEvents.get(name) ?? []
    const known = new Set(ourEvents.map(identity))
    // Our log may have been pruned (retention.ts): their copies of events older than the oldest
    // we keep are history we chose to forget, not news.
    const ourFirst = ourEvents[0]
    const prunedBefore = ourFirst !== undefined && ourFirst.seq > 1 ? ourFirst.at : ''
    const fresh = (theirs.nodeEvents.get(name) ?? []).filter(e => !known.has(identity(e)) && e.at >= prunedBefore)
    if (our !== undefined && fresh.length === 0) continue
    // We forgot the node (its log ends `forgotten`): the forget stands unless they changed it later.
    const forgotAt = our === undefined && ourEvents.at(-1)?.type === 'forgotten' ? lastAt(ourEvents) : ''
    if (forgotAt !== '' && !(lastAt(fresh) > forgotAt)) continue
    let seq = our?.lastSeq ?? ourEvents.at(-1)?.seq ?? 0
    for (const e of fresh) {
      const event: LifecycleEvent = { ...e, seq: ++seq, gseq: ++gseq }
      const text = JSON.stringify(event)
      ops.push({ type: 'put', key: nodeEventKey(name, event.seq), value: text }, { type: 'put', key: eventKey(event.gseq), value: text })
    }
    report.lifecycleEvents += fresh.length
    let entry: NodeEntry
    if (our === undefined) {
      entry = { ...their, lastSeq: seq }
      report.nodesAdded.push(name)
    } else if (lastAt(fresh) > lastAt(ourEvents)) {
      entry = { record: { ...their.record, reachable: our.record.reachable }, snapshot: their.snapshot, lastSeq: seq }
      report.nodesTakenOver.push(name)
    } else {
      // Their events now come last but our state stands: say so, so the log still ends in the record's state.
      const theirLast = fresh.at(-1) as LifecycleEvent
      const event: LifecycleEvent = {
        seq: ++seq,
        gseq: ++gseq,
        node: name,
        at: theirLast.at > lastAt(ourEvents) ? theirLast.at : lastAt(ourEvents),
        type: 'reconciled',
        from: theirLast.to,
        to: our.record.state,
        reason: `partition healed: ${fresh.length} event(s) of the other side appended; the state of the side that changed this node last is kept`,
        jobId: our.record.currentJob,
        actor: 'partition-merge'
      }
      const text = JSON.stringify(event)
      ops.push({ type: 'put', key: nodeEventKey(name, event.seq), value: text }, { type: 'put', key: eventKey(event.gseq), value: text })
      entry = { ...our, lastSeq: seq }
    }
    nodes.push(entry)
    ops.push({ type: 'put', key: nodeKey(name), value: encodeNode(entry) })
  }

  for (const [id, their] of theirs.jobs) {
    const our = ours.jobs.get(id)
    const ourEvents = ours.jobEvents.get(id) ?? []
    const known = new Set(ourEvents.map(identity))
    const fresh = (theirs.jobEvents.get(id) ?? []).filter(e => !known.has(identity(e)))
    let seq = ourEvents.at(-1)?.seq ?? 0
    for (const e of fresh) ops.push({ type: 'put', key: jobEventKey(id, ++seq), value: JSON.stringify({ ...e, seq }) })
    report.jobEvents += fresh.length
    const [theirRank, theirAt] = progress(their)
    const takeTheirs = our === undefined || (() => { const [r, at] = progress(our); return theirRank > r || (theirRank === r && theirAt > at) })()
    if (takeTheirs) {
      ops.push({ type: 'put', key: jobKey(id), value: JSON.stringify(their) })
      ;(our === undefined ? report.jobsAdded : report.jobsUpdated).push(id)
      if (!isTerminalJobStatus(their.status)) report.activeJobs.push(id)
    }
  }

  for (const key of new Set([...theirs.config.keys(), ...theirs.configMeta.keys()])) {
    const theirMeta = theirs.configMeta.get(key)
    const ourMeta = ours.configMeta.get(key)
    const ourHas = ours.config.has(key) || ourMeta !== undefined
    const theirsLater = theirMeta !== undefined ? (ourMeta === undefined || theirMeta.at > ourMeta.at) : !ourHas
    if (!theirsLater) continue
    const value = theirMeta?.deleted === true ? undefined : theirs.config.get(key)
    const same = JSON.stringify(value) === JSON.stringify(ours.config.get(key))
    if (theirMeta !== undefined) ops.push({ type: 'put', key: configMetaKey(key), value: JSON.stringify(theirMeta) })
    if (same) continue
    ops.push(value === undefined ? { type: 'del', key: configKey(key) } : { type: 'put', key: configKey(key), value: JSON.stringify(value) })
    config.push({ key, value })
    report.config.push(key)
  }

  return { ops, nodes, config, gseq, report }
}

/** True when a merge plan writes nothing. */
export function isEmptyMerge (plan: MergePlan): boolean {
  return plan.ops.length === 0
}
