/**
 * Job wire types: an operation (commission, upgrade...) run as Ansible over SSH against one
 * or more nodes, as returned by `GET /v1/jobs` and streamed by `GET /v1/jobs/:id/events`.
 */

/** Every kind of job the manager can run. */
export const JOB_KINDS = ['commission', 'decommission', 'upgrade', 'verify', 'reconfigure', 'agent-upgrade'] as const

/** What a job does. */
export type JobKind = typeof JOB_KINDS[number]

/** Every job status. */
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'paused'] as const

/** Where a job stands. */
export type JobStatus = typeof JOB_STATUSES[number]

/** True when a job in `status` will not change again. */
export function isTerminalJobStatus (status: JobStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled'
}

/**
 * True when a job in `status` will not move without an operator: finished, or a rolling
 * upgrade paused on failures (`job resume`, `job retry --failed`). Followers stop here.
 */
export function isRestingJobStatus (status: JobStatus): boolean {
  return isTerminalJobStatus(status) || status === 'paused'
}

/** How one node fared in a job. */
export type JobNodeOutcome = 'pending' | 'running' | 'ok' | 'failed' | 'unreachable' | 'cancelled'

/** Per-node progress of a job. */
export interface JobNodeProgress {
  outcome: JobNodeOutcome
  /** Current phase, e.g. `precheck` or `playbook`. */
  step?: string
  /** Ansible task currently or last running on the node. */
  task?: string
  /** Ansible per-host stats: tasks ok, changed, failed. */
  ok: number
  changed: number
  failed: number
  /** Failure or unreachable message, when there is one; for a verify job, what the check found. */
  message?: string
  /**
   * Verify jobs only, once the check ran: tasks that would change the node (check mode).
   * `changed: 0` means no drift.
   */
  drift?: { changed: number, tasks: string[] }
}

/** One job as recorded by the manager (`clusterctl jobs -o json`). */
export interface JobRecord {
  /** Unique job id; safe as a LevelDB key part (letters, digits, `.`, `_`, `-`). */
  id: string
  kind: JobKind
  nodes: string[]
  roles: string[]
  vars: Record<string, string>
  status: JobStatus
  /** ISO-8601 times; null until the job gets there. */
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  /** Absolute ISO-8601 deadline: survives a manager restart, unlike a relative timer. */
  timeoutAt: string
  /** Why the job failed or was cancelled. */
  reason: string | null
  perNode: Record<string, JobNodeProgress>
  /** Election epoch of the manager that created the job. */
  epoch: number
  /**
   * Epoch of the manager that last wrote this record, and when (ISO-8601): a merge keeps the
   * copy of the higher epoch (docs/architecture.md, "Partitions and reconciliation"). Absent on
   * records written before epochs were stamped.
   */
  writtenEpoch?: number
  writtenAt?: string
  /** Rolling upgrades only: the settings and where the rollout stands (README, "Rolling upgrades"). */
  rollout?: RolloutState
  /** Rolling upgrades only: the nodes in batch order, each batch's status derived from its nodes. */
  batches?: RolloutBatch[]
  /**
   * Configuration revision the job runs (docs/architecture.md, "Configuration revisions");
   * absent on jobs from before revisions.
   */
  revision?: number
  /**
   * A verify or reconfigure of nodes at different revisions: each node's revision (each group
   * runs its own; `revision` is then absent).
   */
  nodeRevisions?: Record<string, number>
  /** The `agent_version` the job applies; absent when none is set. */
  agentVersion?: string
}

/** The configuration revision a job runs on `node` (null: a job from before revisions). */
export function jobNodeRevision (job: Pick<JobRecord, 'revision' | 'nodeRevisions'>, node: string): number | null {
  return job.nodeRevisions?.[node] ?? job.revision ?? null
}

/** The settings of a rolling upgrade (`clusterctl upgrade --batch-size ...`). */
export interface RolloutSettings {
  /** Nodes per batch; the post-upgrade check of a batch must pass before the next one starts. */
  batchSize: number
  /** At most this many of the job's nodes not ok at once: upgrading, being checked, or failed. */
  maxUnavailable: number
  /** Failed nodes tolerated; one more pauses the rollout. */
  maxFailures: number
  /** Seconds to wait between batches. */
  pauseBetweenS: number
}

/** Where a rolling upgrade stands: its settings and what survives a manager failover. */
export interface RolloutState extends RolloutSettings {
  /** Absolute ISO-8601 time the next batch may start (`--pause-between`); null when it may start now. */
  nextBatchAt: string | null
  /** When the rollout last paused (ISO-8601), while it is paused; else null. */
  pausedAt: string | null
  /** Failed nodes the operator accepted with `job resume`: they no longer count against the limits. */
  accepted: string[]
}

/** A batch's status: pending (not started), running, succeeded (every node ok) or failed. */
export type RolloutBatchStatus = 'pending' | 'running' | 'succeeded' | 'failed'

/** One batch of a rolling upgrade. */
export interface RolloutBatch {
  nodes: string[]
  status: RolloutBatchStatus
}

/** Kinds of job progress event. */
export type JobEventKind =
  /** The node's lease (fencing): granted, refused or lost. */
  | 'lease'
  | 'precheck'
  | 'task-start'
  | 'task-ok'
  | 'task-changed'
  | 'task-failed'
  | 'task-skipped'
  | 'unreachable'
  | 'stats'
  | 'status'
  | 'log'

/** One progress event of a job, in an append-only per-job log. */
export interface JobEvent {
  jobId: string
  /** Per-job sequence number, 1, 2, 3... with no gaps; assigned by the manager's store. */
  seq: number
  /** ISO-8601 time of the event. */
  at: string
  /** Node the event is about, if any. */
  node?: string
  kind: JobEventKind
  task?: string
  message?: string
  data?: unknown
}

/** Response of `GET /v1/jobs`. */
export type JobsResponse = JobRecord[]

/** Response of `GET /v1/jobs/:id/events`. */
export type JobEventsResponse = JobEvent[]
