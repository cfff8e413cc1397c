/** Argument and result types of the manager store's public API. */
import type { JobEvent, JobStatus } from '../../protocol/jobs.js'
import type { NodeBoot } from '../../protocol/members.js'
import type { AppliedConfig, LifecycleActor, LifecycleEvent, LifecycleEventType, LifecycleState, NodeDrift, NodeRecord, TransitionalState } from '../../protocol/nodes.js'
import type { NodeMachineEvent, NodeMachineEventType } from '../lifecycle/node-machine.js'

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/**
 * A lifecycle operation or job report for `applyTransition`: a machine event without its
 * time (the store stamps it). DISCOVERED is not a command: use `upsertNode`.
 */
export type NodeCommand = DistributiveOmit<Exclude<NodeMachineEvent, { type: 'DISCOVERED' }>, 'at'>

/** Who asked for a transition and why; recorded on the lifecycle event. */
export interface TransitionMeta {
  actor: LifecycleActor
  /** Free-text reason; job failures default to the event's own reason. */
  reason?: string | null
  /** Set on the node record with a changed transition: what a job that ended ok applied. */
  applied?: AppliedConfig
}

/** Why `applyTransition` changed nothing. */
export interface StoreRefusal {
  ok: false
  code: 'CLUSTERD_ERR_INVALID_TRANSITION' | 'CLUSTERD_ERR_NODE_NOT_FOUND'
  message: string
  /** The node's state, when it has one. */
  from?: LifecycleState | null
  event: NodeMachineEventType
}

/** Outcome of `applyTransition`. */
export type TransitionResult =
  /** Persisted: the record and its new lifecycle event are durable. */
  | { ok: true, changed: true, record: NodeRecord, event: LifecycleEvent }
  /** A job report for another job: nothing written. */
  | { ok: true, changed: false, record: NodeRecord, ignored: string }
  | StoreRefusal

/** A node as membership reports it. */
export interface DiscoveredNode {
  name: string
  peerId: string
  reachable: boolean
  /** Boot and agent start from the node's facts; undefined keeps the recorded one. */
  boot?: NodeBoot | null
  /** The agent version from the node's facts; undefined keeps the recorded one. */
  agentVersion?: string
  /** Set when discovery decided the node returned: a `returned` event with this reason. */
  returned?: string
}

/** Lifecycle event types that record something without a transition. */
export type NoteEventType = Extract<LifecycleEventType, 'returned' | 'verify-requested' | 'reconfigure-requested' | 'drift-checked' | 'verify-failed' | 'reconfigured' | 'reconfigure-failed' | 'name-conflict' | 'rebound' | 'forgotten' | 'cordoned' | 'uncordoned' | 'labels-set'>

/** A no-transition lifecycle event for `noteNode`. */
export interface NodeNote {
  type: NoteEventType
  actor: LifecycleActor
  reason?: string | null
  jobId?: string | null
  /** New drift for the node record (null clears it); undefined leaves it unchanged. */
  drift?: NodeDrift | null
  /** The peer concerned (name-binding events). */
  peerId?: string
  /** The peer the name was bound to before (rebound events). */
  previousPeerId?: string
  /** Set on the node record: what a reconfigure that ended ok applied. */
  applied?: AppliedConfig
  /** New cordon flag for the node record; undefined leaves it unchanged. */
  cordoned?: boolean
  /** New operator labels for the node record (the whole map); undefined leaves them unchanged. */
  labels?: Record<string, string>
}

/** Outcome of `upsertNode`. */
export interface UpsertResult {
  record: NodeRecord
  /** True when the node was new: a `discovered` lifecycle event was appended. */
  created: boolean
  /**
   * The `discovered` event when created; the `name-conflict` event when another peer's claim
   * on the name was recorded.
   */
  event: LifecycleEvent | null
  /** True when the name is bound to another peer: the claim was refused and nothing else changed. */
  conflict: boolean
}

/** What `rebindNode` does: move a node's name to `peerId`, with that peer's reachability. */
export interface RebindCommand {
  peerId: string
  reachable: boolean
  actor: LifecycleActor
  reason?: string | null
}

/** Outcome of `rebindNode` and `forgetNode`: the record (after a rebind; before a forget) and the event. */
export interface BindingResult {
  record: NodeRecord
  event: LifecycleEvent
}

/** A node with a job in flight, as found on restore. */
export interface InFlightNode {
  node: string
  state: TransitionalState
  /** The job the node waits for. */
  jobId: string | null
  since: string
}

/** Options of `listEvents`. */
export interface ListEventsOptions {
  /** Only this node's events; `afterSeq` is then the node's `seq`, else the global `gseq`. */
  node?: string
  /**
   * Return events after this sequence number, oldest first (follow a log). Without it, the
   * newest `limit` events, oldest first.
   */
  afterSeq?: number
  limit?: number
}

/** Options of `listJobs`. */
export interface ListJobsOptions {
  status?: JobStatus
  /** Only jobs that include this node. */
  node?: string
  /** Keep only the newest `limit` jobs (result is still oldest first). */
  limit?: number
}

/** A job event to append: the store assigns `jobId` and `seq`, and `at` when missing. */
export type NewJobEvent = Omit<JobEvent, 'jobId' | 'seq' | 'at'> & { at?: string }

/** One key/value of the store's full state, for export and import (replication). */
export interface StoreEntry {
  key: string
  value: unknown
}
