/**
 * The replica's half of deposing a stale manager (pure): a replication request whose epoch is
 * below the highest epoch this agent has seen comes from a manager that was replaced. It is
 * answered `stale` with that epoch, not merely refused, so the sender stops acknowledging
 * writes and steps down at once (docs/architecture.md, "Deposed managers").
 *
 * A request of the current epoch from a peer other than the manager this agent's election
 * names for that epoch comes from a rival claimant of the same epoch (two agents that each
 * missed the other's claim): it is answered `stale` with that epoch and the named manager.
 * The sender's role is deposed (it acknowledges nothing more); its election then either names
 * a claim of that epoch it heard that beats its own (it already stopped), or holds the best
 * claim it heard and re-claims the next epoch, fencing what the named rival did under the
 * shared one (docs/architecture.md, "Same-epoch claims").
 */

import type { ManagerInfo } from '../../protocol/manager-wire.js'

/** What a replica answers a stale sender: the newer epoch and, when known, its manager. */
export interface StaleVerdict {
  epoch: number
  manager: string | null
}

/**
 * The `stale` verdict for a request of `epoch` from `from`, or null when the request is not from
 * a replaced manager or a losing rival of the same epoch. Without `from`, only a lower epoch is judged.
 */
export function staleRequest (known: { highestEpoch: number, manager: ManagerInfo | null }, epoch: number, from?: string): StaleVerdict | null {
  const m = known.manager
  if (from !== undefined && m !== null && m.epoch === epoch && epoch === known.highestEpoch && m.peerId !== from) return { epoch, manager: m.peerId }
  if (!(known.highestEpoch > epoch)) return null
  return { epoch: known.highestEpoch, manager: m !== null && m.epoch === known.highestEpoch ? m.peerId : null }
}
