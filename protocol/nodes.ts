/**
 * Node lifecycle wire types: what the manager keeps per node and returns for
 * `GET /v1/nodes` (`clusterctl nodes -o json`) and `GET /v1/events` (`clusterctl events`).
 */

import type { JobRecord } from './jobs.js'
import type { NodeBoot } from './members.js'

/** Every lifecycle state a node can be in, in display order. */
export const LIFECYCLE_STATES = [
  'discovered',
  'commissioning',
  'commissioned',
  'upgrading',
  'decommissioning',
  'decommissioned',
  'commission-failed',
  'upgrade-failed',
  'decommission-failed',
  /** Out of service for repair (`clusterctl mark-broken`); `mark-fixed` returns it to the state it left. */
  'broken'
] as const

/** Where a node stands in its lifecycle. Reachability is NOT a state: see `NodeRecord.reachable`. */
export type LifecycleState = typeof LIFECYCLE_STATES[number]

/** States in which a job is running against the node; the manager resumes or fails them on restart. */
export const TRANSITIONAL_STATES = ['commissioning', 'upgrading', 'decommissioning'] as const satisfies readonly LifecycleState[]

/** A state in which a job is in flight for the node. */
export type TransitionalState = typeof TRANSITIONAL_STATES[number]

/** States a failed job leaves a node in; left by issuing the operation again. */
export const FAILED_STATES = ['commission-failed', 'upgrade-failed', 'decommission-failed'] as const satisfies readonly LifecycleState[]

/** True when `value` is a known lifecycle state. */
export function isLifecycleState (value: unknown): value is LifecycleState {
  return typeof value === 'string' && (LIFECYCLE_STATES as readonly string[]).includes(value)
}

/** True when a job is in flight for a node in `state`. */
export function isTransitionalState (state: LifecycleState): state is TransitionalState {
  return (TRANSITIONAL_STATES as readonly string[]).includes(state)
}

/** One node as the manager records it (`clusterctl nodes -o json` prints an array of these). */
export interface NodeRecord {
  /** Node name (its hostname); the key of the record. */
  name: string
  /**
   * libp2p PeerId the name is bound to: the peer first discovered with it, or the one an
   * operator moved it to (`clusterctl node rebind`). The manager targets this peer only.
   */
  peerId: string
  state: LifecycleState
  /** Roles the node was last commissioned with (empty once decommissioned). */
  roles: string[]
  /** Node-level Ansible variables. */
  vars: Record<string, string>
  /** Whether membership currently sees the node alive; fed from gossip, not a lifecycle state. */
  reachable: boolean
  /** Job in flight for the node (set only in a transitional state). */
  currentJob: string | null
  /** Most recent job that was started for the node, finished or not. */
  lastJob: string | null
  /** Why the node is in a failed state (null otherwise). */
  reason: string | null
  /** ISO-8601 time the node entered `state`. */
  since: string
  /** ISO-8601 time the manager first recorded the node. */
  discoveredAt: string
  /** ISO-8601 time of the last change to the record. */
  updatedAt: string
  /**
   * Boot and agent start last seen in the node's signed facts; a change means the node came
   * back (see docs/architecture.md, "Nodes that return"). Null until an agent reports one.
   */
  boot: NodeBoot | null
  /** Result of the newest `verify` job that checked the node; null when never checked or re-applied since. */
  drift: NodeDrift | null
  /**
   * Other peers that claimed this node's name while it is bound to `peerId`: refused, never
   * targeted, kept until an operator rebinds or forgets the name (at most MAX_NAME_CONFLICTS).
   */
  nameConflicts: NameConflict[]
  /**
   * Configuration revision last applied to the node: set when a commission, upgrade or
   * reconfigure job ends ok for it (null until then; docs/architecture.md, "Configuration revisions").
   */
  revision: number | null
  /**
   * The clusterd version the node's agent last reported in its signed facts (kept current by
   * discovery; an agent upgrade waits for it); null until facts were seen (and in records
   * written before it was kept).
   */
  agentVersion: string | null
  /**
   * Cordoned (`clusterctl cordon`): no new job but a decommission, no on-return action, skipped
   * by `--all` and selectors. Orthogonal to `state`.
   */
  cordoned: boolean
  /** Operator labels (`clusterctl node label`), matched by selectors (`-l K=V`). */
  labels: Record<string, string>
}

