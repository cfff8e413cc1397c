/**
 * Upgrade plans (sdcadm's update plans): nodes grouped by the revision and agent version
 * applied to them, each group marked upgrade, no-op (already there) or downgrade (the target
 * is older). `upgrade --to REV` refuses a plan with no-ops or downgrades unless `--force`.
 * Pure, so `--plan` and the real upgrade judge the same way.
 */
import { ClusterdError } from '../../protocol/errors.js'
import { jobNodeRevision, type JobKind, type JobRecord } from '../../protocol/jobs.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import type { UpgradeAction, UpgradePlan, UpgradePlanGroup } from '../../protocol/revisions.js'

/** A node as a plan reads it. */
export type PlanNode = Pick<NodeRecord, 'name' | 'revision' | 'agentVersion'>

/**
 * What upgrading a node at revision `from` to `to` does. Agent versions are shown, not judged:
 * a configuration upgrade does not change the agent (`upgrade --agent-version` does, with its
 * own no-op and downgrade checks in manager/agent-upgrade), and a node's `agentVersion` is what
 * its agent reports.
 */
export function upgradeAction (from: number | null, to: number): UpgradeAction {
  if (from === to) return 'no-op'
  if (from !== null && from > to) return 'downgrade'
  return 'upgrade'
}

/** The plan for upgrading `nodes` to revision `to` with agent version `toAgent`. */
export function planUpgrade (nodes: readonly PlanNode[], to: number, toAgent: string | null): UpgradePlan {
  const groups = new Map<string, UpgradePlanGroup>()
  for (const n of nodes) {
    const key = JSON.stringify([n.revision, n.agentVersion])
    let g = groups.get(key)
    if (g === undefined) {
      g = { fromRevision: n.revision, toRevision: to, fromAgentVersion: n.agentVersion, toAgentVersion: toAgent, action: upgradeAction(n.revision, to), nodes: [] }
      groups.set(key, g)
    }
    g.nodes.push(n.name)
  }
  const order = (g: UpgradePlanGroup): number => g.fromRevision ?? 0
  const sorted = [...groups.values()].sort((a, b) => order(a) - order(b) || String(a.fromAgentVersion).localeCompare(String(b.fromAgentVersion)))
  for (const g of sorted) g.nodes.sort()
  return { toRevision: to, toAgentVersion: toAgent, groups: sorted }
}

/** CLUSTERD_ERR_UPGRADE_REFUSED naming the no-op and downgrade nodes of `plan`, or null when it has none. */
export function planRefusal (plan: UpgradePlan): ClusterdError | null {
  const refused = plan.groups.filter(g => g.action !== 'upgrade')
  if (refused.length === 0) return null
  const parts = refused.map(g => g.action === 'no-op'
    ? `${g.nodes.join(', ')} already at revision ${String(g.fromRevision)}${g.fromAgentVersion !== null ? ` (agent ${g.fromAgentVersion})` : ''}`
    : `${g.nodes.join(', ')} would go down from revision ${String(g.fromRevision)} to ${plan.toRevision}`)
  return new ClusterdError('CLUSTERD_ERR_UPGRADE_REFUSED',
    `upgrade to revision ${plan.toRevision} refused: ${parts.join('; ')}; leave them out or pass --force`,
    { noOp: refused.filter(g => g.action === 'no-op').flatMap(g => g.nodes), downgrade: refused.filter(g => g.action === 'downgrade').flatMap(g => g.nodes) })
}

/**
 * The revisions a job runs: commission, decommission and upgrade run the one asked for, else
 * the cluster's current one; verify and reconfigure run the revision applied to each node (one
 * not recorded counts as the current one), so a check compares a node with what it was given.
 * Nodes at different revisions get `nodeRevisions` (each group runs its own revision).
 */
export function jobRevisions (kind: JobKind, asked: number | undefined, nodes: readonly PlanNode[], current: number | null): { revision: number | null, nodeRevisions?: Record<string, number> } {
  if (kind !== 'verify' && kind !== 'reconfigure') return { revision: asked ?? current }
  const byNode: Record<string, number> = {}
  for (const n of nodes) {
    const rev = n.revision ?? current
    if (rev !== null) byNode[n.name] = rev
  }
  const distinct = new Set(Object.values(byNode))
  if (distinct.size <= 1) return { revision: [...distinct][0] ?? current }
  return { revision: null, nodeRevisions: byNode }
}

/** `targets` grouped by the revision `job` runs on each (null: a job from before revisions), in revision order. */
export function byJobRevision<T extends { name: string }> (job: Pick<JobRecord, 'revision' | 'nodeRevisions'>, targets: readonly T[]): Array<[number | null, T[]]> {
  const groups = new Map<number | null, T[]>()
  for (const t of targets) {
    const rev = jobNodeRevision(job, t.name)
    groups.set(rev, [...(groups.get(rev) ?? []), t])
  }
  return [...groups].sort(([a], [b]) => (a ?? 0) - (b ?? 0))
}
