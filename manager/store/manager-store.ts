/**
 * The manager store: the one adapter that owns the manager's persistence (node lifecycle
 * records with their machine snapshots, lifecycle and job event logs, jobs, config) in a
 * LevelDB database. This class is its whole public API, composed of parts that share one core:
 *
 * - store-core.ts: the database, the staged and committed views, the write path (serial queue,
 *   group commit, `afterCommit` before the acknowledgement) and the deposition fence;
 * - node-log.ts: node lifecycle writes and reads; node-bindings.ts: rebind and forget;
 * - job-log.ts: jobs, job events, the retention step; config-table.ts: config values;
 * - replica-sync.ts: export, import, a replica applying batches, the sidecars;
 * - foreign-merge.ts: merging another lineage's state (planned by merge.ts).
 *
 * Writes are staged one at a time through a serial queue against an in-memory view, then
 * flushed by group commit (committer.ts); a call resolves only once its batch is synced.
 * Reads return only what is durable: node and config reads come from a committed view
 * updated after each flush, event and job reads from the database itself.
 */
import type { JobEvent, JobRecord } from '../../protocol/jobs.js'
import type { RevisionInfo } from '../../protocol/revisions.js'
import type { LifecycleEvent, NodeRecord } from '../../protocol/nodes.js'
import type { Lineage, ReplicationBatch } from '../../protocol/replication-wire.js'
import { ConfigTable } from './config-table.js'
import { mergeForeign } from './foreign-merge.js'
import { JobLog } from './job-log.js'
import type { MergeReport } from './merge.js'
import { NodeBindings } from './node-bindings.js'
import { NodeLog } from './node-log.js'
import type { StoreDb } from './open-db.js'
import { ReplicaSync } from './replica-sync.js'
import { RevisionTable, type NewRevision } from './revision-table.js'
import { DEFAULT_PRUNE_LIMITS, type PruneCursor, type PruneLimits, type RetentionPolicy } from './retention.js'
import { StoreCore, type ManagerStoreComponents, type ManagerStoreInit } from './store-core.js'
import type { ConfigStore, JobStore, NodeStore, RevisionStore } from './store-interfaces.js'
import type {
  BindingResult, DiscoveredNode, InFlightNode, ListEventsOptions, ListJobsOptions, NewJobEvent, NodeCommand, NodeNote,
  RebindCommand, StoreEntry, TransitionMeta, TransitionResult, UpsertResult
} from './types.js'
import type { UnackedWrites } from './unacked.js'

export type { ManagerStoreComponents, ManagerStoreInit }

/** Durable store of the manager's node lifecycle records, events, jobs and config. */
export class ManagerStore implements NodeStore, JobStore, ConfigStore, RevisionStore {
  private readonly core: StoreCore
  private readonly nodeLog: NodeLog
  private readonly bindings: NodeBindings
  private readonly jobLog: JobLog
  private readonly config: ConfigTable
  private readonly sync: ReplicaSync
  private readonly revisions: RevisionTable

  constructor (components: ManagerStoreComponents, init: ManagerStoreInit) {
    this.core = new StoreCore(components, init)
    this.nodeLog = new NodeLog(this.core)
    this.bindings = new NodeBindings(this.core)
    this.jobLog = new JobLog(this.core)
    this.config = new ConfigTable(this.core)
    this.sync = new ReplicaSync(this.core)
    this.revisions = new RevisionTable(this.core)
  }

  /** The open database (tests pull it from under the store to make writes fail). */
  private get db (): StoreDb | null {
    return this.core.db
  }

  /** Revision of the durable state; bumped by every write, never reused. */
  get revision (): number {
    return this.core.committedRevision
  }

  /** Durable node records by lifecycle state (from the committed view: no database read). */
  nodesByState (): Partial<Record<NodeRecord['state'], number>> {
    const counts: Partial<Record<NodeRecord['state'], number>> = {}
    for (const r of this.core.committedNodes.values()) counts[r.state] = (counts[r.state] ?? 0) + 1
    return counts
  }

  /** Open the database, validate it and restore every node's machine snapshot. */
  async start (): Promise<void> {
    await this.core.start()
  }

  /** Finish queued writes, record the final revision and close the database. */
  async stop (): Promise<void> {
    await this.core.stop()
  }

  // ---- node lifecycle -------------------------------------------------------------------

  /**
   * Apply a lifecycle operation or job report to `node`. On success the new record,
   * snapshot, machine version and the appended lifecycle event are written in one batch.
   * A refusal or an ignored job report writes nothing.
   */
  async applyTransition (node: string, command: NodeCommand, meta: TransitionMeta): Promise<TransitionResult> {
    return await this.nodeLog.applyTransition(node, command, meta)
  }

  /** What `applyTransition` would do now, without writing anything. */
  async preview (node: string, command: NodeCommand): Promise<TransitionResult> {
    return await this.nodeLog.preview(node, command)
  }

