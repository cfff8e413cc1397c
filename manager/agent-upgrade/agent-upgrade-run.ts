/**
 * The run of an agent-upgrade job: one node at a time, the manager's own node last. Per node:
 * its lease and SSH pre-check (job-pipeline.ts), then playbooks/agent-upgrade.yml on that node
 * alone (copy the release, check its SHA-256, unpack, scripts/agent-switch.sh: switch
 * PREFIX/current, restart the agent, roll back unless it reports the version in time), then
 * the node must rejoin: its record's agentVersion (from the node's signed facts, kept by
 * discovery) must show the target before the next node goes. The first node that fails stops
 * the rest (they are left not run).
 *
 * The manager's own node: its restart ends this manager (a clean leave on SIGTERM, so the
 * others elect another at once); the switch runs detached on the node and finishes without
 * us. The next manager resumes the job (job-runner.ts resumes running jobs) and runs that
 * node's step again, which finds the attempt's recorded result and waits for the version.
 */

import { join } from 'node:path'
import type { JobNodeProgress, JobRecord } from '../../protocol/jobs.js'
import type { PlanTarget, PlaybookPlan } from '../roles/plan.js'
import { playbookProgress } from '../jobs/event-buffer.js'
import { hostResult, isFinal, runnerFailed, setOutcome } from '../jobs/job-outcome.js'
import { precheckNodes, type RunContext } from '../jobs/job-pipeline.js'
import { agentUpgradeOrder } from './agent-upgrade-plan.js'

/** The playbook of an agent upgrade, in the playbook directory. */
export const AGENT_UPGRADE_PLAYBOOK = 'agent-upgrade.yml'

/** How long the manager waits, after the node's switch reported success, for its record to show the version. */
export const REJOIN_WAIT_MS = 60_000

/** Settings of one agent-upgrade run. */
export interface AgentUpgradeRunInit {
  /** The playbook directory (roles.yaml's). */
  playbookDir: string
  /** This manager's own node name: it goes last. */
  self: string
  rejoinWaitMs?: number
  /** How often the node record is read while waiting. */
  pollMs?: number
}

/** Run the pending nodes of the agent-upgrade `job` one by one; each node's progress gets its outcome. */
export async function runAgentUpgrade (ctx: RunContext, job: JobRecord, init: AgentUpgradeRunInit, signal: AbortSignal): Promise<void> {
  const pending = agentUpgradeOrder(job.nodes.filter(n => !isFinal(job.perNode[n]?.outcome)), init.self)
  for (let i = 0; i < pending.length; i++) {
    const name = pending[i] as string
    if (signal.aborted) return
    const ok = await upgradeOne(ctx, job, name, init, signal)
    await ctx.save(job)
    if (signal.aborted) return
    if (!ok) {
      for (const rest of pending.slice(i + 1)) {
        setOutcome(job.perNode[rest] as JobNodeProgress, 'cancelled', `not upgraded: the agent upgrade of ${name} failed first`)
      }
      return
    }
  }
}

