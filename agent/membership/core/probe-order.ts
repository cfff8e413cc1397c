/**
 * Probe order without a per-node array of N ids: each pass walks the slot numbers
 * [0, capacity) in a random permutation given by a random start and a random stride coprime
 * with the capacity (start + k * stride mod capacity visits every slot exactly once). Every
 * live member is probed once per pass, as SWIM's round-robin over a shuffled list promises;
 * a member added during a pass is reached in the next one at the latest. O(1) memory.
 */

import type { MemberId, Rng } from './types.js'

/** A walk over slot numbers in a random permutation, one pass after another. */
export class ProbeOrder {
  private cap = 0
  private start = 0
  private stride = 1
  private k = 0

  constructor (private readonly rng: Rng) {}

  /**
   * The next slot for which `accept` is true, or -1 when none is within two passes (a pass
   * boundary may fall in the middle of the search). `capacity` is the table's current one.
   */
  next (capacity: number, accept: (slot: number) => boolean): number {
    if (capacity <= 0) return -1
    if (this.cap === 0) this.newPass(capacity)
    for (let steps = 0; steps < 2 * capacity + 2; steps++) {
      if (this.k >= this.cap) this.newPass(capacity)
      const slot = (this.start + this.k * this.stride) % this.cap
      this.k++
      if (slot < capacity && accept(slot)) return slot
    }
    return -1
  }

  private newPass (capacity: number): void {
    this.cap = capacity
    this.k = 0
    this.start = Math.floor(this.rng() * capacity)
    let stride = 1 + Math.floor(this.rng() * Math.max(1, capacity - 1))
    // Bounded: among any `capacity` consecutive integers one is coprime with it (1 at worst).
    for (let i = 0; i < capacity && gcd(stride, capacity) !== 1; i++) stride = stride % capacity + 1
    this.stride = gcd(stride, capacity) === 1 ? stride : 1
  }
}

function gcd (a: number, b: number): number {
  while (b !== 0) { const t = a % b; a = b; b = t }
  return a
}

/** Most members remembered for an early probe (the oldest is dropped beyond it). */
export const NEWCOMERS_MAX = 64

/**
 * Members this node learned from a third party (gossip relayed by another member, or a
 * push-pull peer's view), to be probed ahead of the permutation: every second probe goes to
 * the newest of them. Such a member may not know us: when many join at once, our `alive` ran
 * out of retransmits before reaching it, and its join push-pull went to a member that had not
 * met us yet. Our ping makes it ask who we are (UnknownSenders) and learn us from our answer,
 * within a few probe intervals instead of up to a whole pass (32 s at 64 members, longer with
 * a raised health score). Newest first: a member just learned is the likeliest not to know us
 * yet, and a whole view merged at a join cannot hold back one learned later. It only
 * reorders probes: no datagram is added, and every member is still probed once per pass.
 */
export class Newcomers {
  private readonly ids: MemberId[] = []
  /** The last probe went to a newcomer: the next one follows the permutation. */
  private took = false

  /** `id` was just added to the view on someone else's word. */
  add (id: MemberId): void {
    const at = this.ids.indexOf(id)
    if (at >= 0) this.ids.splice(at, 1)
    else if (this.ids.length >= NEWCOMERS_MAX) this.ids.shift()
    this.ids.push(id)
  }

  /** The newcomer to probe now (dropping those `usable` rejects), or undefined: follow the order. */
  next (usable: (id: MemberId) => boolean): MemberId | undefined {
    if (this.took) { this.took = false; return undefined }
    while (this.ids.length > 0) {
      const id = this.ids.pop() as MemberId
      if (usable(id)) { this.took = true; return id }
    }
    return undefined
  }
}