  /**
   * Record a node membership reports. A new name gets a `discovered` record and event, bound
   * to the reporting peer; for the bound peer only reachability and boot are updated (no
   * lifecycle event). Another peer's claim on a bound name is refused (name-binding.ts): it is
   * recorded once in `nameConflicts` with a `name-conflict` event, and changes nothing else.
   */
  async upsertNode (node: DiscoveredNode, meta: TransitionMeta = { actor: 'membership' }): Promise<UpsertResult> {
    return await this.nodeLog.upsertNode(node, meta)
  }

  /**
   * Move a node's name to another peer (a reinstalled machine): the record keeps its state,
   * roles and vars, takes the new peer and its reachability, and drops that peer from the
   * conflicts (rebinding to the bound peer clears them all); a `rebound` event records it.
   * Refused for an unknown node and for one in a lifecycle job. The caller checks that the
   * peer is a member claiming the name (name-binding.ts `checkRebind`).
   */
  async rebindNode (name: string, cmd: RebindCommand): Promise<BindingResult> {
    return await this.bindings.rebindNode(name, cmd)
  }

  /**
   * Remove a node's record (a decommissioned or long-gone machine, or a name to give up). Its
   * lifecycle events stay, ending with a `forgotten` event, and a node later discovered with
   * the name continues that log. Refused for an unknown node and for one in a lifecycle job.
   */
  async forgetNode (name: string, meta: TransitionMeta): Promise<BindingResult> {
    return await this.bindings.forgetNode(name, meta)
  }

  /**
   * Append a lifecycle event that changes no state (a return, a verify or reconfigure
   * outcome) and, when `note.drift` is given, set the node's drift, in one batch. Undefined
   * for an unknown node.
   */
  async noteNode (name: string, note: NodeNote): Promise<NodeRecord | undefined> {
    return await this.nodeLog.noteNode(name, note)
  }

  /** Update whether membership sees the node alive. Not a lifecycle event; undefined if unknown. */
  async setReachable (name: string, reachable: boolean): Promise<NodeRecord | undefined> {
    return await this.nodeLog.setReachable(name, reachable)
  }

  /** The durable record of a node. */
  async getNode (name: string): Promise<NodeRecord | undefined> {
    return await this.nodeLog.getNode(name)
  }

  /** Every node record, by name. */
  async listNodes (): Promise<NodeRecord[]> {
    return await this.nodeLog.listNodes()
  }

  /** How many nodes the store knows. */
  get nodeCount (): number {
    return this.core.committedNodes.size
  }

  /**
   * One page of node records in name order: at most `limit` names after `after` ('' = from
   * the first), and the `after` of the next page (null on the last). Copies only the page.
   */
  async pageNodes (options: { after?: string, limit: number }): Promise<{ items: NodeRecord[], next: string | null }> {
    return await this.nodeLog.pageNodes(options)
  }

  /** Nodes with a job in flight (commissioning, upgrading, decommissioning), to resume or fail after a restart. */
  async listInFlight (): Promise<InFlightNode[]> {
    return await this.nodeLog.listInFlight()
  }

  /** Lifecycle events, oldest first; see ListEventsOptions for the cursor rules. */
  async listEvents (options: ListEventsOptions = {}): Promise<LifecycleEvent[]> {
    return await this.nodeLog.listEvents(options)
  }

  // ---- jobs ------------------------------------------------------------------------------

  /** Create or replace a job record. */
  async putJob (job: JobRecord): Promise<void> {
    await this.jobLog.putJob(job)
  }

  /** A job record, if it exists. */
  async getJob (id: string): Promise<JobRecord | undefined> {
    return await this.jobLog.getJob(id)
  }

  /** Job records, oldest first by creation time. */
  async listJobs (options: ListJobsOptions = {}): Promise<JobRecord[]> {
    return await this.jobLog.listJobs(options)
  }

  /** Append progress events to a job's log in one batch; returns them with their seq. */
  async appendJobEvents (jobId: string, events: NewJobEvent[]): Promise<JobEvent[]> {
    return await this.jobLog.appendJobEvents(jobId, events)
  }

  /** A job's events after `afterSeq` (default 0), oldest first. */
  async listJobEvents (jobId: string, options: { afterSeq?: number, limit?: number } = {}): Promise<JobEvent[]> {
    return await this.jobLog.listJobEvents(jobId, options)
  }

  // ---- config ----------------------------------------------------------------------------

  /** A config value (JSON data), if set. */
  async getConfig (key: string): Promise<unknown> {
    return await this.config.getConfig(key)
  }

  /** A durable config value without copying (callers must not modify it); for hot paths that cannot await. */
  peekConfig (key: string): unknown {
    return this.config.peekConfig(key)
  }

  /** Set a config value (any JSON data); `undefined` deletes the key. */
  async setConfig (key: string, value: unknown): Promise<void> {
    await this.config.setConfig(key, value)
  }

  /** Every config value by key. */
  async allConfig (): Promise<Record<string, unknown>> {
    return await this.config.allConfig()
  }

