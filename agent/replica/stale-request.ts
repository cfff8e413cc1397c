/**
 * The replica's half of deposing a stale manager (pure): a replication request whose epoch is
 * below the highest epoch this agent has seen comes from a manager that was replaced. It is
 * answered `stale` with that epoch, not merely refused, so the sender stops acknowledging
 * writes and steps down at once (docs/architecture.md, "Deposed managers").
 *
 * Only a strictly higher epoch counts. Two agents that claimed the same epoch at once are
 * settled by their claims (claimSupersedes): a replica that has heard only one of them cannot
 * tell the loser, so it refuses as before and the claims decide.
 */

import type { ManagerInfo } from '../../protocol/manager-wire.js'

/** What a replica answers a stale sender: the newer epoch and, when known, its manager. */
export interface StaleVerdict {
  epoch: number
  manager: string | null
}

/** The `stale` verdict for a request of `epoch`, or null when the request is not from a replaced manager. */
export function staleRequest (known: { highestEpoch: number, manager: ManagerInfo | null }, epoch: number): StaleVerdict | null {
  if (!(known.highestEpoch > epoch)) return null
  const m = known.manager
  return { epoch: known.highestEpoch, manager: m !== null && m.epoch === known.highestEpoch ? m.peerId : null }
}
