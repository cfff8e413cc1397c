/**
 * Small datagrams sent straight to one member, outside the broadcast queue, when a pair of
 * nodes disagrees about one of them (docs/architecture.md, "Partition heal"): each answers a
 * concrete message or merge, at most one datagram per cause, so none can be amplified.
 */

import type { MemberState } from './member-state.js'
import { Code } from './member-table.js'
import type { Endpoint, MemberId, Output } from './types.js'

/** Our `dead` verdict about `id` (held failed), as one gossip datagram to `to`. */
function sendVerdict (state: MemberState, to: Endpoint, id: MemberId, out: Output): void {
  const slot = state.table.slot(id)
  if (slot < 0 || state.table.code(slot) !== Code.Failed) return
  const info = state.table.info(slot)
  out.send.push({ to, msg: { t: 'gossip', from: state.selfId, gossip: [{ t: 'dead', id, incarnation: info.incarnation, from: state.selfId }] } })
}

/**
 * A member we hold failed is talking to us: tell it (one small datagram per datagram it
 * sends), so it refutes, or re-announces a refutation we missed. Without this, a pair left
 * disagreeing after a partition heals waits for a push-pull.
 */
export function tellFailed (state: MemberState, to: Endpoint, id: MemberId, out: Output): void {
  sendVerdict(state, to, id, out)
}

/** Send our current info straight to whoever made a stale claim about us (MemberState.reannounce). */
export function answerStaleClaims (state: MemberState, out: Output): void {
  const accusers = state.staleAccusers
  if (accusers.length === 0) return
  for (const id of accusers) {
    const slot = state.table.slot(id)
    if (slot < 0) continue
    out.send.push({ to: state.table.info(slot).addr, msg: { t: 'gossip', from: state.selfId, gossip: [{ t: 'alive', info: state.selfInfo }] } })
  }
  accusers.length = 0
}

/**
 * Tell members that a push-pull peer holds alive, at the incarnation we hold failed, our
 * verdict (MemberState.unawareFailed): they refute, instead of never hearing of it.
 */
export function tellUnaware (state: MemberState, out: Output): void {
  const ids = state.unawareFailed
  if (ids.length === 0) return
  for (const id of ids) {
    const slot = state.table.slot(id)
    if (slot >= 0) sendVerdict(state, state.table.info(slot).addr, id, out)
  }
  ids.length = 0
}