  // ---- configuration revisions ------------------------------------------------------------

  /** Every configuration revision, oldest first (revision-table.ts). */
  async listRevisions (): Promise<RevisionInfo[]> {
    return await this.revisions.listRevisions()
  }

  /** One revision's header, if it exists. */
  async getRevision (revision: number): Promise<RevisionInfo | undefined> {
    return await this.revisions.getRevision(revision)
  }

  /** The newest revision (the cluster's current one), if any. */
  async latestRevision (): Promise<RevisionInfo | undefined> {
    return await this.revisions.latestRevision()
  }

  /** A revision file's bytes by SHA-256 (checked), if the store holds them. */
  async readRevisionBlob (sha256: string): Promise<Buffer | undefined> {
    return await this.revisions.readBlob(sha256)
  }

  /** Store the next revision in one write; the newest one, unwritten, when the content equals it. */
  async addRevision (rev: NewRevision): Promise<{ info: RevisionInfo, created: boolean }> {
    return await this.revisions.addRevision(rev)
  }

  // ---- retention -------------------------------------------------------------------------

  /**
   * One bounded pruning step (retention.ts): delete at most `limits.maxOps` keys of finished
   * jobs, unneeded configuration revisions and old lifecycle events in one ordinary write, replicated like any other, so
   * replicas forget the same history. Returns how many keys went and where the pass goes on
   * (null: the pass is complete).
   */
  async pruneStep (policy: RetentionPolicy, cursor: PruneCursor = { afterNode: '' }, limits: PruneLimits = DEFAULT_PRUNE_LIMITS): Promise<{ deleted: number, jobs: string[], next: PruneCursor | null }> {
    return await this.jobLog.pruneStep(policy, cursor, limits)
  }

  // ---- replication -----------------------------------------------------------------------

  /** The whole durable state as key-ordered entries (includes `m!revision`). */
  async exportAll (): Promise<StoreEntry[]> {
    return await this.sync.exportAll()
  }

  /**
   * A consistent snapshot of the durable state, read in chunks of about `maxBytes` (JSON bytes):
   * one LevelDB iterator taken once everything staged is durable, so later writes do not show
   * up in it, and the memory it holds is one chunk, not the store. `revision` is the snapshot's.
   */
  async openSnapshot (maxBytes: number): Promise<{ revision: number, chunks: AsyncGenerator<StoreEntry[]> }> {
    return await this.sync.openSnapshot(maxBytes)
  }

  /**
   * Entries with keys after `after` ('' = from the first), about `maxBytes` of them, and the
   * `after` of the next range (null: none left). Used to hand a replica's state to a manager
   * in chunks; consistent across calls as long as nothing writes in between (a replica's
   * store changes only by the manager that is pulling it).
   */
  async exportRange (after: string, maxBytes: number): Promise<{ entries: StoreEntry[], next: string | null }> {
    return await this.sync.exportRange(after, maxBytes)
  }

  /** The lineage this store's history follows (lineage.ts), null when unknown. */
  async lineage (): Promise<Lineage | null> {
    return await this.sync.lineage()
  }

  /** Record (or, with null, forget) the lineage this store's history follows. */
  async setLineage (lineage: Lineage | null): Promise<void> {
    await this.sync.setLineage(lineage)
  }

  /** Keys written after this store's manager was replaced (unacked.ts), null when none are recorded. */
  async unacked (): Promise<UnackedWrites | null> {
    return await this.sync.unacked()
  }

  /** Record (or, with null, forget) the keys written after this store's manager was replaced. */
  async setUnacked (value: UnackedWrites | null): Promise<void> {
    await this.sync.setUnacked(value)
  }

  /**
   * Replace the whole state with `entries` (from `exportAll`) in one batch, then reload.
   * Everything is validated first; on a validation error nothing changes.
   */
  async importAll (entries: StoreEntry[]): Promise<{ revision: number }> {
    return await this.sync.importAll(entries)
  }

  /**
   * Bring every change of another lineage's store (`entries`, its `exportAll`) that this store
   * lacks into it, in one write (merge.ts has the rules). The foreign state is validated
   * first; on a validation error nothing changes. Returns what was merged. `unacked`: keys the
   * foreign store wrote after its manager was replaced, kept as `stale-view` events, not applied.
   */
  async mergeForeign (entries: StoreEntry[], options: { unacked?: ReadonlySet<string> } = {}): Promise<MergeReport> {
    return await mergeForeign(this.core, entries, options)
  }

  /**
   * Replica mode: write a batch the manager committed, iff it directly follows this store's
   * revision (`batch.revision === revision + 1`); otherwise write nothing and report a gap
   * (the manager then sends a snapshot for `importAll`). The batch is validated first.
   */
  async applyReplicated (batch: ReplicationBatch): Promise<{ ok: true, revision: number } | { gap: true, revision: number }> {
    return await this.sync.applyReplicated(batch)
  }
}
