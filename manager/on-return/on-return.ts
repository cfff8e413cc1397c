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

/**
 * An outage shorter than this is a flap, not a return: a live node that membership falsely
 * declared failed (SWIM under CPU starvation, a stale death claim from a member that was cut
 * off) is refuted within seconds, and starting a verify job for it each time made the node busy
 * for an operator's next request (the manager suite's CLUSTERD_ERR_NODE_BUSY in CI). A reboot
 * or agent restart is still a return however short, by its boot.
 */
export const RETURN_MIN_OUTAGE_MS = 10_000

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
  /**
   * How long the node was unreachable, when this manager saw it go (undefined: unknown, e.g. it
   * was already unreachable when this manager started). Below `minOutageMs` it is a flap.
   */
  outageMs?: number
  /** Default RETURN_MIN_OUTAGE_MS. */
  minOutageMs?: number
}

/**
 * Why `known` has returned, given what membership shows now; null when it has not (not
 * commissioned, not reachable now, nothing changed, or only a flap shorter than `minOutageMs`). Unknown boots never count: a
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
  if (!known.reachable && options.unreachableWasSeen !== false) {
    if (options.outageMs !== undefined && options.outageMs < (options.minOutageMs ?? RETURN_MIN_OUTAGE_MS)) return null
    return 'the node is reachable again after being unreachable'
  }
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
