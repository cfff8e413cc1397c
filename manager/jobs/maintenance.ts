/**
 * Verify and reconfigure jobs ("maintenance" of a commissioned node): they re-run the node's
 * role playbooks, in Ansible check mode for verify, and never move the node's lifecycle
 * state. Pure: what a check found (drift) and what to record on the node when a node's part
 * of such a job ends.
 */

import { jobNodeRevision, type JobKind, type JobNodeProgress, type JobRecord } from '../../protocol/jobs.js'
import type { AppliedConfig, NodeDrift } from '../../protocol/nodes.js'
import type { HostChange } from '../ansible/events.js'
import type { NodeNote } from '../store/index.js'

/** Job kinds that keep the node `commissioned` and record notes instead of transitions. */
export const MAINTENANCE_KINDS = ['verify', 'reconfigure'] as const

/** A maintenance job kind. */
export type MaintenanceKind = typeof MAINTENANCE_KINDS[number]

/** True for verify and reconfigure jobs. */
export function isMaintenanceKind (kind: JobKind): kind is MaintenanceKind {
  return (MAINTENANCE_KINDS as readonly string[]).includes(kind)
}

/**
 * Drift from one host's result of a check-mode run: the count of tasks that would change
 * something (Ansible's own per-host stat) and their names, once each, in run order.
 */
export function driftOf (host: { changed: number, changes: HostChange[] }): { changed: number, tasks: string[] } {
  const tasks = [...new Set(host.changes.map(c => c.task))]
  return { changed: Math.max(host.changed, tasks.length), tasks }
}

/** One line saying what a check found. */
export function describeDrift (drift: { changed: number, tasks: string[] }): string {
  if (drift.changed === 0) return 'no drift: the node matches its roles'
  return `drift: ${drift.changed} task(s) would change: ${drift.tasks.join(', ')}`
}

/**
 * The roles a job runs on a node, and those it removes: a commission's requested roles; a
 * reconfigure with roles (`node set-roles`) its new set, cleaning up the roles the node loses;
 * otherwise the node's recorded roles.
 */
export function jobRoles (job: { kind: JobKind, roles: readonly string[] }, node: { roles: readonly string[] }): { roles: string[], cleanupRoles?: string[] } {
  if (job.kind === 'commission') return { roles: [...job.roles] }
  if (job.kind === 'reconfigure' && job.roles.length > 0) {
    const removed = node.roles.filter(r => !job.roles.includes(r))
    return { roles: [...job.roles], ...(removed.length > 0 ? { cleanupRoles: removed } : {}) }
  }
  return { roles: [...node.roles] }
}

/** True for a reconfigure that changes the node's roles (`node set-roles`). */
export function isSetRoles (job: { kind: JobKind, roles: readonly string[] }): boolean {
  return job.kind === 'reconfigure' && job.roles.length > 0
}

/**
 * What to record on a node when its part of a maintenance job ends:
 * - verify, checked: `drift-checked` with the drift (set on the record, also when 0);
 * - verify, not checked (unreachable, failed, cancelled): `verify-failed`, drift unchanged;
 * - reconfigure, ok: `reconfigured`, drift cleared (the roles were just applied);
 * - reconfigure, not ok: `reconfigure-failed` with the reason; the node stays commissioned
 *   and keeps its drift, the job is failed; the operator retries or investigates.
 */
export function maintenanceNote (kind: MaintenanceKind, jobId: string, progress: JobNodeProgress, at: string): NodeNote {
  const ok = progress.outcome === 'ok'
  const why = progress.message ?? progress.outcome
  if (kind === 'verify') {
    if (!ok || progress.drift === undefined) return { type: 'verify-failed', actor: 'job-runner', jobId, reason: why }
    const drift: NodeDrift = { checkedAt: at, jobId, changed: progress.drift.changed, tasks: [...progress.drift.tasks] }
    return { type: 'drift-checked', actor: 'job-runner', jobId, reason: describeDrift(drift), drift }
  }
  if (ok) return { type: 'reconfigured', actor: 'job-runner', jobId, reason: null, drift: null }
  return { type: 'reconfigure-failed', actor: 'job-runner', jobId, reason: why }
}

/** Job kinds whose success records on the node the revision they applied. */
const APPLYING_KINDS: readonly JobKind[] = ['commission', 'upgrade', 'reconfigure']

/**
 * What a job applied to a node whose part ended ok, for its record (`NodeRecord.revision`; the
 * node's `agentVersion` is what its agent reports, kept by discovery): nothing for other kinds,
 * other outcomes, or a job from before revisions.
 */
export function appliedBy (job: Pick<JobRecord, 'kind' | 'revision' | 'nodeRevisions'>, node: string, progress: JobNodeProgress): { applied?: AppliedConfig } {
  const revision = jobNodeRevision(job, node)
  if (!APPLYING_KINDS.includes(job.kind) || progress.outcome !== 'ok' || revision === null) return {}
  return { applied: { revision } }
}
