/**
 * Runs a rolling upgrade (README, "Rolling upgrades"): the planner (rollout-plan.ts) says what
 * comes next; each wave of nodes enters `upgrading`, gets a lease and a pre-check, runs the
 * upgrade playbooks, then the post-upgrade check (the roles' check-mode run: a failed task or
 * any drift fails the node) and the roles' `test:` playbooks; its nodes' lifecycle outcomes
 * are written and their leases released before the next decision. A pause ends the run with
 * the job `paused` (no lease, no run slot). Each step is saved in the job record first, so a
 * new manager resumes where the old one stood (waves re-run their unfinished nodes;
 * playbooks are idempotent).
 */

import { setTimeout as sleep } from 'node:timers/promises'
import type { JobNodeProgress, JobRecord } from '../../protocol/jobs.js'
import type { HeldLease } from '../fencing/node-leases.js'
import type { PlanTarget } from '../roles/plan.js'
import type { RoleConfig } from '../roles/role-config.js'
import { describeDrift } from './maintenance.js'
import { outcomeCommand, setOutcome } from './job-outcome.js'
import { appliedBy } from './maintenance.js'
import { jobPlan, precheckNodes, runPlaybooks, type RunContext } from './job-pipeline.js'
import { beginWave, endWave, nextStep, pauseRollout, type RolloutJob } from './rollout-plan.js'

/** What the rollout asks of the job's run around it (job-run.ts). */
export interface RolloutHooks {
  /** End the job (succeeded or failed by its nodes; cancelled with the reason). */
  finish: (job: JobRecord, how: { cancelled?: string }) => Promise<void>
  /** The job timeout in seconds: each wave gets its own absolute deadline (`timeoutAt`). */
  timeoutS: () => Promise<number>
  /** True when the run was aborted because the manager stops (the job then stays running, to resume). */
  stopping: (signal: AbortSignal) => boolean
}

const WAVE_TIMEOUT = 'wave-timeout'

/** Run `job` until it is done, paused, cancelled or the manager stops. */
export async function runRollout (ctx: RunContext, job: RolloutJob, signal: AbortSignal, hooks: RolloutHooks): Promise<void> {
  job.status = 'running'
  job.startedAt ??= new Date().toISOString()
  await ctx.save(job)
  // Bounded: every wave ends at least one node (or the job), and waits end at their deadline.
  while (true) {
    if (signal.aborted) return await interrupted(ctx, job, signal, hooks)
    const step = nextStep(job, new Date())
    if (step.step === 'done') return await hooks.finish(job, {})
    if (step.step === 'pause') {
      pauseRollout(job, step.reason, new Date())
      ctx.events.push({ kind: 'status', message: `job paused: ${step.reason}` })
      await ctx.events.flush()
      await ctx.save(job)
      ctx.log.info({ reason: step.reason }, 'rollout paused')
      return
    }
    if (step.step === 'wait') {
      ctx.events.push({ kind: 'status', message: `next batch at ${step.until} (--pause-between ${job.rollout.pauseBetweenS} s)` })
      await ctx.events.flush()
      await sleep(Math.max(0, Date.parse(step.until) - Date.now()), undefined, { signal }).catch(() => {})
      continue
    }
    await runWave(ctx, job, step.batch, step.nodes, signal, await hooks.timeoutS())
  }
}

/** The run was aborted: a manager stop leaves the job running for the next manager; a cancel ends it. */
async function interrupted (ctx: RunContext, job: RolloutJob, signal: AbortSignal, hooks: RolloutHooks): Promise<void> {
  if (hooks.stopping(signal)) {
    await ctx.save(job)
    ctx.log.info('rollout interrupted by manager stop; it will resume')
    return
  }
  await hooks.finish(job, { cancelled: String(signal.reason) })
}

