/**
 * The manager store: the one adapter that owns the manager's persistence (node lifecycle
 * records with their machine snapshots, lifecycle and job event logs, jobs, config) in a
 * LevelDB database.
 *
 * Writes are staged one at a time through a serial queue against an in-memory view, then
 * flushed by group commit (committer.ts); a call resolves only once its batch is synced.
 * Reads return only what is durable: node and config reads come from a committed view
 * updated after each flush, event and job reads from the database itself.
 */
import type { Logger } from 'pino'
import { ClusterdError } from '../../protocol/errors.js'
import { JOB_KINDS, JOB_STATUSES, type JobEvent, type JobRecord } from '../../protocol/jobs.js'
import { isTransitionalState, type LifecycleEvent, type LifecycleEventType, type LifecycleState, type NodeRecord } from '../../protocol/nodes.js'
import { decide, stateOf, type NodeMachineEvent, type NodeMachineEventType } from '../lifecycle/node-machine.js'
import type { Lineage, ReplicationBatch } from '../../protocol/replication-wire.js'
import { Committer, type BatchOp } from './committer.js'
import { DEFAULT_LIST_LIMIT, PREFIX } from './constants.js'
import { META_KEYS, assertName, configKey, configMetaKey, eventKey, jobEventKey, jobKey, nodeEventKey, nodeKey, range, rangeAfter } from './keys.js'
import { planMerge, type ConfigMeta, type MergeReport } from './merge.js'
import { buildRecord, encodeNode, type NodeEntry } from './node-entry.js'
import { openDb, writeFailure, writeMarker, type StoreDb } from './open-db.js'
import { checkReplicated } from './replicated.js'
import { readLineage, writeLineage } from './lineage.js'
import { readUnacked, writeUnacked, type UnackedWrites } from './unacked.js'
import { DEFAULT_PRUNE_LIMITS, planPrune, type PruneCursor, type PruneLimits, type RetentionPolicy } from './retention.js'
import { guardIterator, guardRead, loadState, parseStored, readValues, validateImport } from './restore.js'
import { SerialQueue } from './serial-queue.js'
import type { BindingResult, DiscoveredNode, InFlightNode, ListEventsOptions, ListJobsOptions, NewJobEvent, NodeCommand, NodeNote, RebindCommand, StoreEntry, TransitionMeta, TransitionResult, UpsertResult } from './types.js'
import { conflictsAfterRebind, judgeClaim } from '../lifecycle/name-binding.js'

/** Collaborators of the store. */
export interface ManagerStoreComponents {
  logger: Logger
  /** Clock for record and event times; a test swaps in a fake one. */
  now?: () => Date
  /**
   * Called with each durable write's raw ops, in revision order (the replicator). The write is
   * acknowledged to its caller only once this settles; a rejection is logged, never surfaced
   * (the write is already durable here), except CLUSTERD_ERR_MANAGER_CHANGED: this manager was
   * replaced, so the write is not acknowledged and its caller gets that error.
   */
  afterCommit?: (batch: ReplicationBatch) => Promise<void>
  /**
   * Checked before every write is staged: an error (CLUSTERD_ERR_MANAGER_CHANGED once the
   * manager was deposed) refuses the write with nothing written; null lets it through.
   */
  fence?: () => ClusterdError | null
}

/** Settings of the store. */
export interface ManagerStoreInit {
  /** Directory of the LevelDB database (created if missing). */
  path: string
  /**
   * Epoch of the manager writing through this store: stamped on every lifecycle event, job
   * record and config write, so a merge can let higher epochs win (merge.ts). Absent for a
   * replica (it writes only what the manager stamped).
   */
  epoch?: number
}

const EVENT_TYPES: Record<NodeMachineEventType, LifecycleEventType> = {
  DISCOVERED: 'discovered',
  COMMISSION: 'commission-requested',
  DECOMMISSION: 'decommission-requested',
  UPGRADE: 'upgrade-requested',
  JOB_SUCCEEDED: 'job-succeeded',
  JOB_FAILED: 'job-failed',
  JOB_CANCELLED: 'job-cancelled',
  SET_VARS: 'vars-set'
}

/** A staged write: the caller's result, and a promise that settles when it is durable. */
interface Staged<T> { result: T, durable: Promise<void> }

/** Durable store of the manager's node lifecycle records, events, jobs and config. */
export class ManagerStore {
  private readonly log: Logger
  private readonly now: () => Date
  private readonly path: string
  private readonly afterCommit: ((batch: ReplicationBatch) => Promise<void>) | undefined
  private readonly fence: (() => ClusterdError | null) | undefined
  private readonly epoch: number | undefined
  private readonly queue = new SerialQueue()
  private status: 'stopped' | 'starting' | 'started' | 'stopping' = 'stopped'
  private db: StoreDb | null = null
  private committer: Committer | null = null

  // Staged view: what the next write builds on (may be ahead of the disk by one flush).
  private nodes = new Map<string, NodeEntry>()
  private stagedRevision = 0
  private gseq = 0
  private readonly jobSeq = new Map<string, number>()
  /** Last event seq of names forgotten since the load (their `forgotten` event may not be durable yet). */
  private readonly forgottenSeq = new Map<string, number>()

