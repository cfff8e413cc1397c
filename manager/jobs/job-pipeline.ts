/**
 * The work of one job run on its nodes: per pending node a lease from the node's own agent
 * (when fenced), then an SSH pre-check with the pinned host key, a few nodes at a time; then
 * one ansible-runner for the plan of every node that passed, with each node's outcome mapped
 * from its result (job-outcome.ts). job-run.ts wraps this with the job's deadline, status and
 * final outcome.
 */

import type { Logger } from 'pino'
import type { JobNodeProgress, JobRecord } from '../../protocol/jobs.js'
import { gateEnv } from '../../protocol/fencing-wire.js'
import type { HeldLease } from '../fencing/node-leases.js'
import { planFor, type PlanTarget, type PlaybookPlan } from '../roles/plan.js'
import type { RoleConfig } from '../roles/role-config.js'
import { playbookProgress, type EventBuffer } from './event-buffer.js'
import { hostResult, isFinal, leaseLost, leaseRefused, precheckFailed, runnerFailed, setOutcome } from './job-outcome.js'
import { jobRoles } from './maintenance.js'
import type { JobRunnerComponents } from './job-runner.js'

/** What one run works with: the runner's collaborators and settings, and its writes. */
export interface RunContext {
  c: JobRunnerComponents
  log: Logger
  cluster: string
  precheckParallel: number
  clusterVars: () => Promise<Record<string, string>>
  /** Write the job's progress (unless another manager finished it). */
  save: (job: JobRecord) => Promise<void>
  events: EventBuffer
  /** Node leases held by this run; job-run.ts releases all of them when the run ends. */
  leases: Map<string, HeldLease>
}

/**
 * Lease and pre-check every pending node of `job`, a few at a time. Returns the plan targets of
 * the nodes that passed (each at step `playbook`); the others have their outcome.
 */
export async function precheckNodes (ctx: RunContext, job: JobRecord, signal: AbortSignal): Promise<PlanTarget[]> {
  const { c, events, leases } = ctx
  const dropLease = async (name: string): Promise<void> => { const l = leases.get(name); leases.delete(name); await l?.release() }
  const pending = job.nodes.filter(n => !isFinal(job.perNode[n]?.outcome))
  const targets: PlanTarget[] = []
  await forEachLimit(pending, ctx.precheckParallel, async name => {
    const progress = job.perNode[name] as JobNodeProgress
    const node = await c.store.getNode(name)
    const t = node === undefined ? { unavailable: 'the node record is gone' } : await c.target(node, signal)
    if ('unavailable' in t || node === undefined) {
      setOutcome(progress, 'unreachable', 'unavailable' in t ? t.unavailable : 'unknown node')
      events.push({ kind: 'precheck', node: name, message: progress.message ?? '' })
      return
    }
    progress.outcome = 'running'
    let nodeSignal = signal
    if (c.fencing !== undefined) {
      // The lease comes first: not even the pre-check touches a node leased to another manager.
      progress.step = 'lease'
      const got = await c.fencing.acquire({ name, peerId: node.peerId }, signal)
      if (got.ok) leases.set(name, got.lease)
      if (signal.aborted) return
      if (!got.ok) {
        leaseRefused(progress, got)
        events.push({ kind: 'lease', node: name, message: progress.message ?? '', data: { code: got.code } })
        return
      }
      events.push({ kind: 'lease', node: name, message: `lease ${got.lease.leaseId} granted for epoch ${got.lease.epoch} in ${got.lease.acquireMs} ms`, data: { leaseId: got.lease.leaseId, acquireMs: got.lease.acquireMs } })
      nodeSignal = AbortSignal.any([signal, got.lease.signal])
    }
    progress.step = 'precheck'
    const held = leases.get(name)
    const res = await c.precheck({ name, ...t, ...(held !== undefined ? { env: gateEnv(held) } : {}) }, nodeSignal)
    if (signal.aborted) return
    const lost = leases.get(name)?.signal
    if (lost?.aborted === true) {
      setOutcome(progress, 'failed', String(lost.reason))
      events.push({ kind: 'lease', node: name, message: progress.message ?? '' })
      await dropLease(name)
      return
    }
    if (!res.ok) {
      precheckFailed(progress, res)
      events.push({ kind: 'precheck', node: name, message: progress.message ?? '', data: { reason: res.reason } })
      await dropLease(name)
      return
    }
    events.push({ kind: 'precheck', node: name, message: 'ok' })
    progress.step = 'playbook'
    targets.push({ name, ...t, ...jobRoles(job, node), vars: node.vars, labels: node.labels })
  })
  return targets
}

/**
 * Run the plan for `targets` (`plan`, or the plan of the job's kind) in one ansible-runner and map its result onto each node. A lost
 * lease stops the whole run (one process serves every node); each node's outcome says which
 * lease was lost. Nothing is mapped when `signal` aborted (finishing the job closes the nodes).
 */
export async function runPlaybooks (ctx: RunContext, job: JobRecord, roleConfig: RoleConfig, targets: PlanTarget[], signal: AbortSignal, given?: PlaybookPlan): Promise<void> {
  const { c, events, leases } = ctx
  const unfenced = given ?? await jobPlan(ctx, job, roleConfig, targets)
  const fencing = c.fencing
  const plan = fencing === undefined ? unfenced : fencing.guard(unfenced, leases)
  const anyLeaseLost = leases.size > 0 ? AbortSignal.any([...leases.values()].map(l => l.signal)) : undefined
  const result = await c.playbooks.run(plan, {
    signal: anyLeaseLost === undefined ? signal : AbortSignal.any([signal, anyLeaseLost]),
    onEvent: e => {
      const event = playbookProgress(job, e)
      if (event !== undefined) events.push(event)
      events.touch(async () => { await ctx.save(job) })
    },
    check: job.kind === 'verify'
  })
  ctx.log.info({ status: result.status, durationMs: result.durationMs }, 'playbook run ended')
  if (signal.aborted) return
  if (anyLeaseLost?.aborted === true) {
    const losers = [...leases.values()].filter(l => l.signal.aborted).map(l => l.node)
    for (const t of targets) {
      const p = job.perNode[t.name] as JobNodeProgress
      const own = leases.get(t.name)?.signal
      leaseLost(p, own?.aborted === true ? own : undefined, losers)
      events.push({ kind: 'lease', node: t.name, message: p.message ?? '' })
    }
    return
  }
  for (const h of result.hosts) {
    const p = job.perNode[h.name]
    if (p !== undefined) hostResult(p, h, job.kind)
  }
  if (result.status === 'error') {
    for (const t of targets) runnerFailed(job.perNode[t.name] as JobNodeProgress, result.message)
  }
}

/** The plan of `job`'s kind for `targets`, with the cluster's and the job's variables. */
export async function jobPlan (ctx: RunContext, job: JobRecord, roleConfig: RoleConfig, targets: PlanTarget[]): Promise<PlaybookPlan> {
  if (job.kind === 'agent-upgrade') throw new Error('an agent upgrade runs its own plan (manager/agent-upgrade)')
  return planFor(roleConfig, job.kind, targets, {
    cluster: ctx.cluster, vars: { cluster: await ctx.clusterVars(), request: job.vars }, ...(roleConfig.revision !== undefined ? { revision: roleConfig.revision } : {})
  })
}

/** Run `fn` on every item, at most `limit` at once. */
async function forEachLimit<T> (items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length > 0) await fn(queue.shift() as T)
  }))
}
