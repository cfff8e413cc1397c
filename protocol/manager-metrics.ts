/**
 * What the manager role reports for the agent's `GET /metrics` (agent/metrics/), without
 * either side importing the other: the agent hands the manager a sink for the events it
 * counts (jobs finished, lifecycle transitions) through the factory's deps, and reads the
 * figures the role holds (replication, nodes by state) at scrape time through
 * `ManagerRole.metrics` (protocol/manager-role.ts). The counters live in the agent, so they
 * stay monotonic across the roles an agent runs over its life, as Prometheus expects.
 */

import type { JobKind, JobStatus } from './jobs.js'
import type { LifecycleState } from './nodes.js'

/** Events the manager role reports as they happen. Implementations never throw. */
export interface ManagerMetricsSink {
  /** A job reached a final status after `seconds` (from its creation to its end). */
  jobFinished: (kind: JobKind, status: JobStatus, seconds: number) => void
  /** A node's lifecycle state changed (`from` null: the record was created). */
  lifecycleTransition: (from: LifecycleState | null, to: LifecycleState) => void
}

/** Figures the running manager role holds, read at scrape time. */
export interface ManagerFigures {
  /** Revision of the manager store. */
  storeRevision: number
  /** Node records by lifecycle state. */
  nodesByState: Partial<Record<LifecycleState, number>>
  /** Each replica's acknowledged revision (-1: not known yet), by peer id. */
  replicas: Record<string, number>
  /** Replica acknowledgements received on the write path since the role started. */
  replicationAcks: number
  /** Writes acknowledged with fewer replica acks than asked for since the role started. */
  underReplicated: number
  /** Jobs queued or running now. */
  jobsActive: number
}
