/**
 * Settle rounds (docs/architecture.md, "Membership core (sans-I/O)"): after a (re)join, or
 * after learning it was held failed (a partition heal), a node push-pulls a random member
 * again `intervalMs`, then 2x, 4x ... later while its view still changes (members added or
 * revived since the previous round), at most `rounds` times. When nodes join at once, each
 * one's join push-pull teaches it only what its seed knew at that moment, and the others'
 * `alive` relays are mostly spent on members that learned them by push-pull; after a heal,
 * every member's refutation must cross, one ~650-byte gossip each. A node joining a settled
 * cluster alone learns nothing new in between and makes none. Pure bookkeeping: SwimCore
 * makes the exchanges.
 */

import type { Endpoint, MemberId } from './types.js'

/** The schedule of one node's settle rounds. */
export class SettleRounds {
  /** When the next round is due (Infinity = none). */
  nextAt = Infinity
  /** The rounds follow a heal: exchange across it (with a member held failed) when possible. */
  across = false
  private done = 0
  /** The view's change counter when the rounds started or the last round was made. */
  private mark = 0

  constructor (private readonly intervalMs: number, private readonly rounds: number) {}

  /** Start (or restart) the rounds at `now`; `gain` = the view's change counter now. */
  start (now: number, across: boolean, gain: number): void {
    if (this.intervalMs <= 0 || this.rounds <= 0) return
    this.mark = gain
    this.done = 0
    this.across = across
    this.nextAt = now + this.intervalMs
  }

  /**
   * A round is due: true when the caller should push-pull now (the view changed since the last
   * mark); otherwise, or once `rounds` were made, the rounds end.
   */
  step (now: number, gain: number): boolean {
    if (gain === this.mark || this.done >= this.rounds) {
      this.nextAt = Infinity
      return false
    }
    this.done++
    this.mark = gain
    this.nextAt = this.done >= this.rounds ? Infinity : now + this.intervalMs * 2 ** this.done
    return true
  }

  /** Stop the rounds (we left). */
  stop (): void { this.nextAt = Infinity }
}

/**
 * The push-pull in flight to a member held failed (a catch-up across a heal): if that member
 * is really gone, the exchange fails and the caller catches up with an alive member instead.
 */
export class AcrossTarget {
  private to: Endpoint | null = null
  private id: MemberId | null = null

  /** A push-pull to this member we hold failed was just asked for. */
  set (to: Endpoint, id: MemberId): void { this.to = to; this.id = id }

  /** A push-pull reply came from `from`: the pending one (if it was) succeeded. */
  replied (from: MemberId | null): void {
    if (from !== null && from === this.id) { this.to = null; this.id = null }
  }

  /** A push-pull to `to` failed: true when it was the pending one (then forgotten). */
  failed (to: Endpoint): boolean {
    const t = this.to
    if (t === null || t.host !== to.host || t.port !== to.port) return false
    this.to = null
    this.id = null
    return true
  }
}