  // Committed view: what reads return.
  private committedNodes = new Map<string, NodeRecord>()
  private committedConfig = new Map<string, unknown>()
  private committedRevision = 0

  constructor (components: ManagerStoreComponents, init: ManagerStoreInit) {
    this.log = components.logger.child({ component: 'manager-store' })
    this.now = components.now ?? (() => new Date())
    this.path = init.path
    this.afterCommit = components.afterCommit
    this.fence = components.fence
    this.epoch = init.epoch
  }

  /** Revision of the durable state; bumped by every write, never reused. */
  get revision (): number {
    return this.committedRevision
  }

  /** Open the database, validate it and restore every node's machine snapshot. */
  async start (): Promise<void> {
    if (this.status !== 'stopped') return
    this.status = 'starting'
    try {
      const db = await openDb(this.path)
      this.db = db
      await this.load(db)
      this.committer = new Committer(async ops => {
        try {
          await db.batch(ops, { sync: true })
        } catch (err: any) {
          this.log.error({ err }, 'store write failed; refusing writes until restart (reads go on)')
          throw writeFailure(err, this.path)
        }
      })
      await writeMarker(this.path, this.committedRevision, this.now().toISOString())
      this.status = 'started'
      this.log.info({ path: this.path, revision: this.committedRevision, nodes: this.nodes.size }, 'manager store started')
    } catch (err) {
      await this.db?.close().catch(() => {})
      this.db = null
      this.status = 'stopped'
      throw err
    }
  }

  /** Finish queued writes, record the final revision and close the database. */
  async stop (): Promise<void> {
    if (this.status !== 'started') return
    this.status = 'stopping'
    try {
      await this.queue.idle()
      await this.committer?.barrier()
      await writeMarker(this.path, this.committedRevision, this.now().toISOString())
    } catch (err) {
      this.log.error({ err }, 'manager store did not flush cleanly')
    } finally {
      await this.db?.close()
      this.db = null
      this.committer = null
      this.status = 'stopped'
      this.log.info({ revision: this.committedRevision }, 'manager store stopped')
    }
  }

  // ---- node lifecycle -------------------------------------------------------------------

  /**
   * Apply a lifecycle operation or job report to `node`. On success the new record,
   * snapshot, machine version and the appended lifecycle event are written in one batch.
   * A refusal or an ignored job report writes nothing.
   */
  async applyTransition (node: string, command: NodeCommand, meta: TransitionMeta): Promise<TransitionResult> {
    this.assertStarted()
    return await this.write(() => this.stageTransition(node, command, meta))
  }

  /** What `applyTransition` would do now, without writing anything. */
  async preview (node: string, command: NodeCommand): Promise<TransitionResult> {
    this.assertStarted()
    return await this.queue.run(() => {
      const entry = this.nodes.get(node)
      if (entry === undefined) return notFound(node, command.type)
      const decision = decide(entry.snapshot, { ...command, at: this.now().toISOString() } as NodeMachineEvent)
      if (!decision.ok) return decision
      if (!decision.changed) return { ok: true, changed: false, record: clone(entry.record), ignored: decision.ignored }
      const record = buildRecord(entry.record, decision.snapshot, entry.record.updatedAt)
      return { ok: true, changed: true, record, event: this.makeEvent(node, entry.lastSeq + 1, this.gseq + 1, command, decision.from, decision.to, record.since, { actor: 'preview' }) }
    })
  }

  /**
   * Record a node membership reports. A new name gets a `discovered` record and event, bound
   * to the reporting peer; for the bound peer only reachability and boot are updated (no
   * lifecycle event). Another peer's claim on a bound name is refused (name-binding.ts): it is
   * recorded once in `nameConflicts` with a `name-conflict` event, and changes nothing else.
   */
  async upsertNode (node: DiscoveredNode, meta: TransitionMeta = { actor: 'membership' }): Promise<UpsertResult> {
    this.assertStarted()
    assertName(node.name, 'node name')
    return await this.write<UpsertResult>(async () => {
      const at = this.now().toISOString()
      const entry = this.nodes.get(node.name)
      const claim = judgeClaim(entry?.record, node, at)
      if (entry !== undefined && claim.kind !== 'bound') {
        if (claim.kind !== 'conflict') return this.noWrite({ record: clone(entry.record), created: false, event: null, conflict: true })
        const record: NodeRecord = { ...entry.record, nameConflicts: claim.conflicts, updatedAt: at }
        const event = this.makeNote(entry, { type: 'name-conflict', actor: meta.actor, peerId: node.peerId, reason: `peer ${node.peerId} claims the name, which is bound to peer ${entry.record.peerId}: refused` }, at)
        return this.stageNode({ ...entry, record, lastSeq: event.seq }, [event], { record: clone(record), created: false, event, conflict: true })
      }
      if (entry !== undefined) {
        const boot = node.boot === undefined ? entry.record.boot : node.boot
        if (entry.record.reachable === node.reachable && JSON.stringify(entry.record.boot) === JSON.stringify(boot) && node.returned === undefined) {
          return this.noWrite({ record: clone(entry.record), created: false, event: null, conflict: false })
        }
        const record: NodeRecord = { ...entry.record, reachable: node.reachable, boot, updatedAt: at }
        // A return is recorded in the same batch as the reachability that shows it.
        const event = node.returned === undefined ? null : this.makeNote(entry, { type: 'returned', reason: node.returned, actor: meta.actor }, at)
        return this.stageNode({ ...entry, record, lastSeq: event?.seq ?? entry.lastSeq }, event === null ? [] : [event], { record: clone(record), created: false, event, conflict: false })
      }
      const decision = decide(null, { type: 'DISCOVERED', at })
      if (!decision.ok || !decision.changed) throw new Error(`node machine refused DISCOVERED for a new node: ${JSON.stringify(decision)}`)
      const record = buildRecord({ name: node.name, peerId: node.peerId, reachable: node.reachable, discoveredAt: at, boot: node.boot ?? null }, decision.snapshot, at)
      // A forgotten name's history stays: the new record's events continue its sequence.
      const seq = (this.forgottenSeq.get(node.name) ?? await this.lastNodeEventSeq(node.name)) + 1
      this.forgottenSeq.delete(node.name)
      const event = this.makeEvent(node.name, seq, ++this.gseq, { type: 'DISCOVERED' }, null, decision.to, at, meta)
      return this.stageNode({ record, snapshot: decision.snapshot, lastSeq: seq }, [event], { record: clone(record), created: true, event, conflict: false })
    })
  }

