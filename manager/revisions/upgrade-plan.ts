/**
 * Upgrade plans (sdcadm's update plans): nodes grouped by the revision and agent version
 * applied to them, each group marked upgrade, no-op (already there) or downgrade (the target
 * is older). `upgrade --to REV` refuses a plan with no-ops or downgrades unless `--force`.
 * Pure, so `--plan` and the real upgrade judge the same way.
 */
import { ClusterdError } from '../../protocol/errors.js'
import type { JobKind } from '../../protocol/jobs.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import type { UpgradeAction, UpgradePlan, UpgradePlanGroup } from '../../protocol/revisions.js'

/** A node as a plan reads it. */
export type PlanNode = Pick<NodeRecord, 'name' | 'revision' | 'agentVersion'>

/** What upgrading a node at `from` (and agent version `fromAgent`) to `to` does. */
export function upgradeAction (from: number | null, fromAgent: string | null, to: number, toAgent: string | null): UpgradeAction {
  if (from === to && fromAgent === toAgent) return 'no-op'
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
      g = { fromRevision: n.revision, toRevision: to, fromAgentVersion: n.agentVersion, toAgentVersion: toAgent, action: upgradeAction(n.revision, n.agentVersion, to, toAgent), nodes: [] }
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
 * The revision a job runs: commission, decommission and upgrade run the one asked for, else the
 * cluster's current one; verify and reconfigure run the revision applied to their nodes (one not
 * recorded counts as the current one), so a check compares a node with what it was given. Nodes
 * at different revisions cannot share one verify or reconfigure: refused, naming the groups.
 */
export function jobRevision (kind: JobKind, asked: number | undefined, nodes: readonly PlanNode[], current: number | null): number | null {
  if (kind !== 'verify' && kind !== 'reconfigure') return asked ?? current
  const byRevision = new Map<number | null, string[]>()
  for (const n of nodes) {
    const rev = n.revision ?? current
    byRevision.set(rev, [...(byRevision.get(rev) ?? []), n.name])
  }
  if (byRevision.size > 1) {
    const groups = [...byRevision].map(([rev, names]) => `revision ${String(rev)}: ${names.join(', ')}`).join('; ')
    throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `the nodes are at different configuration revisions (${groups}); ${kind} each revision's nodes in their own job, or upgrade them to one revision`)
  }
  return [...byRevision.keys()][0] ?? current
}