/** Body of `POST /v1/nodes/:name/mark-broken`: why the node is out of service. */
export interface MarkBrokenRequest {
  reason: string
}

/** Body of `POST /v1/nodes/:name/labels`: labels to set (K=V) and keys to remove (K-). */
export interface LabelRequest {
  set?: Record<string, string>
  remove?: string[]
}

/**
 * Response of `POST /v1/nodes/:name/labels`: the change, and the reconfigure job that
 * re-applies the node's configuration with its new labels (`clusterd_labels` in the
 * playbooks), or null with `notApplied` saying why none was started (not commissioned,
 * cordoned, in another job, or nothing changed).
 */
export interface LabelResponse extends NodeChangeResponse {
  job: JobRecord | null
  notApplied?: string
}

/** Longest `reason` of `mark-broken`. */
export const MAX_BROKEN_REASON_LENGTH = 500

/**
 * Body of `POST /v1/nodes/:name/roles` (`clusterctl node set-roles`): the node's whole new role
 * set, and request variables that also become the node's (as a commission's do).
 */
export interface SetRolesRequest {
  roles: string[]
  vars?: Record<string, string>
}

/** Most operator labels a node record keeps. */
export const MAX_NODE_LABELS = 32

/**
 * Response of the node maintenance routes (`cordon`, `uncordon`, `mark-broken`, `mark-fixed`,
 * `labels`): the record after the change and the event that recorded it (null when nothing
 * changed, e.g. cordoning a cordoned node).
 */
export interface NodeChangeResponse {
  node: NodeRecord
  event: LifecycleEvent | null
}

/** What a job applied to a node, as its record keeps it (`NodeRecord.revision`). */
export interface AppliedConfig {
  revision: number | null
}

/** A peer that claimed a node name bound to another peer (`NodeRecord.nameConflicts`). */
export interface NameConflict {
  /** The claiming peer. */
  peerId: string
  /** ISO-8601 time the manager first saw the claim. */
  since: string
}

/** Most conflicting claimants a node record keeps (a hostile member can mint peer ids). */
export const MAX_NAME_CONFLICTS = 8

/**
 * One name binding, as `GET /v1/bindings` lists them: the peer the name belongs to and the
 * peers whose claims on it were refused.
 */
export interface NameBinding {
  name: string
  peerId: string
  conflicts: string[]
}

/** Response of `GET /v1/bindings`: every node name's binding, by name. */
export type NameBindingsResponse = NameBinding[]

/** Body of `POST /v1/nodes/:name/rebind`: move the name to another peer (a reinstalled machine). */
export interface RebindRequest {
  peerId: string
}

/** Body of `POST /v1/nodes/:name/forget`: remove the record; `force` also when its peer is reachable. */
export interface ForgetRequest {
  force?: boolean
}

/**
 * Response of `POST /v1/nodes/:name/rebind` (the record after the move, the `rebound` event)
 * and `POST /v1/nodes/:name/forget` (the record as it was, the `forgotten` event).
 */
export interface BindingChangeResponse {
  node: NodeRecord
  event: LifecycleEvent
}

/** What a check-mode run (`verify` job) found on a node. */
export interface NodeDrift {
  /** ISO-8601 time the check finished. */
  checkedAt: string
  /** The verify job that checked. */
  jobId: string
  /** How many tasks would change something: 0 means the node matches its roles. */
  changed: number
  /** Names of the tasks that would change something, in run order. */
  tasks: string[]
}

