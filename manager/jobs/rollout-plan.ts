/**
 * The rolling-upgrade planner, pure (no I/O; the clock comes in as `now`): the settings of a
 * request with their defaults, the batches, and what the rollout does next given the job
 * record: a wave of nodes, a wait (`--pause-between`), a pause (too many failures, or failed
 * nodes holding all of `--max-unavailable`) or the end. Everything it decides from lives in
 * the replicated job record (`rollout`, `batches`, `perNode`), so a new manager after a
 * failover decides the same (rollout-run.ts runs the waves).
 *
 * A batch is the unit of the post-upgrade gate: the next batch starts only when every node of
 * this one is final. Inside a batch, nodes go in waves of at most `maxUnavailable` minus the
 * failed nodes not accepted, so no more than `maxUnavailable` of the job's nodes are ever
 * upgrading, being checked or failed at once.
 */

import type { JobNodeProgress, JobRecord, RolloutBatch, RolloutBatchStatus, RolloutSettings, RolloutState } from '../../protocol/jobs.js'
import { isFinal } from './job-outcome.js'

/** Largest batch size, unavailability and failure budget accepted (a cluster is smaller). */
export const ROLLOUT_MAX_COUNT = 100_000

/** Longest `--pause-between`, in seconds (a day). */
export const ROLLOUT_MAX_PAUSE_S = 86_400

/** A rolling upgrade's job record: one with its rollout state and batches. */
export type RolloutJob = JobRecord & { rollout: RolloutState, batches: RolloutBatch[] }

/** What the rollout does next. */
export type RolloutStep =
  | { step: 'wave', batch: number, nodes: string[] }
  | { step: 'wait', until: string }
  | { step: 'pause', reason: string }
  | { step: 'done' }

function count (v: unknown, name: string, min: number, max: number): number | string {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : `${name} must be a whole number from ${min} to ${max}`
}

/**
 * Settings from a request body's `rollout` (never throws): batchSize is required; maxUnavailable
 * defaults to batchSize, maxFailures to 0, pauseBetweenS to 0. A string says what is wrong.
 */
export function rolloutSettings (value: unknown): RolloutSettings | { problem: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { problem: 'rollout must be an object' }
  const o = value as Record<string, unknown>
  const unknown = Object.keys(o).filter(k => !['batchSize', 'maxUnavailable', 'maxFailures', 'pauseBetweenS'].includes(k))
  if (unknown.length > 0) return { problem: `rollout: unknown field(s) ${unknown.join(', ')}` }
  const batchSize = count(o.batchSize, 'batchSize', 1, ROLLOUT_MAX_COUNT)
  if (typeof batchSize === 'string') return { problem: batchSize }
  const maxUnavailable = o.maxUnavailable === undefined ? batchSize : count(o.maxUnavailable, 'maxUnavailable', 1, ROLLOUT_MAX_COUNT)
  const maxFailures = o.maxFailures === undefined ? 0 : count(o.maxFailures, 'maxFailures', 0, ROLLOUT_MAX_COUNT)
  const pauseBetweenS = o.pauseBetweenS === undefined ? 0 : count(o.pauseBetweenS, 'pauseBetweenS', 0, ROLLOUT_MAX_PAUSE_S)
  for (const v of [maxUnavailable, maxFailures, pauseBetweenS]) if (typeof v === 'string') return { problem: v }
  return { batchSize, maxUnavailable: maxUnavailable as number, maxFailures: maxFailures as number, pauseBetweenS: pauseBetweenS as number }
}

/** The rollout state and batches a new rolling upgrade of `nodes` starts with. */
export function newRollout (nodes: string[], settings: RolloutSettings): { rollout: RolloutState, batches: RolloutBatch[] } {
  const batches: RolloutBatch[] = []
  for (let i = 0; i < nodes.length; i += settings.batchSize) batches.push({ nodes: nodes.slice(i, i + settings.batchSize), status: 'pending' })
  return { rollout: { ...settings, nextBatchAt: null, pausedAt: null, accepted: [] }, batches }
}

/** The settings part of a rollout state (to start a new rollout like it). */
export function rolloutSettingsOf (r: RolloutState): RolloutSettings {
  return { batchSize: r.batchSize, maxUnavailable: r.maxUnavailable, maxFailures: r.maxFailures, pauseBetweenS: r.pauseBetweenS }
}

/** True for a job that is a rolling upgrade. */
export function isRollout (job: JobRecord): job is RolloutJob {
  return job.rollout !== undefined && Array.isArray(job.batches)
}

function progress (job: JobRecord, node: string): JobNodeProgress {
  return job.perNode[node] ?? { outcome: 'pending', ok: 0, changed: 0, failed: 0 }
}

/** A node whose part ended other than ok (failed, unreachable, cancelled). */
function hasFailed (p: JobNodeProgress): boolean {
  return isFinal(p.outcome) && p.outcome !== 'ok'
}

/** A batch's status from its nodes' outcomes. */
export function batchStatus (job: JobRecord, nodes: string[]): RolloutBatchStatus {
  const ps = nodes.map(n => progress(job, n))
  if (ps.every(p => p.outcome === 'pending')) return 'pending'
  if (!ps.every(p => isFinal(p.outcome))) return 'running'
  return ps.some(hasFailed) ? 'failed' : 'succeeded'
}

