/**
 * Agent side of replication. While this agent is not the manager it owns the manager store
 * directory (`<data-dir>/manager`) as a replica: it applies the batches and snapshots the
 * manager pushes on `/clusterd/replicate/1.0.0`, so a failover to this agent starts from the
 * acknowledged state. The ManagerHost closes the replica before the manager role opens the
 * same directory and reopens it after the role stops.
 *
 * Only the current manager may write or pull: a request must come from the peer the election
 * names as manager, with its epoch. A new manager pulls a replica's state before its first
 * snapshot replaces it, and merges what it lacks (a healed partition loses no write); a replica
 * of the lineage the new manager's own store came from, and not ahead of it, holds nothing to
 * merge and answers the pull empty. Snapshots and pulls travel in chunks of about 1 MiB.
 * Batches are accepted only after a snapshot from that same epoch, so a replica never appends
 * a new manager's batches to an old manager's divergent history.
 */

import type { Libp2p } from '@libp2p/interface'
import type { Logger } from 'pino'
import { ByteBudget } from '../../protocol/streams/bounded-frames.js'
import type { Admission } from '../../protocol/streams/serve-one-frame.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import {
  REPLICATE_PROTOCOL, REPLICATION_FRAME_MAX_BYTES, SNAPSHOT_CHUNK_BYTES, decodeReplicationRequest, encodeReplicationMessage, entryBytes,
  type Lineage, type ReplicaStatus, type ReplicationBatch, type ReplicationReply, type ReplicationRequest, type SnapshotEntry
} from '../../protocol/replication-wire.js'
import { serveOneFrame, type OneFrameProtocol } from '../../protocol/streams/serve-one-frame.js'
import { staleRequest } from './stale-request.js'

/** What the replica needs of a store (ManagerStore in replica use). */
export interface ReplicaStore {
  start: () => Promise<void>
  stop: () => Promise<void>
  readonly revision: number
  applyReplicated: (batch: ReplicationBatch) => Promise<{ ok: true, revision: number } | { gap: true, revision: number }>
  importAll: (entries: SnapshotEntry[]) => Promise<{ revision: number }>
  exportAll: () => Promise<SnapshotEntry[]>
  /** Entries after `after`, about `maxBytes` of them, and where the next range starts. */
  exportRange: (after: string, maxBytes: number) => Promise<{ entries: SnapshotEntry[], next: string | null }>
  /** The lineage sidecar (manager/store/lineage.ts). */
  lineage: () => Promise<Lineage | null>
  setLineage: (lineage: Lineage | null) => Promise<void>
  /** Keys written after this store's manager was replaced (manager/store/unacked.ts). */
  unacked?: () => Promise<{ keys: string[] } | null>
  setUnacked?: (value: null) => Promise<void>
}

/** A snapshot being received chunk by chunk; applied only once its last chunk arrived. */
interface Staging {
  id: string
  from: string
  epoch: number
  revision: number
  nextSeq: number
  entries: SnapshotEntry[]
  bytes: number
  lastKey: string
}

/** Replication streams one connection may hold open at once (the manager sends a few at a time). */
export const REPLICATE_MAX_INBOUND_STREAMS = 8

/**
 * How long after its last write-path batch a replica still counts as acknowledging the
 * manager's writes (and announces the revisions they move; revision-gossip.ts).
 */
export const ACKNOWLEDGING_HOLD_MS = 10_000

/** Most bytes of snapshot chunks one replica stages before refusing the transfer. */
const MAX_STAGED_BYTES = 1024 * 1024 * 1024

/** Collaborators of the replica. */
export interface ReplicaComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  /** The election: the manager it names, and the highest epoch seen (absent: requests are only matched against the manager). */
  election: { manager: () => ManagerInfo | null, readonly epoch?: number, rival?: (epoch: number, peerId: string) => void }
  logger: Logger
  /** A new store on the replica directory (one per open). */
  openStore: () => ReplicaStore
  /**
   * Whether a peer is a manager-eligible member (it may have been or become manager): only the
   * manager and such peers have their replication frames read. Absent: every sender is read.
   */
  isEligibleMember?: (peerId: string) => boolean
}

