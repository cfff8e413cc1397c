/**
 * What an agent upgrade does, pure: each node's current version against the target (upgrade,
 * no-op, downgrade, unknown), the refusal of a no-op or a downgrade without `force`, the order
 * (one node at a time, the manager's own node last: its restart ends this manager) and the
 * variables agent-upgrade.yml gets.
 */

import { ClusterdError } from '../../protocol/errors.js'
import type { AgentRelease } from './agent-release.js'

/** What the upgrade means for one node. `unknown`: its agent reported no version yet. */
export type AgentUpgradeAction = 'upgrade' | 'no-op' | 'downgrade' | 'unknown'

/** One node's step of an agent upgrade. */
export interface AgentUpgradeStep {
  node: string
  /** The version its agent reports now, or null. */
  from: string | null
  action: AgentUpgradeAction
}

/** Numeric identifiers compare as numbers, others as text; a number sorts before text (semver's rule). */
function compareIds (a: string, b: string): number {
  const na = /^[0-9]+$/.test(a)
  const nb = /^[0-9]+$/.test(b)
  if (na && nb) return Math.sign(Number(a) - Number(b))
  if (na !== nb) return na ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Order of two versions like `1.2.3`, `1.2.3-rc.1`, `1.2.3+build` (semver's precedence: dotted
 * parts in order, a pre-release below its release, build metadata ignored). Negative when `a` is
 * older, 0 when equal, positive when newer.
 */
export function compareVersions (a: string, b: string): number {
  const [coreA = '', preA] = splitVersion(a)
  const [coreB = '', preB] = splitVersion(b)
  const c = compareDotted(coreA, coreB)
  if (c !== 0) return c
  if (preA === undefined || preB === undefined) return preA === preB ? 0 : preA === undefined ? 1 : -1
  return compareDotted(preA, preB)
}

function splitVersion (v: string): [string, string | undefined] {
  const noBuild = v.split('+')[0] ?? ''
  const i = noBuild.indexOf('-')
  return i < 0 ? [noBuild, undefined] : [noBuild.slice(0, i), noBuild.slice(i + 1)]
}

function compareDotted (a: string, b: string): number {
  const pa = a.split('.')
  const pb = b.split('.')
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (pa[i] === undefined) return -1
    if (pb[i] === undefined) return 1
    const c = compareIds(pa[i] as string, pb[i] as string)
    if (c !== 0) return c
  }
  return 0
}

/** Each node's step towards `target`, in the given order. */
export function agentUpgradeSteps (nodes: ReadonlyArray<{ name: string, agentVersion: string | null }>, target: string): AgentUpgradeStep[] {
  return nodes.map(n => {
    const from = n.agentVersion
    if (from === null || from === '') return { node: n.name, from: null, action: 'unknown' }
    const c = compareVersions(target, from)
    return { node: n.name, from, action: c > 0 ? 'upgrade' : c === 0 ? 'no-op' : 'downgrade' }
  })
}

/**
 * The nodes to run: without `force`, a downgrade anywhere refuses the whole request, and so does
 * a request where every node already runs `target`; nodes already at `target` are left out.
 * With `force` every node runs (a re-install or a deliberate downgrade).
 * Throws CLUSTERD_ERR_UPGRADE_REFUSED, naming the nodes.
 */
export function agentUpgradeNodes (steps: readonly AgentUpgradeStep[], target: string, force: boolean): string[] {
  if (force) return steps.map(s => s.node)
  const down = steps.filter(s => s.action === 'downgrade')
  if (down.length > 0) {
    throw new ClusterdError('CLUSTERD_ERR_UPGRADE_REFUSED',
      `agent ${target} would downgrade ${down.map(s => `${s.node} (runs ${s.from ?? '?'})`).join(', ')}; pass --force to downgrade`,
      { steps })
  }
  const run = steps.filter(s => s.action !== 'no-op').map(s => s.node)
  if (run.length === 0) {
    throw new ClusterdError('CLUSTERD_ERR_UPGRADE_REFUSED',
      `nothing to do: ${steps.map(s => s.node).join(', ')} already run${steps.length === 1 ? 's' : ''} agent ${target}; pass --force to install it again`,
      { steps })
  }
  return run
}

/** One node at a time in the given order, `self` (the manager's own node) last. */
export function agentUpgradeOrder (nodes: readonly string[], self: string): string[] {
  return [...nodes.filter(n => n !== self), ...nodes.filter(n => n === self)]
}

/** Request variables of an agent-upgrade job: the release, and the operator's own (`--var`, e.g. agent_prefix). */
export function agentUpgradeVars (release: AgentRelease, vars: Record<string, string>): Record<string, string> {
  return {
    ...vars,
    agent_release: release.path,
    agent_release_sha256: release.sha256,
    agent_tree: release.tree,
    agent_upgrade_version: release.version
  }
}
