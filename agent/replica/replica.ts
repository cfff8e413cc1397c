/**
 * Agent side of replication. While this agent is not the manager it owns the manager store
 * directory (`<data-dir>/manager`) as a replica: it applies the batches and snapshots the
 * manager pushes on `/clusterd/replicate/1.0.0`, so a failover to this agent starts from the
 * acknowledged state. The ManagerHost closes the replica before the manager role opens the
 * same directory and reopens it after the role stops.
 *
 * Only the current manager may write or pull: a request must come from the peer the election
 * names as manager, with its epoch. A new manager pulls a replica's state before its first
 * snapshot replaces it, and merges what it lacks (a healed partition loses no write). Batches are accepted only after a snapshot from that same epoch,
 * so a replica never appends a new manager's batches to an old manager's divergent history.
 */

import type { Libp2p } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import {
  MAX_REPLICATION_FRAME_BYTES, REPLICATE_PROTOCOL, decodeReplicationRequest, encodeReplicationMessage,
  type ReplicaStatus, type ReplicationBatch, type ReplicationReply, type ReplicationRequest, type SnapshotEntry
} from '../../protocol/replication-wire.js'
import { serveOneFrame, type OneFrameProtocol } from '../libp2p/serve-one-frame.js'

/** What the replica needs of a store (ManagerStore in replica use). */
export interface ReplicaStore {
  start: () => Promise<void>
  stop: () => Promise<void>
  readonly revision: number
  applyReplicated: (batch: ReplicationBatch) => Promise<{ ok: true, revision: number } | { gap: true, revision: number }>
  importAll: (entries: SnapshotEntry[]) => Promise<{ revision: number }>
  exportAll: () => Promise<SnapshotEntry[]>
}

/** Collaborators of the replica. */
export interface ReplicaComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  election: { manager: () => ManagerInfo | null }
  logger: Logger
  /** A new store on the replica directory (one per open). */
  openStore: () => ReplicaStore
}

/** Settings of the replica. */
export interface ReplicaInit {
  /** How long a request from a newer epoch waits for this agent's election to learn of it. */
  electionWaitMs?: number
  /** Deadline for reading one request frame. */
  readTimeoutMs?: number
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
  private chain: Promise<unknown> = Promise.resolve()

  constructor (components: ReplicaComponents, init: ReplicaInit = {}) {
    this.c = components
    this.init = { electionWaitMs: 2000, readTimeoutMs: 30_000, ...init }
  }

  /**
   * Open the store and serve replication requests. A store that cannot be opened does not stop
   * the agent: a damaged one is moved aside by the store recovery wrapped around `openStore`
   * (agent/replica/store-recovery.ts) and refilled by the next snapshot; one that is locked or
   * unreadable leaves the replica closed, refusing requests.
   */
  async start (): Promise<void> {
    await this.open().catch(err => { this.c.logger.error({ err }, 'replica store cannot be opened; this agent holds no replica') })
    await this.c.libp2p.handle(REPLICATE_PROTOCOL, (stream, connection) => { void serveOneFrame(this.protocol, stream, connection, this.c.logger) }, { maxInboundStreams: 64 })
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
      // Whatever is on disk may come from another lineage: accept batches only after a snapshot.
      this.syncedEpoch = 0
      this.syncedFrom = null
      this.c.logger.info({ revision: store.revision }, 'replica open')
    })
  }

  /** Close the store (hand the directory to the manager role); waits for an apply in flight. */
  async close (): Promise<void> {
    await this.serially(async () => {
      const store = this.store
      if (store === null) return
      this.store = null
      this.lastRevision = store.revision
      await store.stop()
      this.c.logger.info({ revision: this.lastRevision }, 'replica closed')
    })
  }

  /** Revision of the replica (the last known one while closed). */
  get revision (): number {
    return this.store?.revision ?? this.lastRevision
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
      maxFrameBytes: MAX_REPLICATION_FRAME_BYTES,
      readTimeoutMs: this.init.readTimeoutMs,
      decode: decodeReplicationRequest,
      encode: encodeReplicationMessage,
      malformed: reason => ({ t: 'refused', reason }),
      handle: async (req, from) => await this.handle(from, req)
    }
  }

  private async handle (from: string, req: ReplicationRequest): Promise<ReplicationReply> {
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
        if (req.t === 'pull') {
          // Nothing of another lineage here once we follow this epoch; else the whole state, to merge.
          const entries = following ? [] : await store.exportAll()
          this.c.logger.info({ epoch: req.epoch, syncedEpoch: this.syncedEpoch, entries: entries.length }, 'replica state pulled by the manager')
          return { t: 'export', syncedEpoch: this.syncedEpoch, revision: store.revision, entries }
        }
        if (req.t === 'snapshot') {
          const { revision } = await store.importAll(req.entries)
          this.syncedEpoch = req.epoch
          this.syncedFrom = from
          this.c.logger.info({ revision, epoch: req.epoch }, 'replica took a snapshot')
          return { t: 'ack', revision }
        }
        if (!following) return { t: 'gap', revision: store.revision }
        // Already held (a snapshot overtook this batch): nothing to write.
        if (req.batch.revision <= store.revision) return { t: 'ack', revision: store.revision }
        const r = await store.applyReplicated(req.batch)
        return 'gap' in r ? { t: 'gap', revision: r.revision } : { t: 'ack', revision: r.revision }
      } catch (err) {
        this.c.logger.warn({ err: (err as Error).message, request: req.t }, 'replication request not applied')
        return { t: 'refused', reason: (err as Error).message }
      }
    })
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
