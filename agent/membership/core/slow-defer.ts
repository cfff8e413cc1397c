/**
 * A slow node defers its own push-pulls (docs/architecture.md, "Membership under load"). While
 * this node's timers ran late and its Lifeguard health score is still raised, it is the slow
 * one, most likely on a saturated machine: a full-state exchange (a libp2p stream with its
 * handshake and a merge on both sides) would feed the load that made it slow, and a false
 * death would cost a catch-up, settle rounds and reconnects to the members it wrongly holds
 * failed, which feed it again. So the settle rounds, the catch-up after being held failed,
 * the periodic exchange and the reconnect wait while the score is above 0, each at most
 * `maxMs` from when it first had to wait (a node that never recovers still exchanges).
 * A join is never deferred: a node that has not synced knows nothing to be slow about.
 * Pure bookkeeping: SwimCore asks before each such push-pull.
 */

/** The push-pulls of a node's own that may wait. */
export type Deferrable = 'periodic' | 'settle' | 'resync' | 'reconnect'

/** When each kind of push-pull first had to wait (-1: not waiting). */
export class SlowDeferral {
  private readonly since: Record<Deferrable, number> = { periodic: -1, settle: -1, resync: -1, reconnect: -1 }
  /** Push-pulls deferred (counted once per wait). */
  deferred = 0
  /** A late timer was noticed since the health score was last 0. */
  private late = false

  constructor (private readonly maxMs: number) {}

  /** This node's timer ran late (an own stall). */
  noteLate (): void { this.late = true }

  /**
   * A push-pull of `kind` is due at `now` and the node's health score is `health`: true =
   * hold it (the caller re-checks later), false = make it now. Only a score raised since a
   * late timer counts: one raised by a refutation or unanswered probes alone (a heal, a
   * partition) is no sign of a saturated machine.
   */
  hold (kind: Deferrable, health: number, now: number): boolean {
    if (health <= 0) this.late = false
    const since = this.since[kind]
    if (this.maxMs <= 0 || health <= 0 || !this.late || (since >= 0 && now - since >= this.maxMs)) {
      this.since[kind] = -1
      return false
    }
    if (since < 0) { this.since[kind] = now; this.deferred++ }
    return true
  }
}
