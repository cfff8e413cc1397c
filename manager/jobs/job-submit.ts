/**
 * Submission checks: everything that can refuse a job is checked before anything is written
 * (unknown or busy node, a node in the wrong state, an unknown role, a missing required
 * variable), and the job record is built. The job runner writes it only if this returns.
 */

import { randomBytes } from 'node:crypto'
import { ClusterdError } from '../../protocol/errors.js'
import type { JobNodeProgress, JobRecord } from '../../protocol/jobs.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { byJobRevision, jobRevisions, planRefusal, planUpgrade } from '../revisions/upgrade-plan.js'
import { cordonRefusal } from '../lifecycle/schedulable.js'
import { planFor } from '../roles/plan.js'
import type { RoleConfig } from '../roles/role-config.js'
import type { ConfigStore, NodeCommand, NodeStore } from '../store/index.js'
import type { JobRequest } from './job-service.js'
import { numberConfig } from './job-settings.js'
import { isMaintenanceKind, jobRoles } from './maintenance.js'
import { newRollout } from './rollout-plan.js'

/** What the checks read. */
export interface SubmitContext {
  store: Pick<NodeStore, 'getNode' | 'preview'> & Pick<ConfigStore, 'getConfig'>
  /** Loads and validates roles.yaml of a configuration revision (null: the current one). */
  roles: (revision: number | null) => Promise<RoleConfig>
  /** The cluster's current configuration revision (null: none; absent: jobs carry no revision). */
  currentRevision?: () => Promise<number | null>
  /** The unfinished job the runner holds a node for, if any. */
  busyWith: (name: string) => Promise<string | undefined>
  /** Cluster-level playbook variables. */
  clusterVars: () => Promise<Record<string, string>>
  cluster: string
  epoch: number
  defaultTimeoutS: number
}

/** Create a job id: sortable by time, unique. */
export function newJobId (now: Date): string {
  return `j-${now.getTime().toString(36)}-${randomBytes(3).toString('hex')}`
}

/** The lifecycle command a lifecycle job (commission, decommission, upgrade) starts a node with. */
export function startCommand (req: JobRequest, jobId: string): NodeCommand {
  return req.kind === 'commission'
    ? { type: 'COMMISSION', jobId, roles: req.roles, vars: req.vars }
    : { type: req.kind === 'upgrade' ? 'UPGRADE' : 'DECOMMISSION', jobId }
}

/** Check `req` against the current state and build its job record (queued); throws the refusal. Writes nothing. */
export async function checkSubmission (ctx: SubmitContext, req: JobRequest): Promise<{ job: JobRecord, records: NodeRecord[] }> {
  const records: NodeRecord[] = []
  for (const name of req.nodes) {
    const node = await ctx.store.getNode(name)
    if (node === undefined) throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node named ${name}`)
    const inJob = await ctx.busyWith(name) ?? node.currentJob
    if (inJob !== undefined && inJob !== null) throw new ClusterdError('CLUSTERD_ERR_NODE_BUSY', `node ${name} is already in job ${inJob}; wait for it or cancel it`)
    const cordoned = cordonRefusal(node, req.kind)
    if (cordoned !== null) throw new ClusterdError('CLUSTERD_ERR_NODE_CORDONED', cordoned)
    records.push(node)
  }
  if (req.rollout !== undefined && req.kind !== 'upgrade') throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', 'only an upgrade can be rolled out in batches')
  const now = new Date()
  const id = newJobId(now)
  // Verify and reconfigure keep the node commissioned: no machine transition, only notes.
  const maintenance = isMaintenanceKind(req.kind)
  // An agent upgrade changes the software, not the node's lifecycle: any state, no transition,
  // and its plan is its own (manager/agent-upgrade), checked when the request was built.
  const agentUpgrade = req.kind === 'agent-upgrade'
  for (const node of records) {
    if (agentUpgrade) continue
    if (maintenance) {
      if (node.state !== 'commissioned') throw new ClusterdError('CLUSTERD_ERR_INVALID_TRANSITION', `cannot ${req.kind} a node that is ${node.state}; allowed from: commissioned`)
      continue
    }
    const preview = await ctx.store.preview(node.name, startCommand(req, id))
    if (!preview.ok) throw new ClusterdError(preview.code, preview.message)
  }
  const cluster = await ctx.clusterVars()
  const agentVersion = req.vars.agent_version ?? cluster.agent_version
  const current = ctx.currentRevision === undefined ? null : await ctx.currentRevision()
  const revisions = ctx.currentRevision === undefined ? { revision: null } : jobRevisions(req.kind, req.revision, records, current)
  if (req.kind === 'upgrade' && req.revision !== undefined && req.force !== true) {
    const refusal = planRefusal(planUpgrade(records, req.revision, agentVersion ?? null))
    if (refusal !== null) throw refusal
  }
  const runs = { ...(revisions.revision !== null ? { revision: revisions.revision } : {}), ...(revisions.nodeRevisions !== undefined ? { nodeRevisions: revisions.nodeRevisions } : {}) }
  // Validate the plan now (unknown role, missing required variable, unknown revision) with
  // placeholder addresses, per revision run: nothing may be written for a request that cannot run.
  // An agent upgrade's plan is its own (manager/agent-upgrade), checked when the request was built.
  if (!agentUpgrade) {
    for (const [revision, group] of byJobRevision(runs, records)) {
      planFor(await ctx.roles(revision), req.kind as Exclude<typeof req.kind, 'agent-upgrade'>, group.map(n => ({
        name: n.name, address: '0.0.0.0', hostKeys: [], ...jobRoles(req, n), vars: n.vars
      })), { cluster: ctx.cluster, vars: { cluster, request: req.vars } })
    }
  }

  const timeoutS = numberConfig(await ctx.store.getConfig('job-timeout'), ctx.defaultTimeoutS)
  const perNode: Record<string, JobNodeProgress> = {}
  for (const n of records) perNode[n.name] = { outcome: 'pending', ok: 0, changed: 0, failed: 0 }
  const job: JobRecord = {
    id,
    kind: req.kind,
    nodes: records.map(n => n.name),
    roles: req.kind === 'commission' || req.kind === 'reconfigure' ? req.roles : [],
    vars: req.vars,
    status: 'queued',
    createdAt: now.toISOString(),
    startedAt: null,
    finishedAt: null,
    timeoutAt: new Date(now.getTime() + timeoutS * 1000).toISOString(),
    reason: null,
    perNode,
    epoch: ctx.epoch,
    ...runs,
    ...(agentVersion !== undefined ? { agentVersion } : {}),
    ...(req.rollout !== undefined ? newRollout(records.map(n => n.name), req.rollout) : {})
  }
  return { job, records }
}