  /**
   * Move a node's name to another peer (a reinstalled machine): the record keeps its state,
   * roles and vars, takes the new peer and its reachability, and drops that peer from the
   * conflicts (rebinding to the bound peer clears them all); a `rebound` event records it.
   * Refused for an unknown node and for one in a lifecycle job. The caller checks that the
   * peer is a member claiming the name (name-binding.ts `checkRebind`).
   */
  async rebindNode (name: string, cmd: RebindCommand): Promise<BindingResult> {
    this.assertStarted()
    assertName(name, 'node name')
    return await this.write<BindingResult>(() => {
      const entry = this.bindableEntry(name, 'move its name')
      const at = this.now().toISOString()
      const from = entry.record.peerId
      const reason = cmd.reason ?? (from === cmd.peerId ? `binding to peer ${from} kept; recorded conflicts cleared` : `name moved from peer ${from} to peer ${cmd.peerId}`)
      const event = this.makeNote(entry, { type: 'rebound', actor: cmd.actor, peerId: cmd.peerId, previousPeerId: from, reason }, at)
      const record: NodeRecord = { ...entry.record, peerId: cmd.peerId, reachable: cmd.reachable, nameConflicts: conflictsAfterRebind(entry.record.nameConflicts, from, cmd.peerId), updatedAt: at }
      return this.stageNode({ ...entry, record, lastSeq: event.seq }, [event], { record: clone(record), event })
    })
  }

  /**
   * Remove a node's record (a decommissioned or long-gone machine, or a name to give up). Its
   * lifecycle events stay, ending with a `forgotten` event, and a node later discovered with
   * the name continues that log. Refused for an unknown node and for one in a lifecycle job.
   */
  async forgetNode (name: string, meta: TransitionMeta): Promise<BindingResult> {
    this.assertStarted()
    assertName(name, 'node name')
    return await this.write<BindingResult>(() => {
      const entry = this.bindableEntry(name, 'forget it')
      const at = this.now().toISOString()
      const event = this.makeNote(entry, { type: 'forgotten', actor: meta.actor, peerId: entry.record.peerId, reason: meta.reason ?? `record removed (was ${entry.record.state}, bound to peer ${entry.record.peerId})` }, at)
      this.nodes.delete(name)
      this.forgottenSeq.set(name, event.seq)
      const text = JSON.stringify(event)
      const ops: BatchOp[] = [{ type: 'del', key: nodeKey(name) }, { type: 'put', key: nodeEventKey(name, event.seq), value: text }, { type: 'put', key: eventKey(event.gseq), value: text }]
      return this.stage(ops, () => { this.committedNodes.delete(name); this.namesCache = null }, { record: clone(entry.record), event })
    })
  }

  /**
   * Append a lifecycle event that changes no state (a return, a verify or reconfigure
   * outcome) and, when `note.drift` is given, set the node's drift, in one batch. Undefined
   * for an unknown node.
   */
  async noteNode (name: string, note: NodeNote): Promise<NodeRecord | undefined> {
    this.assertStarted()
    return await this.write<NodeRecord | undefined>(() => {
      const entry = this.nodes.get(name)
      if (entry === undefined) return this.noWrite(undefined)
      const at = this.now().toISOString()
      const event = this.makeNote(entry, note, at)
      const record: NodeRecord = { ...entry.record, ...(note.drift !== undefined ? { drift: note.drift } : {}), updatedAt: at }
      return this.stageNode({ ...entry, record, lastSeq: event.seq }, [event], clone(record))
    })
  }