/** Recompute every batch's status (after any change of a node's outcome). */
export function refreshBatches (job: RolloutJob): void {
  for (const b of job.batches) b.status = batchStatus(job, b.nodes)
}

/** Failed nodes of the job, in job order. */
export function failedNodes (job: JobRecord): string[] {
  return job.nodes.filter(n => hasFailed(progress(job, n)))
}

/** Failed nodes that count against the limits: those the operator has not accepted. */
export function countedFailures (job: RolloutJob): string[] {
  const accepted = new Set(job.rollout.accepted)
  return failedNodes(job).filter(n => !accepted.has(n))
}

/** `n3 (why), n5 (why)`: failed nodes with their messages. */
function describeNodes (job: JobRecord, nodes: string[]): string {
  return nodes.map(n => `${n} (${progress(job, n).message ?? progress(job, n).outcome})`).join('; ')
}

/** What to tell the operator to do about a paused rollout. */
function remedy (job: JobRecord): string {
  return `fix the cause, then \`clusterctl job retry ${job.id} --failed\` re-runs the failed nodes, or \`clusterctl job resume ${job.id}\` accepts them and goes on`
}

/** Decide what the rollout does next at `now`. */
export function nextStep (job: RolloutJob, now: Date): RolloutStep {
  const r = job.rollout
  const failures = countedFailures(job)
  const total = job.batches.length
  const at = job.batches.findIndex(b => b.nodes.some(n => !isFinal(progress(job, n).outcome)))
  const batch = job.batches[at]
  const started = batch !== undefined && batch.nodes.some(n => progress(job, n).outcome !== 'pending')
  const where = at < 0 ? `after the last batch (${total})` : started ? `in batch ${at + 1} of ${total}` : at > 0 ? `after batch ${at} of ${total}` : `before batch 1 of ${total}`
  if (failures.length > r.maxFailures) {
    return { step: 'pause', reason: `paused ${where}: ${failures.length} node(s) failed, more than --max-failures ${r.maxFailures}: ${describeNodes(job, failures)}; ${remedy(job)}` }
  }
  if (batch === undefined) return { step: 'done' }
  if (!started && r.nextBatchAt !== null && Date.parse(r.nextBatchAt) > now.getTime()) return { step: 'wait', until: r.nextBatchAt }
  const room = r.maxUnavailable - failures.length
  if (room <= 0) {
    return { step: 'pause', reason: `paused ${where}: ${failures.length} failed node(s) take all of --max-unavailable ${r.maxUnavailable}: ${describeNodes(job, failures)}; ${remedy(job)}` }
  }
  return { step: 'wave', batch: at, nodes: batch.nodes.filter(n => !isFinal(progress(job, n).outcome)).slice(0, room) }
}

/** A wave starts: its nodes' progress starts afresh (also after a failover), the batch wait is over. */
export function beginWave (job: RolloutJob, nodes: string[]): void {
  job.rollout.nextBatchAt = null
  for (const n of nodes) job.perNode[n] = { outcome: 'running', step: 'upgrade', ok: 0, changed: 0, failed: 0 }
  refreshBatches(job)
}

/** A wave ended: batch statuses, and the next batch's earliest start when this batch is done. */
export function endWave (job: RolloutJob, batch: number, now: Date): void {
  refreshBatches(job)
  const b = job.batches[batch]
  const more = job.batches.slice(batch + 1).some(x => x.status === 'pending')
  if (b !== undefined && b.status !== 'running' && more && job.rollout.pauseBetweenS > 0) {
    job.rollout.nextBatchAt = new Date(now.getTime() + job.rollout.pauseBetweenS * 1000).toISOString()
  }
}

/** Pause the rollout with `reason` (holds no lease and no run slot: the runner lets it rest). */
export function pauseRollout (job: RolloutJob, reason: string, now: Date): void {
  job.status = 'paused'
  job.reason = reason
  job.rollout.pausedAt = now.toISOString()
}

/** `job resume`: accept the failures so far (they stop counting against the limits) and queue the job. */
export function resumeRollout (job: RolloutJob): string[] {
  const accepted = countedFailures(job)
  job.rollout.accepted = [...new Set([...job.rollout.accepted, ...accepted])]
  unpause(job)
  return accepted
}

/** `job retry --failed` of a paused rollout: the failed nodes go back to pending in their batches; returns them. */
export function retryFailedInPlace (job: RolloutJob): string[] {
  const failed = failedNodes(job)
  for (const n of failed) job.perNode[n] = { outcome: 'pending', ok: 0, changed: 0, failed: 0 }
  const retried = new Set(failed)
  job.rollout.accepted = job.rollout.accepted.filter(n => !retried.has(n))
  job.rollout.nextBatchAt = null
  unpause(job)
  return failed
}

function unpause (job: RolloutJob): void {
  job.status = 'queued'
  job.reason = null
  job.rollout.pausedAt = null
  refreshBatches(job)
}
