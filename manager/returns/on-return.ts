/**
 * Nodes that return: the pure decisions. A commissioned node "returns" when membership sees
 * it reachable again after it was unreachable, or sees a new boot (reboot) or agent start
 * (agent restart) in its signed facts, which also catches a restart too quick for the
 * failure detector to notice. What the manager then does is the `on-return` policy.
 */

import type { NodeBoot } from '../../protocol/members.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { CONFIG_DEFAULTS, type OnReturnPolicy } from '../api/config-values.js'

/** What membership shows of a node now. */
export interface SeenNode {
  reachable: boolean
  /** From the node's facts; null when its agent reports none (older agents). */
  boot: NodeBoot | null
}

/** Job kinds the on-return policy can start. */
export type ReturnJobKind = 'verify' | 'reconfigure'

/** How far to trust the recorded reachability. */
export interface DetectOptions {
  /**
   * False when the record says unreachable only because a starting manager did not see the
   * node yet (not because membership saw it fail): a failover must not make every node
   * "return". Such a node returns only with a new boot. Default true.
   */
  unreachableWasSeen?: boolean
}

/**
 * Why `known` has returned, given what membership shows now; null when it has not (not
 * commissioned, not reachable now, or nothing changed). Unknown boots never count: a
 * record or agent from before boot ids existed is a baseline, not a return.
 */
export function detectReturn (known: Pick<NodeRecord, 'state' | 'reachable' | 'boot'> | undefined, seen: SeenNode, options: DetectOptions = {}): string | null {
  if (known === undefined || known.state !== 'commissioned' || !seen.reachable) return null
  const before = known.boot
  const now = seen.boot
  if (before !== null && now !== null) {
    if (before.id !== '' && now.id !== '' && before.id !== now.id) return 'the node rebooted (new boot id)'
    if (before.agentStartedAt !== now.agentStartedAt) return `the agent restarted (started ${now.agentStartedAt})`
  }
  if (!known.reachable && options.unreachableWasSeen !== false) return 'the node is reachable again after being unreachable'
  return null
}

/** The stored `on-return` value as a policy; anything unreadable falls back to the default. */
export function onReturnPolicy (raw: unknown): OnReturnPolicy {
  return raw === 'verify' || raw === 'reconfigure' || raw === 'none' ? raw : CONFIG_DEFAULTS['on-return']
}

/** The job the policy starts for a returned node, or null for `none`. */
export function returnJob (policy: OnReturnPolicy): ReturnJobKind | null {
  return policy === 'none' ? null : policy
}