  /** Update whether membership sees the node alive. Not a lifecycle event; undefined if unknown. */
  async setReachable (name: string, reachable: boolean): Promise<NodeRecord | undefined> {
    this.assertStarted()
    return await this.write<NodeRecord | undefined>(() => {
      const entry = this.nodes.get(name)
      if (entry === undefined) return this.noWrite(undefined)
      if (entry.record.reachable === reachable) return this.noWrite(clone(entry.record))
      const record: NodeRecord = { ...entry.record, reachable, updatedAt: this.now().toISOString() }
      return this.stageNode({ ...entry, record }, [], clone(record))
    })
  }

  /** The durable record of a node. */
  async getNode (name: string): Promise<NodeRecord | undefined> {
    this.assertStarted()
    const record = this.committedNodes.get(name)
    return record === undefined ? undefined : clone(record)
  }

  /** Every node record, by name. */
  async listNodes (): Promise<NodeRecord[]> {
    this.assertStarted()
    return [...this.committedNodes.values()].sort((a, b) => a.name < b.name ? -1 : 1).map(clone)
  }

  /** How many nodes the store knows. */
  get nodeCount (): number {
    return this.committedNodes.size
  }

  /**
   * One page of node records in name order: at most `limit` names after `after` ('' = from
   * the first), and the `after` of the next page (null on the last). Copies only the page.
   */
  async pageNodes (options: { after?: string, limit: number }): Promise<{ items: NodeRecord[], next: string | null }> {
    this.assertStarted()
    const after = options.after ?? ''
    const names = this.sortedNames()
    let lo = 0
    let hi = names.length
    while (lo < hi) { const mid = (lo + hi) >>> 1; if ((names[mid] as string) <= after) lo = mid + 1; else hi = mid }
    const page = names.slice(lo, lo + options.limit)
    const items = page.map(n => clone(this.committedNodes.get(n) as NodeRecord))
    return { items, next: lo + page.length < names.length && page.length > 0 ? page.at(-1) as string : null }
  }

  private namesCache: { size: number, names: string[] } | null = null

  /** Node names sorted; stale when the count moved (a forget also drops the cache). */
  private sortedNames (): string[] {
    if (this.namesCache?.size !== this.committedNodes.size) {
      this.namesCache = { size: this.committedNodes.size, names: [...this.committedNodes.keys()].sort() }
    }
    return this.namesCache.names
  }

  /** Nodes with a job in flight (commissioning, upgrading, decommissioning), to resume or fail after a restart. */
  async listInFlight (): Promise<InFlightNode[]> {
    const out: InFlightNode[] = []
    for (const record of await this.listNodes()) {
      if (isTransitionalState(record.state)) out.push({ node: record.name, state: record.state, jobId: record.currentJob, since: record.since })
    }
    return out
  }

  /** Lifecycle events, oldest first; see ListEventsOptions for the cursor rules. */
  async listEvents (options: ListEventsOptions = {}): Promise<LifecycleEvent[]> {
    const db = this.assertStarted()
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    const prefix = options.node === undefined ? PREFIX.event : `${PREFIX.nodeEvent}!${options.node}`
    if (options.node !== undefined) assertName(options.node, 'node name')
    const bounds = options.afterSeq === undefined
      ? { ...range(prefix), limit, reverse: true }
      : { ...rangeAfter(prefix, options.afterSeq), limit }
    const events = (await readValues(this.path, db, bounds)) as LifecycleEvent[]
    return options.afterSeq === undefined ? events.reverse() : events
  }

  // ---- jobs ------------------------------------------------------------------------------

  /** Create or replace a job record. */
  async putJob (job: JobRecord): Promise<void> {
    this.assertStarted()
    checkJob(job)
    const stamped: JobRecord = this.epoch === undefined ? job : { ...job, writtenEpoch: this.epoch, writtenAt: this.now().toISOString() }
    await this.write(async () => {
      await this.knownJobSeq(job.id)
      return this.stage([{ type: 'put', key: jobKey(job.id), value: JSON.stringify(stamped) }], undefined, undefined)
    })
  }

  /** A job record, if it exists. */
  async getJob (id: string): Promise<JobRecord | undefined> {
    const db = this.assertStarted()
    assertName(id, 'job id')
    const raw = await guardRead(this.path, db.get(jobKey(id)), jobKey(id))
    return raw === undefined ? undefined : parseStored(jobKey(id), raw) as JobRecord
  }

  /** Job records, oldest first by creation time. */
  async listJobs (options: ListJobsOptions = {}): Promise<JobRecord[]> {
    const db = this.assertStarted()
    let jobs = (await readValues(this.path, db, range(PREFIX.job))) as JobRecord[]
    if (options.status !== undefined) jobs = jobs.filter(j => j.status === options.status)
    if (options.node !== undefined) jobs = jobs.filter(j => j.nodes.includes(options.node as string))
    jobs.sort((a, b) => a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : (a.createdAt < b.createdAt ? -1 : 1))
    return options.limit === undefined ? jobs : jobs.slice(-options.limit)
  }