/** Settings of the replica. */
export interface ReplicaInit {
  /** How long a request from a newer epoch waits for this agent's election to learn of it. */
  electionWaitMs?: number
  /** Deadline for reading one request frame. */
  readTimeoutMs?: number
  /** Target size of one chunk of this replica's state sent to a pulling manager. */
  chunkBytes?: number
}

/** Holds the replica store while this agent is not the manager. */
export class Replica {
  private readonly c: ReplicaComponents
  private readonly init: Required<ReplicaInit>
  private store: ReplicaStore | null = null
  private lastRevision = 0
  private syncedEpoch = 0
  /** Peer whose snapshot this replica follows (two managers may hold the same epoch across a partition). */
  private syncedFrom: string | null = null
  /** The lineage on disk (null: unknown), as read at open and written after each snapshot. */
  private diskLineage: Lineage | null = null
  private staging: Staging | null = null
  private chain: Promise<unknown> = Promise.resolve()
  /** Bytes of frames from senders other than the current manager read at once (one frame). */
  private readonly otherSenders = new ByteBudget(REPLICATION_FRAME_MAX_BYTES)
  /** When (monotonic ms) this replica last acknowledged a write-path batch (`ack`). */
  private ackedWriteAt = Number.NEGATIVE_INFINITY

  constructor (components: ReplicaComponents, init: ReplicaInit = {}) {
    this.c = components
    this.init = { electionWaitMs: 2000, readTimeoutMs: 30_000, chunkBytes: SNAPSHOT_CHUNK_BYTES, ...init }
  }

  /**
   * Open the store and serve replication requests. A store that cannot be opened does not stop
   * the agent: a damaged one is moved aside by the store recovery wrapped around `openStore`
   * (agent/replica/store-recovery.ts) and refilled by the next snapshot; one that is locked or
   * unreadable leaves the replica closed, refusing requests.
   */
  async start (): Promise<void> {
    await this.open().catch(err => { this.c.logger.error({ err }, 'replica store cannot be opened; this agent holds no replica') })
    // One manager sends to a replica, a few requests at a time (protocol/streams/serve-one-frame.ts).
    await this.c.libp2p.handle(REPLICATE_PROTOCOL, (stream, connection) => { void serveOneFrame(this.protocol, stream, connection, this.c.logger) }, { maxInboundStreams: REPLICATE_MAX_INBOUND_STREAMS })
  }

  /** Stop serving and close the store. */
  async stop (): Promise<void> {
    await this.c.libp2p.unhandle(REPLICATE_PROTOCOL)
    await this.close()
  }

  /** Open (or reopen) the replica store; no-op when open. */
  async open (): Promise<void> {
    await this.serially(async () => {
      if (this.store !== null) return
      const store = this.c.openStore()
      await store.start()
      this.store = store
      this.lastRevision = store.revision
      // What is on disk follows the lineage its sidecar names (written only after a whole
      // snapshot): batches of that manager continue it; without a sidecar, a snapshot comes first.
      this.staging = null
      this.diskLineage = await store.lineage().catch(() => null)
      this.syncedEpoch = this.diskLineage?.epoch ?? 0
      this.syncedFrom = this.diskLineage?.peerId ?? null
      this.c.logger.info({ revision: store.revision, lineage: this.diskLineage }, 'replica open')
    })
  }

  /** Close the store (hand the directory to the manager role); waits for an apply in flight. */
  async close (): Promise<void> {
    await this.serially(async () => {
      const store = this.store
      if (store === null) return
      this.store = null
      this.staging = null
      this.lastRevision = store.revision
      await store.stop()
      this.c.logger.info({ revision: this.lastRevision }, 'replica closed')
    })
  }

  /** Revision of the replica (the last known one while closed). */
  get revision (): number {
    return this.store?.revision ?? this.lastRevision
  }

  /** Whether the store is open (its revision is the store's, not 0 or a closed store's). */
  get isOpen (): boolean {
    return this.store !== null
  }

  /**
   * Whether the manager waited for this replica's acknowledgement of a write within the last
   * {@link ACKNOWLEDGING_HOLD_MS}: it is one of the write path's few replicas, not one the
   * manager catches up in the background.
   */
  acknowledging (now = performance.now()): boolean {
    return this.store !== null && now - this.ackedWriteAt < ACKNOWLEDGING_HOLD_MS
  }

