/**
 * What the replicator (replicator.ts) takes and reports: its collaborators, settings, counters
 * and the news of a newer epoch, and the rule for when such news replaces this manager.
 */

import type { Libp2p } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Member } from '../../protocol/members.js'
import type { Lineage, SnapshotEntry } from '../../protocol/replication-wire.js'
import type { StallLog } from '../../protocol/stall-watch.js'

/** A consistent snapshot of the manager store, read chunk by chunk (`ManagerStore.openSnapshot`). */
export interface StoreSnapshot {
  revision: number
  chunks: AsyncGenerator<SnapshotEntry[]>
}

/** Collaborators of the replicator. */
export interface ReplicatorComponents {
  libp2p: Pick<Libp2p, 'dialProtocol'>
  logger: Logger
  /** Current membership view. */
  members: () => Member[]
  /** Open a snapshot of the manager store in chunks of about `maxBytes`. */
  openSnapshot: (maxBytes: number) => Promise<StoreSnapshot>
  /** The manager store's durable revision. */
  revision: () => number
  /**
   * Merge another lineage's state (a replica's export) into the manager store
   * (`ManagerStore.mergeForeign`); `unacked`: keys it wrote as a replaced manager (late views).
   */
  merge: (entries: SnapshotEntry[], from: string, unacked: ReadonlySet<string>) => Promise<void>
  /** Replicas that must persist a write before it is acknowledged (config `replication.acks`). */
  acks?: () => number
  /** The lineage and revision this manager's store started from (null: unknown; every replica is pulled). */
  base?: () => (Lineage & { revision: number }) | null
  /** A replica showed a newer epoch (a `stale` answer, or a pulled state that follows a newer manager); called once. */
  onDeposed?: (news: NewerEpoch) => void
  /** Keys of a write refused because this manager was replaced: durable here, never acknowledged (late views). */
  onUnacked?: (keys: string[]) => void
  /**
   * This process's stalls (protocol/stall-watch.ts). Without it, a write no replica acknowledged is
   * acknowledged alone even right after a freeze.
   */
  stalls?: StallLog
  /**
   * No replica confirmed this manager since it stood still for `stalledMs`: it may have been
   * replaced meanwhile, so it acknowledges nothing more and steps down; called once.
   */
  onUnconfirmed?: (stalledMs: number) => void
}

/** How a replicator learned that a newer manager epoch exists. */
export interface NewerEpoch {
  epoch: number
  /** The newer manager's peer id, when the replica knew it. */
  manager: string | null
  /** The replica that told. */
  replica: string
}

/**
 * Whether news from a replica replaces this manager: a higher epoch, or our own epoch held by
 * another manager (we lost a same-epoch claim; see agent/replica/stale-request.ts).
 */
export function supersedesUs (news: { epoch: number, manager: string | null }, self: { epoch: number, selfPeerId: string }): boolean {
  return news.epoch > self.epoch || (news.epoch === self.epoch && news.manager !== null && news.manager !== self.selfPeerId)
}

/** Settings of the replicator. */
export interface ReplicatorInit {
  selfPeerId: string
  epoch: number
  /** Deadline of one batch or delta exchange. */
  ackTimeoutMs?: number
  /** Deadline of one snapshot or pull chunk exchange. */
  snapshotTimeoutMs?: number
  /** How often replicas that are behind are looked for. */
  syncIntervalMs?: number
  retryAfterMs?: number
  /** Most replicas being caught up at once. */
  maxInFlight?: number
  /**
   * Least time between two background catch-ups of one replica: writes arriving meanwhile go
   * out together as one delta, so the background cost per write falls as the write rate rises.
   */
  catchUpIntervalMs?: number
  /** Extra replicas a write tries when some of the first ones fail. */
  extraTries?: number
  /** Target size of a snapshot chunk, pulled chunk and delta frame. */
  chunkBytes?: number
  /** Bounds of the recent-batch log. */
  logBatches?: number
  logBytes?: number
}

/** Counters, for logs, tests and the benchmark. */
export interface ReplicatorStats {
  /** Frames sent on the write path (batches a write waited for). */
  writeSends: number
  /** Frames sent in the background (deltas). */
  deltaSends: number
  snapshots: number
  snapshotChunks: number
  pullChunks: number
  /** Writes acknowledged with fewer replica acks than asked for (0 = alone). */
  underReplicated: number
  /** Replica acknowledgements received on the write path. */
  acks: number
}
