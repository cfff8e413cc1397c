/**
 * One job's life once the job runner takes it from its queue: the deadline, the work of its
 * kind (a rolling upgrade's waves in rollout-run.ts, an agent upgrade, or the pre-checks and one
 * ansible-runner per configuration revision in job-pipeline.ts), what a manager stop leaves
 * (the job stays `running` in the store and resumes on the next start), the release of its node
 * leases, and its end: each node's lifecycle transition or note, the job's verdict, the metrics.
 * Separate from job-runner.ts, which keeps the queue (which job runs when, which nodes each
 * holds, submission, cancel, resume): nothing here decides what runs; it works on one job with
 * what the runner lends it.
 */

import { isTerminalJobStatus, type JobNodeProgress, type JobRecord } from '../../protocol/jobs.js'
import { runAgentUpgrade } from '../agent-upgrade/agent-upgrade-run.js'
import type { HeldLease } from '../fencing/node-leases.js'
import { byJobRevision } from '../revisions/upgrade-plan.js'
import type { RoleConfig } from '../roles/role-config.js'
import { EventBuffer } from './event-buffer.js'
import { closeNode, jobVerdict, outcomeCommand } from './job-outcome.js'
import { precheckNodes, runPlaybooks, type RunContext } from './job-pipeline.js'
import type { JobRunnerComponents, JobRunnerInit } from './job-runner.js'
import { clusterVars, numberConfig } from './job-settings.js'
import { appliedBy, isMaintenanceKind, isSetRoles, maintenanceNote } from './maintenance.js'
import { runRollout } from './rollout-run.js'
import { isRollout } from './rollout-plan.js'

/** The abort reason of a run the manager's stop interrupts: the job stays `running`, to resume. */
export const STOP = 'manager-stopping'
const TIMEOUT = 'timeout'

/** What a run borrows from the job runner. */
export interface JobRunHost {
  c: JobRunnerComponents
  init: Required<JobRunnerInit>
  /** Writes the runner's copy of a job (unless another manager finished it) and wakes its followers. */
  save: (job: JobRecord) => Promise<void>
  /** Wakes the followers of job `id` (new events). */
  notify: (id: string) => void
  /** Node `name` is no longer held by job `jobId` (when the runner holds it for that job). */
  release: (name: string, jobId: string) => void
}

/**
 * Runs job `id` (as stored) until it ends, pauses (a rollout) or `signal` aborts: with the
 * reason STOP the job is left to resume, with any other the job is cancelled with that reason.
 */