  /** Append progress events to a job's log in one batch; returns them with their seq. */
  async appendJobEvents (jobId: string, events: NewJobEvent[]): Promise<JobEvent[]> {
    this.assertStarted()
    assertName(jobId, 'job id')
    return await this.write(async () => {
      let seq = await this.knownJobSeq(jobId, true)
      const at = this.now().toISOString()
      const out: JobEvent[] = events.map(e => ({ ...e, jobId, seq: ++seq, at: e.at ?? at }))
      this.jobSeq.set(jobId, seq)
      if (out.length === 0) return this.noWrite(out)
      return this.stage(out.map(e => ({ type: 'put', key: jobEventKey(jobId, e.seq), value: JSON.stringify(e) })), undefined, out)
    })
  }

  /** A job's events after `afterSeq` (default 0), oldest first. */
  async listJobEvents (jobId: string, options: { afterSeq?: number, limit?: number } = {}): Promise<JobEvent[]> {
    const db = this.assertStarted()
    assertName(jobId, 'job id')
    const bounds = { ...rangeAfter(`${PREFIX.jobEvent}!${jobId}`, options.afterSeq ?? 0), limit: options.limit ?? DEFAULT_LIST_LIMIT }
    return (await readValues(this.path, db, bounds)) as JobEvent[]
  }

  // ---- config ----------------------------------------------------------------------------

  /** A config value (JSON data), if set. */
  async getConfig (key: string): Promise<unknown> {
    this.assertStarted()
    const value = this.committedConfig.get(key)
    return value === undefined ? undefined : clone(value)
  }

  /** A durable config value without copying (callers must not modify it); for hot paths that cannot await. */
  peekConfig (key: string): unknown {
    return this.committedConfig.get(key)
  }

