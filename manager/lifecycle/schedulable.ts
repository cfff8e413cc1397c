/**
 * Which nodes may get work: the pure rules of cordoning (`clusterctl cordon`) and of picking
 * nodes for `--all` and selectors (`-l K=V`). A cordoned node gets no new job but a
 * decommission (retiring a drained machine is what cordoning leads to), no on-return action,
 * and is never picked by `--all`, a selector or a rollout; a `broken` node accepts no job at
 * all (the machine refuses every job command there).
 */

import type { JobKind } from '../../protocol/jobs.js'
import type { LifecycleState, NodeRecord } from '../../protocol/nodes.js'
import { matchSelector, type NodeSelector } from '../../protocol/selector.js'
import { ACCEPTING_STATES } from './node-machine.js'

/**
 * True when a rollout, `--all` or a selector may put `node` into a job that keeps it
 * commissioned (upgrade, verify, reconfigure): commissioned and not cordoned. Rollouts use it
 * to pick their nodes.
 */
export function isSchedulable (node: Pick<NodeRecord, 'state' | 'cordoned'>): boolean {
  return node.state === 'commissioned' && node.cordoned !== true
}

/** Job kinds a cordoned node still accepts. */
export const CORDON_ALLOWED_KINDS: readonly JobKind[] = ['decommission']

/** Why `node` refuses a `kind` job because it is cordoned; null when cordoning does not stop it. */
export function cordonRefusal (node: Pick<NodeRecord, 'name' | 'cordoned'>, kind: JobKind): string | null {
  if (node.cordoned !== true || CORDON_ALLOWED_KINDS.includes(kind)) return null
  return `node ${node.name} is cordoned: it gets no new ${kind} job (only decommission); clusterctl uncordon ${node.name} first`
}

/** States from which a node can start a `kind` job. */
export function statesFor (kind: JobKind): readonly LifecycleState[] {
  switch (kind) {
    case 'commission': return ACCEPTING_STATES.COMMISSION
    case 'decommission': return ACCEPTING_STATES.DECOMMISSION
    case 'upgrade': return ACCEPTING_STATES.UPGRADE
    // verify, reconfigure and kinds added later act on commissioned nodes.
    default: return ['commissioned']
  }
}

/**
 * The nodes a selector picks for a `kind` job, in name order: those that match, are not
 * cordoned (unless the kind is allowed on cordoned nodes) and are in a state that can start
 * the job. A matching node that cannot take the job is left out, not refused: a selector
 * names a set, like `--all`.
 */
export function selectForJob (nodes: readonly NodeRecord[], selector: NodeSelector, kind: JobKind): string[] {
  const states = statesFor(kind)
  return nodes
    .filter(n => matchSelector(selector, n) && states.includes(n.state) && cordonRefusal(n, kind) === null)
    .map(n => n.name)
    .sort()
}
