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

/** Most unknown senders remembered as asked (a bound); one is asked again after ASK_AGAIN_MS. */
const MAX_ASKED = 64
const ASK_AGAIN_MS = 5_000

/**
 * Members that talked to us although we do not know them: their `alive` reached them and not
 * us (when many join at once its retransmits run out first), so we would miss them until the
 * next periodic push-pull (60 s at 64 members; the real 64-host run had views missing members
 * for minutes). We ask each one for its info with one small datagram: a `suspect` claim at
 * incarnation 0, which is always stale (incarnations start at 1), so the member answers it with
 * its current info straight to us (MemberState.reannounce) and gossips it once more; no
 * incarnation changes and no one takes the claim against it.
 */
export class UnknownSenders {
  private readonly asked = new Map<MemberId, number>()

  /** `id` sent us a datagram from `from`: ask it who it is (at most once per ASK_AGAIN_MS). */
  ask (state: MemberState, from: Endpoint, id: MemberId, now: number, out: Output): void {
    if (state.table.slot(id) >= 0 || id === state.selfId) return
    const at = this.asked.get(id)
    if (at !== undefined && now - at < ASK_AGAIN_MS) return
    if (at === undefined && this.asked.size >= MAX_ASKED) {
      for (const [k, t] of this.asked) if (now - t >= ASK_AGAIN_MS) this.asked.delete(k)
      if (this.asked.size >= MAX_ASKED) return
    }
    this.asked.set(id, now)
    out.send.push({ to: from, msg: { t: 'gossip', from: state.selfId, gossip: [{ t: 'suspect', id, incarnation: 0, from: state.selfId }] } })
  }
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