  /** Set a config value (any JSON data); `undefined` deletes the key. */
  async setConfig (key: string, value: unknown): Promise<void> {
    this.assertStarted()
    if (typeof key !== 'string' || key.length === 0 || key.length > 512) {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `invalid config key ${JSON.stringify(key)}`)
    }
    const text = value === undefined ? undefined : JSON.stringify(value)
    const copy = text === undefined ? undefined : JSON.parse(text)
    const meta: ConfigMeta = { at: this.now().toISOString(), ...(text === undefined ? { deleted: true } : {}), ...(this.epoch !== undefined ? { epoch: this.epoch } : {}) }
    await this.write(() => this.stage(
      [
        text === undefined ? { type: 'del', key: configKey(key) } : { type: 'put', key: configKey(key), value: text },
        { type: 'put', key: configMetaKey(key), value: JSON.stringify(meta) }
      ],
      () => { if (copy === undefined) this.committedConfig.delete(key); else this.committedConfig.set(key, copy) },
      undefined
    ))
  }

  /** Every config value by key. */
  async allConfig (): Promise<Record<string, unknown>> {
    this.assertStarted()
    return Object.fromEntries([...this.committedConfig.entries()].sort(([a], [b]) => a < b ? -1 : 1).map(([k, v]) => [k, clone(v)]))
  }

  // ---- retention -------------------------------------------------------------------------

  /**
   * One bounded pruning step (retention.ts): delete at most `limits.maxOps` keys of finished
   * jobs and old lifecycle events in one ordinary write, replicated like any other, so
   * replicas forget the same history. Returns how many keys went and where the pass goes on
   * (null: the pass is complete).
   */
  async pruneStep (policy: RetentionPolicy, cursor: PruneCursor = { afterNode: '' }, limits: PruneLimits = DEFAULT_PRUNE_LIMITS): Promise<{ deleted: number, jobs: string[], next: PruneCursor | null }> {
    const db = this.assertStarted()
    return await this.write(async () => {
      // Plan against the disk with nothing staged ahead of it: what we read is what we delete.
      await this.committer?.barrier()
      const lastSeq = new Map([...this.nodes].map(([name, e]) => [name, e.lastSeq]))
      const plan = await planPrune(db, this.path, lastSeq, policy, cursor, this.now().getTime(), limits)
      const result = { deleted: plan.ops.length, jobs: plan.jobsDeleted, next: plan.next }
      if (plan.ops.length === 0) return this.noWrite(result)
      for (const id of plan.jobsDeleted) this.jobSeq.delete(id)
      return this.stage(plan.ops, undefined, result)
    })
  }

  // ---- replication -----------------------------------------------------------------------

  /** The whole durable state as key-ordered entries (includes `m!revision`). */
  async exportAll (): Promise<StoreEntry[]> {
    const db = this.assertStarted()
    return await this.queue.run(async () => {
      await this.committer?.barrier()
      const out: StoreEntry[] = []
      for await (const [key, raw] of guardIterator(this.path, db.iterator())) out.push({ key, value: parseStored(key, raw) })
      return out
    })
  }

  /**
   * A consistent snapshot of the durable state, read in chunks of about `maxBytes` (JSON bytes):
   * one LevelDB iterator taken once everything staged is durable, so later writes do not show
   * up in it, and the memory it holds is one chunk, not the store. `revision` is the snapshot's.
   */
  async openSnapshot (maxBytes: number): Promise<{ revision: number, chunks: AsyncGenerator<StoreEntry[]> }> {
    const db = this.assertStarted()
    const { revision, iterator } = await this.queue.run(async () => {
      await this.committer?.barrier()
      return { revision: this.committedRevision, iterator: db.iterator() }
    })
    const path = this.path
    async function * chunks (): AsyncGenerator<StoreEntry[]> {
      let chunk: StoreEntry[] = []
      let size = 0
      try {
        for await (const [key, raw] of guardIterator(path, iterator)) {
          chunk.push({ key, value: parseStored(key, raw) })
          size += key.length + raw.length + 20
          if (size >= maxBytes) {
            yield chunk
            chunk = []
            size = 0
          }
        }
        yield chunk
      } finally {
        await iterator.close().catch(() => {})
      }
    }
    return { revision, chunks: chunks() }
  }

  /**
   * Entries with keys after `after` ('' = from the first), about `maxBytes` of them, and the
   * `after` of the next range (null: none left). Used to hand a replica's state to a manager
   * in chunks; consistent across calls as long as nothing writes in between (a replica's
   * store changes only by the manager that is pulling it).
   */
  async exportRange (after: string, maxBytes: number): Promise<{ entries: StoreEntry[], next: string | null }> {
    const db = this.assertStarted()
    return await this.queue.run(async () => {
      await this.committer?.barrier()
      const entries: StoreEntry[] = []
      let size = 0
      for await (const [key, raw] of guardIterator(this.path, db.iterator(after === '' ? {} : { gt: after }))) {
        if (size >= maxBytes) return { entries, next: entries.at(-1)?.key ?? null }
        entries.push({ key, value: parseStored(key, raw) })
        size += key.length + raw.length + 20
      }
      return { entries, next: null }
    })
  }

  /** The lineage this store's history follows (lineage.ts), null when unknown. */
  async lineage (): Promise<Lineage | null> {
    this.assertStarted()
    return await readLineage(this.path)
  }

  /** Record (or, with null, forget) the lineage this store's history follows. */
  async setLineage (lineage: Lineage | null): Promise<void> {
    this.assertStarted()
    await writeLineage(this.path, lineage)
  }

  /** Keys written after this store's manager was replaced (unacked.ts), null when none are recorded. */
  async unacked (): Promise<UnackedWrites | null> {
    this.assertStarted()
    return await readUnacked(this.path)
  }

  /** Record (or, with null, forget) the keys written after this store's manager was replaced. */
  async setUnacked (value: UnackedWrites | null): Promise<void> {
    this.assertStarted()
    await writeUnacked(this.path, value)
  }

  /**
   * Replace the whole state with `entries` (from `exportAll`) in one batch, then reload.
   * Everything is validated first; on a validation error nothing changes.
   */
  async importAll (entries: StoreEntry[]): Promise<{ revision: number }> {
    const db = this.assertStarted()
    const ops = validateImport(entries)
    return await this.queue.run(async () => {
      await this.committer?.barrier()
      const existing: BatchOp[] = []
      for await (const key of db.keys()) existing.push({ type: 'del', key })
      await db.batch([...existing, ...ops], { sync: true })
      await this.load(db)
      await writeMarker(this.path, this.committedRevision, this.now().toISOString())
      this.log.info({ revision: this.committedRevision, entries: entries.length }, 'manager store state imported')
      return { revision: this.committedRevision }
    })
  }

  /**
   * Bring every change of another lineage's store (`entries`, its `exportAll`) that this store
   * lacks into it, in one write (merge.ts has the rules). The foreign state is validated
   * first; on a validation error nothing changes. Returns what was merged. `unacked`: keys the
   * foreign store wrote after its manager was replaced, kept as `stale-view` events, not applied.
   */
  async mergeForeign (entries: StoreEntry[], options: { unacked?: ReadonlySet<string> } = {}): Promise<MergeReport> {
    const db = this.assertStarted()
    validateImport(entries)
    return await this.write(async () => {
      await this.committer?.barrier()
      const local: StoreEntry[] = []
      for await (const [key, raw] of guardIterator(this.path, db.iterator())) local.push({ key, value: parseStored(key, raw) })
      const plan = planMerge(local, entries, this.gseq, {
        at: this.now().toISOString(),
        ...(this.epoch !== undefined ? { epoch: this.epoch } : {}),
        ...(options.unacked !== undefined ? { unacked: options.unacked } : {})
      })
      if (plan.ops.length === 0) return this.noWrite(plan.report)
      for (const entry of plan.nodes) this.nodes.set(entry.record.name, entry)
      this.gseq = plan.gseq
      this.jobSeq.clear() // job event counters moved; re-read on demand
      const records = plan.nodes.map(e => e.record)
      // Not handed to afterCommit: the replicator calls this while it reconciles a replica, and
      // replicas pick the merge up from the snapshot that follows (the sweep sends it to any
      // replica left behind); the merged changes stay on their source until that snapshot.
      return this.stage(plan.ops, () => {
        for (const r of records) this.committedNodes.set(r.name, r)
        for (const { key, value } of plan.config) {
          if (value === undefined) this.committedConfig.delete(key); else this.committedConfig.set(key, value)
        }
      }, plan.report, { replicate: false })
    })
  }

  /**
   * Replica mode: write a batch the manager committed, iff it directly follows this store's
   * revision (`batch.revision === revision + 1`); otherwise write nothing and report a gap
   * (the manager then sends a snapshot for `importAll`). The batch is validated first.
   */
  async applyReplicated (batch: ReplicationBatch): Promise<{ ok: true, revision: number } | { gap: true, revision: number }> {
    const db = this.assertStarted()
    const { ops, changes } = checkReplicated(batch)
    return await this.queue.run(async () => {
      await this.committer?.barrier()
      if (batch.revision !== this.committedRevision + 1) return { gap: true, revision: this.committedRevision }
      try {
        await db.batch(ops, { sync: true })
      } catch (err: any) {
        throw writeFailure(err, this.path)
      }
      for (const entry of changes.nodes) {
        this.nodes.set(entry.record.name, entry)
        this.committedNodes.set(entry.record.name, entry.record)
      }
      for (const name of changes.forgotten) {
        this.nodes.delete(name)
        this.committedNodes.delete(name)
        this.namesCache = null
      }
      for (const { key, value } of changes.config) {
        if (value === undefined) this.committedConfig.delete(key); else this.committedConfig.set(key, value)
      }
      if (changes.gseq !== null) this.gseq = changes.gseq
      this.jobSeq.clear() // job event counters may have moved; re-read on demand
      this.stagedRevision = this.committedRevision = batch.revision
      return { ok: true, revision: batch.revision }
    })
  }

  // ---- internals -------------------------------------------------------------------------

  private assertStarted (): StoreDb {
    if (this.status !== 'started' || this.db === null) {
      throw new ClusterdError('CLUSTERD_ERR_UNAVAILABLE', 'manager store is not started')
    }
    return this.db
  }

  /** Stage through the serial queue, then wait (outside it) until the write is durable. */
  private async write<T> (stage: () => Staged<T> | Promise<Staged<T>>): Promise<T> {
    const refused = this.fence?.() ?? null
    if (refused !== null) throw refused
    const staged = await this.queue.run(stage)
    await staged.durable
    return staged.result
  }

  /** No write of our own, but answer only once earlier writes are durable. */
  private noWrite<T> (result: T): Staged<T> {
    const durable = this.committerOrThrow().barrier()
    durable.catch(() => {}) // awaited by write()
    return { result, durable }
  }

  /** The entry of a node an operator changes the binding of; throws when unknown or in a lifecycle job. */
  private bindableEntry (name: string, what: string): NodeEntry {
    const entry = this.nodes.get(name)
    if (entry === undefined) throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node named ${name} is known to the manager`)
    if (isTransitionalState(entry.record.state)) {
      throw new ClusterdError('CLUSTERD_ERR_NODE_BUSY', `node ${name} is ${entry.record.state} (job ${entry.record.currentJob ?? '?'}); wait for it or cancel it to ${what}`)
    }
    return entry
  }

  /** Seq of the newest lifecycle event kept for `name` (0: none), from the database. */
  private async lastNodeEventSeq (name: string): Promise<number> {
    const db = this.assertStarted()
    let seq = 0
    for await (const key of guardIterator(this.path, db.keys({ ...range(`${PREFIX.nodeEvent}!${name}`), reverse: true, limit: 1 }))) {
      seq = Number(key.slice(key.lastIndexOf('!') + 1))
    }
    return seq
  }

  private stageTransition (node: string, command: NodeCommand, meta: TransitionMeta): Staged<TransitionResult> {
    const entry = this.nodes.get(node)
    if (entry === undefined) return this.noWrite(notFound(node, command.type))
    const at = this.now().toISOString()
    const decision = decide(entry.snapshot, { ...command, at } as NodeMachineEvent)
    if (!decision.ok) return this.noWrite(decision)
    if (!decision.changed) return this.noWrite({ ok: true, changed: false, record: clone(entry.record), ignored: decision.ignored })
    const record = buildRecord(entry.record, decision.snapshot, at)
    const event = this.makeEvent(node, entry.lastSeq + 1, ++this.gseq, command, decision.from, decision.to, at, meta)
    return this.stageNode({ record, snapshot: decision.snapshot, lastSeq: event.seq }, [event], { ok: true, changed: true, record: clone(record), event })
  }

  /** Stage a node entry and its new lifecycle events in one batch. */
  private stageNode<T> (entry: NodeEntry, events: LifecycleEvent[], result: T): Staged<T> {
    const name = entry.record.name
    this.nodes.set(name, entry)
    const ops: BatchOp[] = [{ type: 'put', key: nodeKey(name), value: encodeNode(entry) }]
    for (const e of events) {
      const text = JSON.stringify(e)
      ops.push({ type: 'put', key: nodeEventKey(name, e.seq), value: text }, { type: 'put', key: eventKey(e.gseq), value: text })
    }
    const record = entry.record
    return this.stage(ops, () => this.committedNodes.set(name, record), result)
  }

  /** Add the revision (and global event seq) to `ops` and hand them to the committer. */
  private stage<T> (ops: BatchOp[], onCommit: (() => void) | undefined, result: T, options: { replicate: boolean } = { replicate: true }): Staged<T> {
    const revision = ++this.stagedRevision
    ops.push({ type: 'put', key: META_KEYS.revision, value: String(revision) }, { type: 'put', key: META_KEYS.gseq, value: String(this.gseq) })
    let replicated: Promise<void> = Promise.resolve()
    const durable = this.committerOrThrow().add(ops, () => {
      onCommit?.()
      this.committedRevision = revision
      // Started here, in commit order, so the observer sees revisions strictly in sequence.
      if (this.afterCommit !== undefined && options.replicate) {
        replicated = this.notifyCommit({ revision, ops })
        // It may reject (a replaced manager) before `durable` below awaits it: never unhandled.
        replicated.catch(() => {})
      }
    }).then(async () => { await replicated })
    durable.catch(() => {}) // awaited by write(); this only keeps a failure from being reported as unhandled first
    return { result, durable }
  }

  private async notifyCommit (batch: ReplicationBatch): Promise<void> {
    try {
      await this.afterCommit?.(batch)
    } catch (err) {
      // Replaced manager: the write is durable here but must not be acknowledged.
      if (err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_MANAGER_CHANGED') throw err
      this.log.warn({ err, revision: batch.revision }, 'after-commit hook failed; the write stays durable here')
    }
  }

  private committerOrThrow (): Committer {
    if (this.committer === null) throw new ClusterdError('CLUSTERD_ERR_UNAVAILABLE', 'manager store is not started')
    return this.committer
  }

  /** A lifecycle event that records something without a transition (from = to = current state). */
  private makeNote (entry: NodeEntry, note: NodeNote, at: string): LifecycleEvent {
    const state = stateOf(entry.snapshot)
    const event: LifecycleEvent = {
      seq: entry.lastSeq + 1,
      gseq: ++this.gseq,
      node: entry.record.name,
      at,
      type: note.type,
      from: state,
      to: state,
      reason: note.reason ?? null,
      jobId: note.jobId ?? null,
      actor: note.actor
    }
    if (note.drift != null) event.drift = clone(note.drift)
    if (this.epoch !== undefined) event.epoch = this.epoch
    if (note.peerId !== undefined) event.peerId = note.peerId
    if (note.previousPeerId !== undefined) event.previousPeerId = note.previousPeerId
    return event
  }

  private makeEvent (node: string, seq: number, gseq: number, command: { type: NodeMachineEventType }, from: LifecycleState | null, to: LifecycleState, at: string, meta: TransitionMeta): LifecycleEvent {
    const c = command as Partial<{ jobId: string, reason: string, roles: string[], vars: Record<string, string> }>
    const event: LifecycleEvent = {
      seq,
      gseq,
      node,
      at,
      type: EVENT_TYPES[command.type],
      from,
      to,
      reason: meta.reason ?? c.reason ?? null,
      jobId: c.jobId ?? null,
      actor: meta.actor
    }
    if (c.roles !== undefined) event.roles = [...c.roles]
    if (c.vars !== undefined) event.vars = { ...c.vars }
    if (this.epoch !== undefined) event.epoch = this.epoch
    return event
  }

  /** Last event seq of a job, from memory or the database. Unknown jobs: 0, or JOB_NOT_FOUND when `mustExist`. */
  private async knownJobSeq (id: string, mustExist = false): Promise<number> {
    const known = this.jobSeq.get(id)
    if (known !== undefined) return known
    const db = this.assertStarted()
    if (mustExist && await guardRead(this.path, db.get(jobKey(id)), jobKey(id)) === undefined) {
      throw new ClusterdError('CLUSTERD_ERR_JOB_NOT_FOUND', `job ${id} does not exist`)
    }
    let seq = 0
    for await (const key of guardIterator(this.path, db.keys({ ...range(`${PREFIX.jobEvent}!${id}`), reverse: true, limit: 1 }))) {
      seq = Number(key.slice(key.lastIndexOf('!') + 1))
    }
    this.jobSeq.set(id, seq)
    return seq
  }

  /** (Re)build both views from the database, validating everything restored. */
  private async load (db: StoreDb): Promise<void> {
    const state = await loadState(db, this.path, { checkMarker: this.status === 'starting' })
    this.nodes = state.nodes
    this.committedNodes = new Map([...state.nodes].map(([name, e]) => [name, e.record]))
    this.namesCache = null
    this.committedConfig = state.config
    this.stagedRevision = this.committedRevision = state.revision
    this.gseq = state.gseq
    this.jobSeq.clear()
    this.forgottenSeq.clear()
    const inFlight = [...state.nodes.values()].filter(e => isTransitionalState(stateOf(e.snapshot))).length
    this.log.debug({ nodes: state.nodes.size, inFlight, revision: state.revision }, 'manager store state loaded')
  }
}

function notFound (node: string, type: NodeMachineEventType): TransitionResult {
  return { ok: false, code: 'CLUSTERD_ERR_NODE_NOT_FOUND', message: `no node named ${node} is known to the manager`, from: null, event: type }
}




function clone<T> (value: T): T {
  return structuredClone(value)
}

function checkJob (job: JobRecord): void {
  assertName(job?.id, 'job id')
  if (!(JOB_KINDS as readonly string[]).includes(job.kind) || !(JOB_STATUSES as readonly string[]).includes(job.status) ||
    !Array.isArray(job.nodes) || typeof job.createdAt !== 'string' || typeof job.timeoutAt !== 'string') {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `job ${job.id} is malformed`)
  }
}