/** What happened in a lifecycle event. */
export type LifecycleEventType =
  | 'discovered'
  | 'commission-requested'
  | 'decommission-requested'
  | 'upgrade-requested'
  | 'job-succeeded'
  | 'job-failed'
  | 'job-cancelled'
  | 'vars-set'
  /** A partition healed: the other side's events were appended and this state was kept (see docs/architecture.md). */
  | 'reconciled'
  /** A commissioned node came back (reachable again, rebooted or agent restarted); no state change. */
  | 'returned'
  /** A verify (check-mode) or reconfigure job was started for the node; no state change. */
  | 'verify-requested'
  | 'reconfigure-requested'
  /** A verify job checked the node; `drift` says what would change. */
  | 'drift-checked'
  /** A verify job could not check the node (unreachable, task failed, cancelled). */
  | 'verify-failed'
  /** A reconfigure job re-applied the node's roles; drift is cleared. */
  | 'reconfigured'
  /** A reconfigure job failed; the node stays commissioned and keeps its drift. */
  | 'reconfigure-failed'
  /**
   * A merge found what a replaced (lower-epoch) manager recorded after a newer epoch took over;
   * kept here (`staleView`), not applied. No state change.
   */
  | 'stale-view'
  /** Another peer claimed the node's name and was refused; `peerId` names it. */
  | 'name-conflict'
  /** An operator moved the name to another peer (`peerId`; `previousPeerId` held it). */
  | 'rebound'
  /** An operator removed the node's record; its history stays (the last event of the name until it is discovered again). */
  | 'forgotten'
  /** An operator cordoned the node (no new jobs) or uncordoned it; no state change. */
  | 'cordoned'
  | 'uncordoned'
  /** An operator took the node out of service (`broken`, with the reason) or returned it. */
  | 'marked-broken'
  | 'marked-fixed'
  /** An operator changed the node's labels; `labels` holds them after the change. */
  | 'labels-set'
  /** A `node set-roles` reconfigure succeeded: `roles` (and `vars`) are the node's from now on. */
  | 'roles-set'

/**
 * Who caused a lifecycle event. The named values are the ones the manager uses; other
 * strings are allowed so a new source needs no protocol change.
 */
export type LifecycleActor = 'operator' | 'auto-commission' | 'manager-restart' | 'job-runner' | 'membership' | 'partition-merge' | (string & {})

/** One entry of a node's append-only lifecycle log (`clusterctl events`). */
export interface LifecycleEvent {
  /** Per-node sequence number, 1, 2, 3... with no gaps. */
  seq: number
  /** Cluster-wide sequence number across all nodes' events, strictly increasing. */
  gseq: number
  node: string
  /** ISO-8601 time the event was recorded. */
  at: string
  type: LifecycleEventType
  /** State before the event (null for the event that created the record). */
  from: LifecycleState | null
  /** State after the event (equal to `from` for events that change no state, e.g. vars-set). */
  to: LifecycleState
  /** Why: the operator's note or the job's failure reason. */
  reason: string | null
  /** Job that requested or reported this transition. */
  jobId: string | null
  actor: LifecycleActor
  /** Roles requested, on commission-requested events. */
  roles?: string[]
  /** Variables set, on commission-requested and vars-set events. */
  vars?: Record<string, string>
  /** What the check found, on drift-checked events. */
  drift?: NodeDrift
  /** Election epoch of the manager that recorded the event (absent on events from before epochs were stamped). */
  epoch?: number
  /** On `stale-view` events: what the replaced manager recorded, kept but not applied. */
  staleView?: StaleView
  /** The peer concerned, on name-conflict (the claimant), rebound (the new peer) and forgotten (the bound peer) events. */
  peerId?: string
  /** The peer the name was bound to before, on rebound events. */
  previousPeerId?: string
  /** The node's labels after the change, on labels-set events. */
  labels?: Record<string, string>
}

/** A replaced manager's late write, as a merge keeps it (a `stale-view` event). */
export interface StaleView {
  /** Epoch of the manager that wrote it (below the epoch that had taken over). */
  epoch: number
  /** Which record: `node NAME`, `job ID` or `config KEY`. */
  record: string
  /** What it said, e.g. `job-failed commissioning -> commission-failed: lease lost`. */
  said: string
  /** When it wrote it (ISO-8601, its clock). */
  at: string
}

/**
 * Response of `GET /v1/nodes` without paging parameters: every node record by name (at most
 * `MAX_UNPAGED_NODES`; a larger fleet must page). Kept for clients written before paging.
 */
export type NodesResponse = NodeRecord[]

/**
 * Response of `GET /v1/nodes?limit=N[&after=NAME]`: one page of node records in name order.
 * `next` is the `after` value of the next page; null on the last page.
 */
export interface NodesPage {
  items: NodeRecord[]
  next: string | null
}

/** Page size of `GET /v1/nodes?after=NAME` without `limit`. */
export const DEFAULT_NODES_PAGE = 500
/** Largest `limit` of `GET /v1/nodes`. */
export const MAX_NODES_PAGE = 5000
/** Most records `GET /v1/nodes` returns without paging parameters (beyond it the answer is CLUSTERD_ERR_INVALID_ARGUMENT: page). */
export const MAX_UNPAGED_NODES = 10_000

/** Response of `GET /v1/events`. */
export type LifecycleEventsResponse = LifecycleEvent[]
