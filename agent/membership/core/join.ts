/**
 * Joining (docs/architecture.md, "Membership under load"): push-pull every seed at start,
 * with one datagram announcing us to each. Until one of our push-pulls has completed (or again
 * once we know no other live member), retry after a jittered, doubling backoff (joinRetryMs
 * x 1, 2, 4, x U(0.5, 1.5)): to a member gossip already brought us when there is one, else to
 * a random seed. 63 agents started together at one seed on a saturated machine queue 63
 * push-pulls there, most time out, and retrying them all at the seed every 2 s only kept it
 * saturated; spread over the members they know, the retries complete. A seed that never shows
 * up among the members is still push-pulled, at the longest backoff, until it does.
 */

import type { MemberState } from './member-state.js'
import { Code, randomSlots } from './member-table.js'
import type { Endpoint, MemberId, Output, Rng } from './types.js'

/**
 * The backoff doubles this many times at most: x4, at most 12 s with the agent's 2 s, so a node
 * cut off from its seeds still joins within seconds of the link healing (the simulator's
 * 64-node burst: without doubling the retries kept the seed's push-pull slots full and 2-8
 * joiners, refused for 30 s, claimed the manager alone).
 */
const MAX_DOUBLINGS = 2

/** The join schedule of one node. */
export class Join {
  /** When the next attempt (or check) is due. */
  nextAt = Infinity
  /** Push-pulls sent so far without one completing (the backoff doubles with it). */
  private attempts = 0
  /** Seeds (host:port) seen among the members: never contacted again by the join. */
  private readonly seen = new Set<string>()

  constructor (private readonly seeds: Endpoint[], private readonly retryMs: number, private readonly rng: Rng) {}

  /** Attempt (or re-check) now; `joined` = a push-pull of ours has completed. */
  step (state: MemberState, selfId: MemberId, joined: boolean, now: number, out: Output): void {
    const t = state.table
    if (this.seeds.length === 0 || state.left) {
      this.attempts = 0
      this.nextAt = this.seeds.length === 0 ? Infinity : now + this.retryMs
      return
    }
    if (joined && t.live > 1) {
      this.attempts = 0
      this.nextAt = now + this.retryMs
      this.reachMissingSeed(state, now, out)
      return
    }
    const sync = state.localState(true)
    const self = state.slotOfSelf
    const known = this.attempts > 0 ? randomSlots(t, this.rng, 1, s => s !== self && t.code(s) === Code.Alive)[0] : undefined
    if (known !== undefined) {
      const info = t.info(known)
      out.syncs.push({ t: 'sync', to: info.addr, id: info.id, state: sync })
    } else if (this.attempts > 0) {
      out.syncs.push({ t: 'sync', to: this.seeds[Math.floor(this.rng() * this.seeds.length)]!, id: null, state: sync })
    } else {
      for (const to of this.seeds) {
        // A saturated seed handles the datagram long before its queue of join push-pulls and
        // gossips us on, so members start probing us, and their gossip teaches us members
        // for the retries to go to.
        out.send.push({ to, msg: { t: 'gossip', from: selfId, gossip: [{ t: 'alive', info: state.selfInfo }] } })
        out.syncs.push({ t: 'sync', to, id: null, state: sync })
      }
    }
    const backoff = this.retryMs * 2 ** Math.min(MAX_DOUBLINGS, this.attempts) * (0.5 + this.rng())
    this.attempts++
    this.nextAt = now + backoff
  }

  /**
   * Joined, but a seed has never shown up among the members: it was not up yet when our join
   * went out, and the members we did reach have not met it either (every agent that joined
   * went to another seed, or to members gossip brought). Nobody would ever contact it: two
   * clusters, each electing its own manager. Push-pull it at the longest backoff until it
   * appears; a seed once seen is not checked again (the member table is scanned only while one
   * is missing, so the cost stays flat in N once every seed is known).
   */
  private reachMissingSeed (state: MemberState, now: number, out: Output): void {
    const t = state.table
    const missing: Endpoint[] = []
    for (const seed of this.seeds) {
      const key = `${seed.host}:${seed.port}`
      if (this.seen.has(key)) continue
      let found = false
      for (let slot = 0; slot < t.capacity && !found; slot++) {
        if (t.code(slot) === Code.Free) continue
        const addr = t.info(slot).addr
        found = addr.host === seed.host && addr.port === seed.port
      }
      if (found) this.seen.add(key)
      else missing.push(seed)
    }
    if (missing.length === 0) return
    const to = missing[Math.floor(this.rng() * missing.length)] as Endpoint
    out.syncs.push({ t: 'sync', to, id: null, state: state.localState(true) })
    this.nextAt = now + this.retryMs * 2 ** MAX_DOUBLINGS * (0.5 + this.rng())
  }
}