  /** Role, revision and synced epoch, for `GET /v1/replica` (role is `closed` while the store is handed over). */
  status (): ReplicaStatus {
    return { role: this.store === null ? 'closed' : 'replica', revision: this.revision, syncedEpoch: this.syncedEpoch }
  }

  private async serially<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn)
    this.chain = run.catch(() => {})
    return await run
  }

  private get protocol (): OneFrameProtocol<ReplicationRequest, ReplicationReply> {
    return {
      name: 'replication',
      maxFrameBytes: REPLICATION_FRAME_MAX_BYTES,
      readTimeoutMs: this.init.readTimeoutMs,
      decode: decodeReplicationRequest,
      encode: encodeReplicationMessage,
      malformed: reason => ({ t: 'refused', reason }),
      // Authorise, then read: only the elected manager's frames are read freely.
      admit: async from => await this.admit(from),
      handle: async (req, from) => await this.handle(from, req)
    }
  }

  /**
   * Whether `from` may send a replication frame, decided before reading it. The manager the
   * election names is read in full. A manager-eligible member is the only other peer that can
   * have been (a replaced manager, to be told it is stale) or be about to become manager (a
   * claim this agent has not heard yet): its frames are read, but within a budget shared by all
   * such senders. Anyone else is refused unread. The epoch inside the frame is checked after.
   */
  private async admit (from: string): Promise<Admission> {
    const m = this.c.election.manager()
    if (m !== null && m.peerId === from && !m.local) return {}
    if (this.c.isEligibleMember === undefined || this.c.isEligibleMember(from)) return { budget: this.otherSenders }
    return { refused: 'not the current manager and epoch' }
  }

  private async handle (from: string, req: ReplicationRequest): Promise<ReplicationReply> {
    // A replaced manager learns it here, whatever it asked, so it stops acknowledging writes.
    const stale = staleRequest({ highestEpoch: this.c.election.epoch ?? 0, manager: this.c.election.manager() }, req.epoch, from)
    if (stale !== null) {
      this.c.logger.warn({ peer: from, epoch: req.epoch, newerEpoch: stale.epoch, manager: stale.manager },
        stale.epoch === req.epoch ? 'refused replication from a rival claimant of the same epoch' : 'refused replication from a replaced manager (stale epoch)')
      // This agent holds that epoch itself: the rival's actions must be fenced by a higher one.
      if (stale.epoch === req.epoch && this.c.election.manager()?.local === true) this.c.election.rival?.(req.epoch, from)
      return { t: 'stale', ...stale }
    }
    const manager = await this.managerFor(req.epoch)
    if (manager === null || manager.peerId !== from || manager.epoch !== req.epoch || manager.local) {
      this.c.logger.warn({ peer: from, epoch: req.epoch, manager: manager?.peerId ?? null, managerEpoch: manager?.epoch ?? null },
        'rejected replication from a peer that is not the current manager')
      return { t: 'refused', reason: 'not the current manager and epoch' }
    }
    return await this.serially(async () => {
      const following = this.syncedEpoch === req.epoch && this.syncedFrom === from
      const store = this.store
      if (store === null) return { t: 'refused', reason: 'no replica open here (this agent is taking or holding the manager role)' }
      try {
        if (req.t === 'pull') return await this.pull(store, from, req, following)
        if (req.t === 'chunk') return await this.chunk(store, from, req)
        if (!following) return { t: 'gap', revision: store.revision }
        for (const batch of req.t === 'batch' ? [req.batch] : req.batches) {
          // Already held (a snapshot overtook this batch): nothing to write.
          if (batch.revision <= store.revision) continue
          const r = await store.applyReplicated(batch)
          if ('gap' in r) return { t: 'gap', revision: r.revision }
        }
        if (req.t === 'batch' && req.ack === true) this.ackedWriteAt = performance.now()
        return { t: 'ack', revision: store.revision }
      } catch (err) {
        this.c.logger.warn({ err: (err as Error).message, request: req.t }, 'replication request not applied')
        return { t: 'refused', reason: (err as Error).message }
      }
    })
  }

  /** One chunk of this replica's state, or none when it holds nothing the manager lacks. */
  private async pull (store: ReplicaStore, from: string, req: Extract<ReplicationRequest, { t: 'pull' }>, following: boolean): Promise<ReplicationReply> {
    const base = req.base
    const sameLineage = base !== undefined && this.diskLineage !== null && this.diskLineage.epoch === base.epoch &&
      this.diskLineage.peerId === base.peerId && store.revision <= base.revision
    if (!following && sameLineage) {
      // Our state is the manager's own at our revision (its store followed the same history at
      // least that far): follow it from here, so its batches continue our state.
      const lineage = { epoch: req.epoch, peerId: from }
      await store.setLineage(lineage)
      this.diskLineage = lineage
      this.syncedEpoch = req.epoch
      this.syncedFrom = from
    }
    if (following || sameLineage) {
      this.c.logger.info({ epoch: req.epoch, syncedEpoch: this.syncedEpoch, following, sameLineage }, 'replica holds nothing the manager lacks; pull answered empty')
      return { t: 'export', syncedEpoch: this.syncedEpoch, revision: store.revision, entries: [], next: null }
    }
    const { entries, next } = await store.exportRange(req.after ?? '', this.init.chunkBytes)
    // Our own late writes as a replaced manager, if any: the puller keeps them as events only.
    const unacked = req.after === undefined ? (await store.unacked?.().catch(() => null))?.keys ?? [] : []
    this.c.logger.info({ epoch: req.epoch, syncedEpoch: this.syncedEpoch, entries: entries.length, more: next !== null, unacked: unacked.length }, 'replica state pulled by the manager (one chunk)')
    return { t: 'export', syncedEpoch: this.syncedEpoch, revision: store.revision, entries, next, ...(unacked.length > 0 ? { unacked } : {}) }
  }

  /**
   * Stage one snapshot chunk; on the last one replace the state. Chunks must come in order
   * from one transfer (chunk 0 starts a new one and drops any unfinished one); keys must keep
   * ascending. Nothing is written until the last chunk: an interrupted transfer leaves the
   * old state, and the whole snapshot is validated again by `importAll` before it replaces it.
   */
  private async chunk (store: ReplicaStore, from: string, req: Extract<ReplicationRequest, { t: 'chunk' }>): Promise<ReplicationReply> {
    if (req.seq === 0) this.staging = { id: req.id, from, epoch: req.epoch, revision: req.revision, nextSeq: 0, entries: [], bytes: 0, lastKey: '' }
    const st = this.staging
    if (st === null || st.id !== req.id || st.from !== from || st.epoch !== req.epoch || st.nextSeq !== req.seq || st.revision !== req.revision) {
      return { t: 'refused', reason: `snapshot chunk ${req.seq} of ${req.id} does not continue the transfer in progress; start over` }
    }
    for (const e of req.entries) {
      if (e.key <= st.lastKey) {
        this.staging = null
        return { t: 'refused', reason: `snapshot chunk ${req.seq}: keys not in ascending order at ${JSON.stringify(e.key)}` }
      }
      st.lastKey = e.key
      st.bytes += entryBytes(e)
      st.entries.push(e)
    }
    if (st.bytes > MAX_STAGED_BYTES) {
      this.staging = null
      return { t: 'refused', reason: `snapshot larger than ${MAX_STAGED_BYTES} bytes` }
    }
    st.nextSeq++
    if (!req.done) return { t: 'received', id: req.id, seq: req.seq }
    this.staging = null
    // Unknown while the state is replaced: a crash in between must not claim the new lineage for old data.
    await store.setLineage(null)
    this.diskLineage = null
    const { revision } = await store.importAll(st.entries)
    await store.setUnacked?.(null)
    this.syncedEpoch = req.epoch
    this.syncedFrom = from
    const lineage = { epoch: req.epoch, peerId: from }
    await store.setLineage(lineage)
    this.diskLineage = lineage
    this.c.logger.info({ revision, epoch: req.epoch, chunks: req.seq + 1, entries: st.entries.length }, 'replica took a snapshot')
    return { t: 'ack', revision }
  }

  /** The election's manager; waits briefly when the request is from an epoch this agent has not heard of yet. */
  private async managerFor (epoch: number): Promise<ManagerInfo | null> {
    const deadline = Date.now() + this.init.electionWaitMs
    let m = this.c.election.manager()
    while ((m === null || m.epoch < epoch) && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 50))
      m = this.c.election.manager()
    }
    return m
  }
}
