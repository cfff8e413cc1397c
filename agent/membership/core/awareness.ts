/**
 * Lifeguard local health: a score in [0, max - 1] that rises when this node's own probes fail
 * without the nacks its helpers should have sent (a sign that it is the slow one) and when it
 * must refute a suspicion of itself, and falls with every successful probe. Probe interval
 * and timeouts are multiplied by score + 1, so a struggling node accuses more slowly.
 */

/** The local health score. */
export class Awareness {
  private score = 0

  constructor (private readonly max: number) {}

  /** Move the score by delta, clamped to [0, max - 1]. */
  apply (delta: number): void {
    this.score = Math.min(Math.max(0, this.max - 1), Math.max(0, this.score + delta))
  }

  /** Current score; 0 is healthy. */
  get health (): number { return this.score }

  /** A timeout scaled by the health multiplier (score + 1). */
  scale (ms: number): number { return ms * (this.score + 1) }
}