/** One wave: lifecycle in, upgrade, check, test, lifecycle out; leases released at its end. */
async function runWave (ctx: RunContext, job: RolloutJob, batch: number, nodes: string[], signal: AbortSignal, timeoutS: number): Promise<void> {
  const { c, events } = ctx
  job.timeoutAt = new Date(Date.now() + timeoutS * 1000).toISOString()
  beginWave(job, nodes)
  for (const name of nodes) {
    // After a failover the node is already upgrading for this job: no second UPGRADE.
    if ((await c.store.getNode(name))?.currentJob === job.id) continue
    const res = await c.store.applyTransition(name, { type: 'UPGRADE', jobId: job.id }, { actor: 'job-runner' })
    if (!res.ok) setOutcome(job.perNode[name] as JobNodeProgress, 'failed', res.message)
  }
  events.push({ kind: 'status', message: `batch ${batch + 1} of ${job.batches.length}: upgrading ${nodes.join(', ')}` })
  await ctx.save(job)

  const deadline = new AbortController()
  const timer = setTimeout(() => { deadline.abort(WAVE_TIMEOUT) }, Math.max(0, Date.parse(job.timeoutAt) - Date.now()))
  const waveSignal = AbortSignal.any([signal, deadline.signal])
  const leases = new Map<string, HeldLease>()
  // The pipeline works on this wave's nodes; its writes save the whole job.
  const wave: RunContext = { ...ctx, leases, save: async () => { await ctx.save(job) } }
  const view: JobRecord = { ...job, nodes }
  try {
    // An upgrade runs one revision (its `--to`, or the current one when it was submitted).
    const roleConfig = await c.roles(job.revision ?? null)
    let targets = await precheckNodes(wave, view, waveSignal)
    if (targets.length > 0 && !waveSignal.aborted) await runPlaybooks(wave, view, roleConfig, targets, waveSignal)
    targets = stillOk(job, targets, 'check')
    if (targets.length > 0 && !waveSignal.aborted) await postUpgradeCheck(wave, view, roleConfig, targets, waveSignal)
    targets = stillOk(job, targets, 'test')
    if (targets.length > 0 && !waveSignal.aborted) await postUpgradeTest(wave, view, roleConfig, targets, waveSignal)
  } finally {
    clearTimeout(timer)
    await Promise.all([...leases.values()].map(async l => await l.release()))
  }
  if (signal.aborted) return
  for (const name of nodes) {
    const p = job.perNode[name] as JobNodeProgress
    if (p.outcome === 'running' || p.outcome === 'pending') setOutcome(p, 'failed', deadline.signal.aborted ? `timed out at ${job.timeoutAt}` : 'the node was not run (no result from ansible-runner)')
  }
  // An ok node records the revision it was upgraded to, in the same write (as finishJob in job-run.ts does).
  await Promise.all(nodes.map(async name => {
    const progress = job.perNode[name] as JobNodeProgress
    await c.store.applyTransition(name, outcomeCommand(job.id, progress), { actor: 'job-runner', ...appliedBy(job, name, progress) })
  }))
  endWave(job, batch, new Date())
  const results = nodes.map(n => `${n} ${job.perNode[n]?.outcome ?? 'pending'}`).join(', ')
  events.push({ kind: 'status', message: `batch ${batch + 1} of ${job.batches.length} (${job.batches[batch]?.status ?? '-'}): ${results}` })
  await events.flush()
  await ctx.save(job)
}

/** The targets whose node is still ok, set running again at `step`. */
function stillOk (job: JobRecord, targets: PlanTarget[], step: string): PlanTarget[] {
  const ok = targets.filter(t => job.perNode[t.name]?.outcome === 'ok')
  for (const t of ok) {
    const p = job.perNode[t.name] as JobNodeProgress
    p.outcome = 'running'
    p.step = step
    delete p.message
  }
  return ok
}

/** Prefix a failed node's message with the stage that failed it. */
function blame (job: JobRecord, targets: PlanTarget[], stage: string): void {
  for (const t of targets) {
    const p = job.perNode[t.name] as JobNodeProgress
    if (p.outcome !== 'ok' && p.outcome !== 'running') p.message = `${stage}: ${p.message ?? p.outcome}`
  }
}

/** The roles' check-mode run (as `verify`): a failure or any drift fails the node. */
async function postUpgradeCheck (ctx: RunContext, view: JobRecord, roleConfig: RoleConfig, targets: PlanTarget[], signal: AbortSignal): Promise<void> {
  await runPlaybooks(ctx, { ...view, kind: 'verify' }, roleConfig, targets, signal)
  if (signal.aborted) return
  for (const t of targets) {
    const p = view.perNode[t.name] as JobNodeProgress
    if (p.outcome === 'ok' && p.drift !== undefined && p.drift.changed > 0) setOutcome(p, 'failed', describeDrift(p.drift))
  }
  blame(view, targets, 'post-upgrade check')
}

/** The `test:` playbooks of each node's roles; a node whose roles have none passes. */
async function postUpgradeTest (ctx: RunContext, view: JobRecord, roleConfig: RoleConfig, targets: PlanTarget[], signal: AbortSignal): Promise<void> {
  const testsOf = (t: PlanTarget): string[] => roleConfig.roles.filter(r => r.always || t.roles.includes(r.name)).flatMap(r => r.test ?? [])
  const tested = targets.filter(t => testsOf(t).length > 0)
  for (const t of targets) if (!tested.includes(t)) setOutcome(view.perNode[t.name] as JobNodeProgress, 'ok', 'no test playbook for its roles')
  if (tested.length === 0) return
  // The roles' plan gives each host its groups and variables; only the playbooks differ.
  const plan = await jobPlan(ctx, { ...view, kind: 'verify' }, roleConfig, tested)
  const playbooks = [...new Set(roleConfig.roles.flatMap(r => r.test ?? []))].filter(pb => tested.some(t => testsOf(t).includes(pb)))
  await runPlaybooks(ctx, view, roleConfig, tested, signal, { ...plan, playbooks })
  if (signal.aborted) return
  blame(view, tested, 'post-upgrade test')
}