async function upgradeOne (ctx: RunContext, job: JobRecord, name: string, init: AgentUpgradeRunInit, signal: AbortSignal): Promise<boolean> {
  const { c, events, leases } = ctx
  const progress = job.perNode[name] as JobNodeProgress
  const target = job.vars.agent_upgrade_version ?? ''
  try {
    const t = await reachNode(ctx, job, name, init, signal)
    if (t === undefined || signal.aborted) return false
    progress.step = 'agent-switch'
    events.push({ kind: 'status', node: name, message: `installing agent ${target} and restarting the agent` })
    const unfenced: PlaybookPlan = {
      kind: 'agent-upgrade',
      cluster: ctx.cluster,
      playbooks: [join(init.playbookDir, AGENT_UPGRADE_PLAYBOOK)],
      hosts: [{
        name,
        address: t.address,
        ...(t.port !== undefined ? { port: t.port } : {}),
        hostKeys: t.hostKeys,
        roles: [],
        vars: {
          ...await ctx.clusterVars(),
          ...t.vars,
          ...job.vars,
          agent_upgrade_attempt: job.id,
          clusterd_node_name: name,
          clusterd_cluster: ctx.cluster,
          clusterd_plan_kind: 'agent-upgrade'
        }
      }]
    }
    // No abort on a lost lease: the node's agent restarts in the middle of this run, so its
    // renewals fail by design. The switch on the node ends on its own (agent-switch.sh).
    const plan = c.fencing === undefined ? unfenced : c.fencing.guard(unfenced, leases)
    const result = await c.playbooks.run(plan, {
      signal,
      onEvent: e => {
        const event = playbookProgress(job, e)
        if (event !== undefined) events.push(event)
        events.touch(async () => { await ctx.save(job) })
      },
      check: false
    })
    if (signal.aborted) return false
    const host = result.hosts.find(h => h.name === name)
    if (host !== undefined) hostResult(progress, host, job.kind)
    if (result.status === 'error' || host === undefined) runnerFailed(progress, result.message)
    if (progress.outcome !== 'ok') return false
    progress.outcome = 'running'
    progress.step = 'rejoin'
    await ctx.save(job)
    const seen = await awaitVersion(ctx, name, target, init, signal)
    if (signal.aborted) return false
    if (!seen.ok) {
      setOutcome(progress, 'failed', `the node's switch reported agent ${target}, but its record still shows ${seen.last ?? 'no version'} after ${Math.round((init.rejoinWaitMs ?? REJOIN_WAIT_MS) / 1000)} s (not rejoined, or its facts not refreshed)`)
      return false
    }
    setOutcome(progress, 'ok', `the agent rejoined reporting ${target}`)
    events.push({ kind: 'status', node: name, message: progress.message ?? '' })
    return true
  } finally {
    const held = leases.get(name)
    leases.delete(name)
    await held?.release()
  }
}

/**
 * Lease and pre-check the node, again while it is unreachable, up to the rejoin wait: a manager
 * that resumes the job right after the old manager's node restarted its agent finds that agent
 * still starting (no lease answer yet, facts not fetched).
 */
async function reachNode (ctx: RunContext, job: JobRecord, name: string, init: AgentUpgradeRunInit, signal: AbortSignal): Promise<PlanTarget | undefined> {
  const progress = job.perNode[name] as JobNodeProgress
  const end = Date.now() + (init.rejoinWaitMs ?? REJOIN_WAIT_MS)
  for (;;) {
    const [t] = await precheckNodes(ctx, { ...job, nodes: [name] }, signal)
    await ctx.save(job)
    if (t !== undefined || signal.aborted || progress.outcome !== 'unreachable' || Date.now() >= end) return t
    ctx.events.push({ kind: 'status', node: name, message: `not reachable yet (${progress.message ?? 'unreachable'}); trying again` })
    Object.assign(progress, { outcome: 'pending', step: undefined, message: undefined })
    await pause(init.pollMs ?? 500, signal)
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
async function pause (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const timer = setTimeout(done, ms)
    function done (): void { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}

/** Poll the node's record until its agentVersion is `version` and it is reachable, or the wait ends. */
async function awaitVersion (ctx: RunContext, name: string, version: string, init: AgentUpgradeRunInit, signal: AbortSignal): Promise<{ ok: boolean, last: string | null }> {
  const end = Date.now() + (init.rejoinWaitMs ?? REJOIN_WAIT_MS)
  let last: string | null = null
  while (!signal.aborted) {
    const rec = await ctx.c.store.getNode(name)
    last = rec?.agentVersion ?? null
    if (rec !== undefined && rec.reachable && last === version) return { ok: true, last }
    if (Date.now() >= end) break
    await pause(init.pollMs ?? 500, signal)
  }
  return { ok: false, last }
}
