/**
 * Small datagrams sent straight to one member, outside the broadcast queue, when a pair of
 * nodes disagrees about one of them (docs/architecture.md, "Partition heal"): each answers a
 * concrete message or merge, at most one datagram per cause (`tellAccused`: at most 8 per
 * rate-limited cause), so none can be amplified.
 */

import type { MemberState } from './member-state.js'
import { Code, randomSlots } from './member-table.js'
import type { Broadcast, Endpoint, MemberId, Output, Rng } from './types.js'

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

/** Our claim about a member we hold suspect or failed (the one to tell it, so it refutes), or undefined. */
export function claimAbout (state: MemberState, slot: number): Broadcast | undefined {
  const code = state.table.code(slot)
  if (code !== Code.Suspect && code !== Code.Failed) return undefined
  const info = state.table.info(slot)
  return { t: code === Code.Failed ? 'dead' : 'suspect', id: info.id, incarnation: info.incarnation, from: state.selfId }
}

/** Most members told by one `tellAccused`. */
export const MAX_TOLD_ACCUSED = 8

/**
 * We learned we were held failed (a heal: our link was cut): the suspicions and verdicts we
 * made while cut off spent their retransmits on a dead link, so their subjects never heard of
 * them and never refute; the others ignore them for `revivedQuietMs`, and we no longer probe
 * a member we hold failed. Tell up to MAX_TOLD_ACCUSED members we hold suspect, or failed
 * within `toDeadMs`, our claim directly (one small datagram each; the caller rate-limits).
 */
export function tellAccused (state: MemberState, rng: Rng, toDeadMs: number, now: number, out: Output): void {
  const t = state.table
  if (t.count === t.live && state.suspicions.size === 0) return
  const since = now - toDeadMs
  const slots = randomSlots(t, rng, MAX_TOLD_ACCUSED, s => {
    const c = t.code(s)
    return c === Code.Suspect || (c === Code.Failed && t.lastChange(s) > since)
  })
  for (const slot of slots) tellClaim(state, slot, out)
}

/** Send the member in `slot` our claim about it (suspect or failed), one small datagram; nothing when we hold it live. */
export function tellClaim (state: MemberState, slot: number, out: Output): void {
  const claim = claimAbout(state, slot)
  if (claim !== undefined) out.send.push({ to: state.table.info(slot).addr, msg: { t: 'gossip', from: state.selfId, gossip: [claim] } })
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
 * Tell members that a push-pull peer holds alive, at the incarnation we hold failed (or
 * suspect), our claim (MemberState.unaware): they refute, instead of never hearing of it.
 */
export function tellUnaware (state: MemberState, out: Output): void {
  const ids = state.unaware
  if (ids.length === 0) return
  for (const id of ids) {
    const slot = state.table.slot(id)
    if (slot >= 0) tellClaim(state, slot, out)
  }
  ids.length = 0
}
