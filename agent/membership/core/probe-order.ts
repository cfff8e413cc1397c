/**
 * Probe order without a per-node array of N ids: each pass walks the slot numbers
 * [0, capacity) in a random permutation given by a random start and a random stride coprime
 * with the capacity (start + k * stride mod capacity visits every slot exactly once). Every
 * live member is probed once per pass, as SWIM's round-robin over a shuffled list promises;
 * a member added during a pass is reached in the next one at the latest. O(1) memory.
 */

import type { Rng } from './types.js'

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
