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
 *   side's events about it are later than the forget (higher epoch first, as below); their log
 *   then continues ours.
 * - Configuration revisions: files by content are copied; a number only they have is copied;
 *   the same number with other content keeps ours and stores theirs as a new number
 *   (revision-merge.ts).
 * - Config keys: the later write wins, judged by the write time each side recorded (`cm!key`);
 *   a deletion is a write too (a tombstone). A key with no recorded time loses to one with.
 * - Higher epochs win: every event, job record and config write carries the epoch of the
 *   manager that wrote it. Where both sides changed a record since they diverged, the change of
 *   the higher epoch stands whatever the clocks say (a node's state: the epoch of their newest
 *   new event against the highest epoch among ours they lack, or of our copy of the job the
 *   event reports on; a job: `writtenEpoch`; a config key: its write's epoch); the times decide
 *   only between equal epochs. The other side's events are still appended (history).
 * - Late views are not applied at all: keys the foreign store wrote after its manager had been
 *   replaced (`unacked`: writes every replica refused as stale, never acknowledged) become
 *   `stale-view` lifecycle events on the nodes they concern (which record, what the replaced
 *   manager said, its epoch), and are otherwise dropped.
 */
import type { JobEvent, JobRecord } from '../../protocol/jobs.js'
import { isTerminalJobStatus } from '../../protocol/jobs.js'
import type { LifecycleEvent, StaleView } from '../../protocol/nodes.js'
import type { BatchOp } from './committer.js'
import { PREFIX } from './constants.js'
import { configKey, configMetaKey, eventKey, jobEventKey, jobKey, nodeEventKey, nodeKey, stripPrefix } from './keys.js'
import { decodeNode, encodeNode, type NodeEntry } from './node-entry.js'
import { mergeRevisions } from './revision-merge.js'
import type { StoreEntry } from './types.js'

/** When and how a config key was last written (`cm!<key>`). */
export interface ConfigMeta {
  /** ISO-8601 time of the write. */
  at: string
  /** The write deleted the key. */
  deleted?: boolean
  /** Epoch of the manager that wrote it (absent on writes from before epochs were stamped). */
  epoch?: number
}

/** Who merges: the merging manager's epoch and the time to stamp on the events the merge writes. */
export interface MergeSelf {
  epoch?: number
  at?: string
  /** Keys the foreign store wrote after its manager was replaced (never acknowledged): late views. */
  unacked?: ReadonlySet<string>
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
  /** Late views of a replaced manager kept as `stale-view` events or dropped, not applied (`node NAME`, `job ID`, `config KEY`). */
  stale: string[]
  /** Configuration revisions brought in (revision-merge.ts); absent when none. */
  revisions?: string[]
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

/** Epoch of a stamped write; 0 for writes from before epochs were stamped. */
function epochOf (x: { epoch?: number } | undefined): number {
  return typeof x?.epoch === 'number' ? x.epoch : 0
}

/** Epoch of the manager that last wrote a job record. */
function jobEpoch (j: JobRecord | undefined): number {
  return j === undefined ? 0 : typeof j.writtenEpoch === 'number' ? j.writtenEpoch : epochOf(j)
}

/** Identity of a late view, so merging the same foreign state twice records it once. */
function staleKey (v: StaleView): string {
  return `${v.epoch}|${v.record}|${v.at}|${v.said}`
}

/** What a replaced manager's lifecycle event said, for a `stale-view` event. */
function describeEvent (e: LifecycleEvent): string {
  return `${e.type} ${e.from ?? '-'} -> ${e.to}${e.reason !== null ? `: ${e.reason}` : ''}`
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
export function planMerge (local: StoreEntry[], foreign: StoreEntry[], gseq: number, self: MergeSelf = {}): MergePlan {
  const ours = parse(local)
  const theirs = parse(foreign)
  const unacked = self.unacked ?? new Set<string>()
  const ops: BatchOp[] = []
  const nodes: NodeEntry[] = []
  const config: Array<{ key: string, value: unknown }> = []
  const report: MergeReport = { nodesAdded: [], nodesTakenOver: [], lifecycleEvents: 0, jobsAdded: [], jobsUpdated: [], jobEvents: 0, config: [], activeJobs: [], stale: [] }
  // Late views to keep as `stale-view` events, by node (a late job record concerns its nodes).
  const lateViews = new Map<string, StaleView[]>()
  const addLate = (node: string, v: StaleView): void => { const l = lateViews.get(node); if (l === undefined) lateViews.set(node, [v]); else l.push(v) }
  for (const [id, their] of theirs.jobs) {
    if (!unacked.has(jobKey(id))) continue
    report.stale.push(`job ${id}`)
    for (const n of their.nodes) addLate(n, { epoch: jobEpoch(their), record: `job ${id}`, said: `${their.status}${their.reason !== null ? `: ${their.reason}` : ''}`, at: their.writtenAt ?? their.finishedAt ?? their.startedAt ?? their.createdAt })
  }

  for (const name of new Set([...theirs.nodes.keys(), ...lateViews.keys()])) {
    const their = theirs.nodes.get(name)
    const our = ours.nodes.get(name)
    if (our === undefined && (their === undefined || unacked.has(nodeKey(name)))) {
      // Only their replaced manager's late view knows this node: discovery adds it if it exists.
      if (their !== undefined) report.stale.push(`node ${name}`)
      continue
    }
    const ourEvents = ours.nodeEvents.get(name) ?? []
    const known = new Set(ourEvents.map(identity))
    const keptLate = new Set(ourEvents.flatMap(e => e.staleView !== undefined ? [staleKey(e.staleView)] : []))
    // Our log may have been pruned (retention.ts): their copies of events older than the oldest
    // we keep are history we chose to forget, not news.
    const ourFirst = ourEvents[0]
    const prunedBefore = ourFirst !== undefined && ourFirst.seq > 1 ? ourFirst.at : ''
    const theirEvents = theirs.nodeEvents.get(name) ?? []
    const candidates = theirEvents.filter(e => !known.has(identity(e)) && e.at >= prunedBefore)
    const late = [...(lateViews.get(name) ?? [])]
    const fresh: LifecycleEvent[] = []
    for (const e of candidates) {
      if (unacked.has(nodeEventKey(name, e.seq))) late.push({ epoch: epochOf(e), record: `node ${name}`, said: describeEvent(e), at: e.at })
      else fresh.push(e)
    }
    const newLate = late.filter(v => !keptLate.has(staleKey(v)))
    if (our !== undefined && fresh.length === 0 && newLate.length === 0) continue
    // We forgot the node (its log ends `forgotten`): the forget stands unless their newest event
    // about it beats it, higher epoch first, then the later time (late views alone never do).
    const forget = our === undefined ? ourEvents.at(-1) : undefined
    if (forget?.type === 'forgotten') {
      const theirLast = fresh.at(-1)
      if (theirLast === undefined || epochOf(theirLast) < epochOf(forget) || (epochOf(theirLast) === epochOf(forget) && !(theirLast.at > forget.at))) continue
    }
    if (newLate.some(v => v.record === `node ${name}`)) report.stale.push(`node ${name}`)
    let seq = our?.lastSeq ?? ourEvents.at(-1)?.seq ?? 0
    for (const e of fresh) {
      const event: LifecycleEvent = { ...e, seq: ++seq, gseq: ++gseq }
      const text = JSON.stringify(event)
      ops.push({ type: 'put', key: nodeEventKey(name, event.seq), value: text }, { type: 'put', key: eventKey(event.gseq), value: text })
    }
    report.lifecycleEvents += fresh.length
    // Higher epochs win: the newest of their new events against what we did that they lack.
    const theirIds = new Set(theirEvents.map(identity))
    // (Events earlier merges wrote record a choice, not an action on the node: they do not count.)
    const ourTop = Math.max(0, ...ourEvents.filter(e => !theirIds.has(identity(e)) && e.actor !== 'partition-merge').map(epochOf))
    const theirLast = fresh.at(-1)
    const reportedJob = theirLast?.jobId != null ? ours.jobs.get(theirLast.jobId) : undefined
    const theirEpochWins = theirLast !== undefined && epochOf(theirLast) >= ourTop && epochOf(theirLast) >= jobEpoch(reportedJob)
    const theirEpochHigher = theirLast !== undefined && epochOf(theirLast) > ourTop && epochOf(theirLast) > jobEpoch(reportedJob)
    let entry: NodeEntry
    if (our === undefined) {
      entry = { ...(their as NodeEntry), lastSeq: seq }
      report.nodesAdded.push(name)
    } else if (fresh.length === 0) {
      entry = { ...our, lastSeq: seq }
    } else if (their !== undefined && !unacked.has(nodeKey(name)) && theirEpochWins && (theirEpochHigher || lastAt(fresh) > lastAt(ourEvents))) {
      entry = { record: { ...their.record, reachable: our.record.reachable }, snapshot: their.snapshot, lastSeq: seq }
      report.nodesTakenOver.push(name)
    } else {
      // Their events now come last but our state stands: say so, so the log still ends in the record's state.
      const last = fresh.at(-1) as LifecycleEvent
      const event: LifecycleEvent = {
        seq: ++seq,
        gseq: ++gseq,
        node: name,
        at: last.at > lastAt(ourEvents) ? last.at : lastAt(ourEvents),
        type: 'reconciled',
        from: last.to,
        to: our.record.state,
        reason: `partition healed: ${fresh.length} event(s) of the other side appended; the state of the side that changed this node last (higher epoch first) is kept`,
        jobId: our.record.currentJob,
        actor: 'partition-merge',
        ...(self.epoch !== undefined ? { epoch: self.epoch } : {})
      }
      const text = JSON.stringify(event)
      ops.push({ type: 'put', key: nodeEventKey(name, event.seq), value: text }, { type: 'put', key: eventKey(event.gseq), value: text })
      entry = { ...our, lastSeq: seq }
    }
    // Late views go last, as notes in the state the node is kept in.
    const state = entry.record.state
    for (const v of newLate) {
      const event: LifecycleEvent = {
        seq: ++seq,
        gseq: ++gseq,
        node: name,
        at: self.at !== undefined && self.at > v.at ? self.at : v.at,
        type: 'stale-view',
        from: state,
        to: state,
        reason: `not applied: a replaced manager (epoch ${v.epoch}) wrote ${v.record} after a newer epoch took over: ${v.said}`,
        jobId: v.record.startsWith('job ') ? v.record.slice(4) : null,
        actor: 'partition-merge',
        staleView: v,
        ...(self.epoch !== undefined ? { epoch: self.epoch } : {})
      }
      const text = JSON.stringify(event)
      ops.push({ type: 'put', key: nodeEventKey(name, event.seq), value: text }, { type: 'put', key: eventKey(event.gseq), value: text })
    }
    report.lifecycleEvents += newLate.length
    entry = { ...entry, lastSeq: seq }
    nodes.push(entry)
    ops.push({ type: 'put', key: nodeKey(name), value: encodeNode(entry) })
  }

  for (const [id, their] of theirs.jobs) {
    const our = ours.jobs.get(id)
    // A job record their replaced manager wrote late is kept as events on its nodes (above).
    if (unacked.has(jobKey(id)) && our === undefined) continue
    const ourEvents = ours.jobEvents.get(id) ?? []
    const known = new Set(ourEvents.map(identity))
    const fresh = (theirs.jobEvents.get(id) ?? []).filter(e => !known.has(identity(e)) && !unacked.has(jobEventKey(id, e.seq)))
    let seq = ourEvents.at(-1)?.seq ?? 0
    for (const e of fresh) ops.push({ type: 'put', key: jobEventKey(id, ++seq), value: JSON.stringify({ ...e, seq }) })
    report.jobEvents += fresh.length
    if (unacked.has(jobKey(id))) continue
    const [theirRank, theirAt] = progress(their)
    // Higher epochs win; progress, then time, only between equal epochs.
    const takeTheirs = our === undefined || (() => {
      const [r, at] = progress(our)
      const te = jobEpoch(their)
      const oe = jobEpoch(our)
      return te !== oe ? te > oe : theirRank > r || (theirRank === r && theirAt > at)
    })()
    if (takeTheirs) {
      ops.push({ type: 'put', key: jobKey(id), value: JSON.stringify(their) })
      ;(our === undefined ? report.jobsAdded : report.jobsUpdated).push(id)
      if (!isTerminalJobStatus(their.status)) report.activeJobs.push(id)
    }
  }

  for (const key of new Set([...theirs.config.keys(), ...theirs.configMeta.keys()])) {
    if (unacked.has(configKey(key)) || unacked.has(configMetaKey(key))) {
      report.stale.push(`config ${key}`)
      continue
    }
    const theirMeta = theirs.configMeta.get(key)
    const ourMeta = ours.configMeta.get(key)
    const ourHas = ours.config.has(key) || ourMeta !== undefined
    // Higher epochs win; the write times decide only between equal epochs.
    const theirsLater = theirMeta !== undefined
      ? (ourMeta === undefined || (epochOf(theirMeta) !== epochOf(ourMeta) ? epochOf(theirMeta) > epochOf(ourMeta) : theirMeta.at > ourMeta.at))
      : !ourHas
    if (!theirsLater) continue
    const value = theirMeta?.deleted === true ? undefined : theirs.config.get(key)
    const same = JSON.stringify(value) === JSON.stringify(ours.config.get(key))
    if (theirMeta !== undefined) ops.push({ type: 'put', key: configMetaKey(key), value: JSON.stringify(theirMeta) })
    if (same) continue
    ops.push(value === undefined ? { type: 'del', key: configKey(key) } : { type: 'put', key: configKey(key), value: JSON.stringify(value) })
    config.push({ key, value })
    report.config.push(key)
  }

  const revisions = mergeRevisions(local, foreign)
  ops.push(...revisions.ops)
  if (revisions.report.length > 0) report.revisions = revisions.report

  return { ops, nodes, config, gseq, report }
}
