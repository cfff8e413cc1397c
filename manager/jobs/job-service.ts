/**
 * What the rest of the manager (API routes, auto-commission) asks of jobs. The implementation
 * is `JobRunner` (job-runner.ts); this interface keeps routes testable with a fake.
 */

import type { JobKind, JobRecord, RolloutSettings } from '../../protocol/jobs.js'
import type { JobFeedItem } from '../../protocol/manager-api.js'
import type { LifecycleActor } from '../../protocol/nodes.js'

/** A request to run an operation on nodes. */
export interface JobRequest {
  kind: JobKind
  nodes: string[]
  /** Roles (commission only; the other kinds use the nodes' recorded roles). */
  roles: string[]
  /** Request-level variables (highest precedence). */
  vars: Record<string, string>
  actor: LifecycleActor
  /** Upgrade only: run as a rolling upgrade (rollout-plan.ts); absent, every node at once. */
  rollout?: RolloutSettings
  /** Configuration revision to run (upgrade `--to`); absent: the rule of revisions/upgrade-plan.ts `jobRevision`. */
  revision?: number
  /** Upgrade: run even when the plan holds no-ops or downgrades. */
  force?: boolean
}

export type { JobFeedItem }

/** Creates, runs, cancels and reports jobs. */
export interface JobService {
  /** Resume or fail jobs left from before a restart, then accept work. */
  start: () => Promise<void>
  /** Abort running work (it resumes on the next start) and stop. */
  stop: () => Promise<void>
  /**
   * Validate and create a job. Refuses up front, changing nothing, when a node is unknown,
   * busy or in the wrong state, a role is unknown, or a required variable is missing.
   */
  submit: (req: JobRequest) => Promise<JobRecord>
  /** The unfinished job `node` is in (a lifecycle job or a verify/reconfigure), else null. */
  nodeJob: (node: string) => Promise<string | null>
  /**
   * Run `change`, a change of nodes outside any job (mark-broken, mark-fixed, cordon), between
   * submissions, never beside one: a submission then comes wholly before it or wholly after it
   * and sees it. With `idleNode`, refused (CLUSTERD_ERR_NODE_BUSY, `change` not run) while that
   * node is in a job. `change` must not submit a job itself (it would wait for itself).
   */
  betweenSubmissions: <T>(change: () => Promise<T>, options?: { idleNode?: string }) => Promise<T>
  /** Cancel a queued, running or paused job. */
  cancel: (id: string, reason?: string) => Promise<JobRecord>
  /** Continue a paused rolling upgrade; its failed nodes are accepted (CLUSTERD_ERR_JOB_NOT_PAUSED otherwise). */
  resume: (id: string, actor: LifecycleActor) => Promise<JobRecord>
  /**
   * Re-run only the failed nodes of a job: a paused rollout in place (the same job goes on), a
   * finished job as a new job of the same kind on those nodes. CLUSTERD_ERR_NOTHING_TO_RETRY
   * when none failed; CLUSTERD_ERR_JOB_NOT_PAUSED for a job still queued or running.
   */
  retryFailed: (id: string, actor: LifecycleActor) => Promise<JobRecord>
  /**
   * Events of a job after `afterSeq`, then (when follow) live events and job updates until
   * the job ends or the signal aborts.
   */
  feed: (id: string, options: { afterSeq: number, follow: boolean, signal: AbortSignal }) => AsyncIterable<JobFeedItem>
}