export async function runJob (h: JobRunHost, id: string, signal: AbortSignal): Promise<void> {
  const job = await h.c.store.getJob(id)
  if (job === undefined || isTerminalJobStatus(job.status)) return
  const log = h.c.logger.child({ job: id })
  const events = new EventBuffer(h.c.store, id, () => { h.notify(id) }, log)
  // Node leases held by this run; all are released when it ends, whatever the outcome.
  const leases = new Map<string, HeldLease>()
  const ctx: RunContext = {
    c: h.c,
    log,
    cluster: h.init.cluster,
    precheckParallel: h.init.precheckParallel,
    clusterVars: async () => await clusterVars(h.c.store, h.init.baseVars),
    save: async job => { await h.save(job) },
    events,
    leases
  }
  if (isRollout(job)) {
    // A rolling upgrade keeps its own deadlines (one per wave) and leases (released per wave).
    try {
      await runRollout(ctx, job, signal, {
        finish: async (j, how) => { await finishJob(h, j, how, events) },
        timeoutS: async () => numberConfig(await h.c.store.getConfig('job-timeout'), h.init.defaultTimeoutS),
        stopping: s => s.reason === STOP
      })
    } finally {
      await events.flush()
    }
    return
  }
  const controller = new AbortController()
  const timer = setTimeout(() => { controller.abort(TIMEOUT) }, Math.max(0, Date.parse(job.timeoutAt) - Date.now()))
  const runSignal = AbortSignal.any([signal, controller.signal])
  try {
    job.status = 'running'
    job.startedAt ??= new Date().toISOString()
    await h.save(job)
    if (job.kind === 'agent-upgrade') {
      const roleConfig = await h.c.roles(job.revision ?? null)
      await runAgentUpgrade(ctx, job, { playbookDir: roleConfig.dir, self: h.init.selfName, ...h.init.agentUpgrade }, runSignal)
    } else {
      // Checked before the pre-checks, so a revision that cannot be read fails the job at once.
      const groups = byJobRevision(job, job.nodes.map(name => ({ name })))
      const configs = new Map<number | null, RoleConfig>()
      for (const [revision] of groups) configs.set(revision, await h.c.roles(revision))
      const targets = await precheckNodes(ctx, job, runSignal)
      await h.save(job)
      // One ansible-runner per revision the job runs (one, except a verify or reconfigure of nodes at different revisions).
      for (const [revision, group] of byJobRevision(job, targets)) {
        if (runSignal.aborted) break
        await runPlaybooks(ctx, job, configs.get(revision) as RoleConfig, group, runSignal)
      }
    }
    await events.flush()
    const why = String(runSignal.reason ?? '')
    if (signal.aborted && signal.reason === STOP) {
      // Leave the job running in the store: the next manager start resumes it.
      await h.save(job)
      log.info('job interrupted by manager stop; it will resume')
      return
    }
    if (runSignal.aborted) await finishJob(h, job, { cancelled: why === TIMEOUT ? `timed out at ${job.timeoutAt}` : why }, events)
    else await finishJob(h, job, {}, events)
  } finally {
    clearTimeout(timer)
    await Promise.all([...leases.values()].map(async l => await l.release()))
    await events.flush()
  }
}

/** Final outcome: per-node lifecycle transitions, then the job's status. */
export async function finishJob (h: JobRunHost, job: JobRecord, how: { cancelled?: string }, events?: EventBuffer): Promise<void> {
  const { store, logger, metrics } = h.c
  // All nodes at once: the store's serial queue keeps each node's order and lets concurrent
  // writes share one disk sync (20 sequential synced transitions took seconds under load).
  await Promise.all(job.nodes.map(async name => {
    const p = job.perNode[name] as JobNodeProgress
    closeNode(p, how.cancelled)
    const applied = appliedBy(job, name, p)
    // A set-roles that succeeded makes the new roles (and vars) the node's own, before the note.
    if (isSetRoles(job) && p.outcome === 'ok') await store.applyTransition(name, { type: 'SET_ROLES', jobId: job.id, roles: job.roles, vars: job.vars }, { actor: 'job-runner' })
    // An agent upgrade leaves the lifecycle alone: the job and its events are its record.
    if (job.kind === 'agent-upgrade') { /* nothing to transition */ } else if (isMaintenanceKind(job.kind)) await store.noteNode(name, { ...maintenanceNote(job.kind, job.id, p, new Date().toISOString()), ...applied })
    else await store.applyTransition(name, outcomeCommand(job.id, p), { actor: 'job-runner', ...applied })
    h.release(name, job.id)
  }))
  const verdict = jobVerdict(job, how.cancelled)
  job.status = verdict.status
  job.reason = verdict.reason
  job.finishedAt = new Date().toISOString()
  await events?.flush()
  await store.appendJobEvents(job.id, [{ kind: 'status', message: `job ${job.status}${job.reason !== null ? `: ${job.reason}` : ''}` }])
  await h.save(job)
  logger.info({ job: job.id, status: job.status, reason: job.reason }, 'job finished')
  const seconds = (Date.parse(job.finishedAt) - Date.parse(job.createdAt)) / 1000
  metrics?.jobFinished(job.kind, job.status, Number.isFinite(seconds) ? Math.max(0, seconds) : 0)
}
