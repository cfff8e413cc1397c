/**
 * Outcome mapping of a job, pure (no I/O, no clock): what a lease refusal, a pre-check, a
 * host's playbook result, a lost lease or a failed ansible-runner make of a node's progress;
 * which lifecycle command a node's final outcome becomes; and the job's final status and
 * reason. Each function changes only the progress it is given, so the job runner's pipeline
 * reads as a sequence of steps and the mapping is tested on its own (job-outcome.test.ts).
 */

import type { JobKind, JobNodeOutcome, JobNodeProgress, JobRecord, JobStatus } from '../../protocol/jobs.js'
import type { HostResult } from '../ansible/events.js'
import type { PrecheckResult } from '../ssh/precheck.js'
import type { NodeCommand } from '../store/index.js'
import { describeDrift, driftOf } from './maintenance.js'

/** True once a node's part of a job has ended (ok, failed, unreachable, cancelled). */
export function isFinal (outcome: JobNodeOutcome | undefined): boolean {
  return outcome === 'ok' || outcome === 'failed' || outcome === 'unreachable' || outcome === 'cancelled'
}

/** End a node's part: its outcome, step `done`, and the message when one is given. */
export function setOutcome (p: JobNodeProgress, outcome: JobNodeOutcome, message?: string): void {
  p.outcome = outcome
  p.step = 'done'
  if (message !== undefined) p.message = message
}

/** One line saying why a host failed: the reason (a host-key mismatch spelled out), the task, the message. */
export function describeFailure (reason: string | undefined, task: string | undefined, message: string | undefined): string {
  const what = reason === 'host-key-mismatch' ? 'host key does not match the pinned key' : reason ?? 'failed'
  return [what, task !== undefined ? `task "${task}"` : undefined, message].filter(x => x !== undefined && x !== '').join(': ')
}

/** The node's own agent refused (or could not be asked for) a lease: unreachable or failed. */
export function leaseRefused (p: JobNodeProgress, got: { unreachable: boolean, code: string, message: string }): void {
  setOutcome(p, got.unreachable ? 'unreachable' : 'failed', `lease not granted (${got.code}): ${got.message}`)
}

/** A failed pre-check: unreachable when SSH could not reach the node, else failed. */
export function precheckFailed (p: JobNodeProgress, res: Extract<PrecheckResult, { ok: false }>): void {
  setOutcome(p, res.reason === 'unreachable' ? 'unreachable' : 'failed', `pre-check failed (${res.reason}): ${res.message}`)
}

/** A host's result from ansible-runner: its counters, and ok (verify: with drift), unreachable or failed. */
export function hostResult (p: JobNodeProgress, h: HostResult, kind: JobKind): void {
  p.ok = h.ok
  p.changed = h.changed
  if (h.outcome === 'ok' && kind === 'verify') p.drift = driftOf(h)
  if (h.outcome === 'ok') setOutcome(p, 'ok', p.drift !== undefined ? describeDrift(p.drift) : undefined)
  else setOutcome(p, h.outcome === 'unreachable' ? 'unreachable' : 'failed', describeFailure(h.reason, h.failedTask, h.message))
}

/** ansible-runner itself failed: every node it gave no result for has failed. */
export function runnerFailed (p: JobNodeProgress, message: string | undefined): void {
  if (!isFinal(p.outcome)) setOutcome(p, 'failed', `ansible-runner failed: ${message ?? 'unknown error'}`)
}

/**
 * A lease was lost during the run, which stops the one ansible-runner of the job: a node whose
 * own lease went fails with that lease's reason, the others with the names of the losers.
 */
export function leaseLost (p: JobNodeProgress, ownLost: { reason: unknown } | undefined, losers: string[]): void {
  if (ownLost !== undefined) setOutcome(p, 'failed', String(ownLost.reason))
  else setOutcome(p, 'failed', `stopped: the run was aborted because ${losers.join(', ')} lost its lease (CLUSTERD_ERR_LEASE_LOST); run the operation again`)
}

/** The manager's own error ended the run: a node not finished has failed with it. */
export function managerError (p: JobNodeProgress, err: Error): void {
  if (!isFinal(p.outcome)) setOutcome(p, 'failed', `manager error: ${err.message}`)
}

/** When a job ends: a node not finished is cancelled (`cancelled`: why) or failed (no result). */
export function closeNode (p: JobNodeProgress, cancelled: string | undefined): void {
  if (cancelled !== undefined && !isFinal(p.outcome)) setOutcome(p, 'cancelled', cancelled)
  else if (!isFinal(p.outcome)) setOutcome(p, 'failed', 'the node was not run (no result from ansible-runner)')
}

/** The lifecycle job report a node's final outcome becomes (lifecycle jobs; maintenance jobs note instead). */
export function outcomeCommand (jobId: string, p: JobNodeProgress): NodeCommand {
  return p.outcome === 'ok'
    ? { type: 'JOB_SUCCEEDED', jobId }
    : p.outcome === 'cancelled'
      ? { type: 'JOB_CANCELLED', jobId, reason: p.message ?? 'cancelled' }
      : { type: 'JOB_FAILED', jobId, reason: p.message ?? 'failed' }
}

/** A finished job's status and reason: cancelled (with why), failed (naming each failed node) or succeeded. */
export function jobVerdict (job: Pick<JobRecord, 'nodes' | 'perNode'>, cancelled: string | undefined): { status: JobStatus, reason: string | null } {
  const failed = job.nodes.filter(n => job.perNode[n]?.outcome !== 'ok')
  const status: JobStatus = cancelled !== undefined ? 'cancelled' : failed.length > 0 ? 'failed' : 'succeeded'
  const reason = cancelled ?? (failed.length > 0 ? `${failed.length} of ${job.nodes.length} node(s) failed: ${failed.map(n => `${n} (${job.perNode[n]?.message ?? 'failed'})`).join('; ')}` : null)
  return { status, reason }
}
