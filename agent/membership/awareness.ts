/**
 * Lifeguard local health awareness: when this agent's own probes fail without the expected
 * nacks (a sign that it is the slow one), it stretches its probe timeouts instead of accusing
 * healthy members.
 */
export class Awareness {
  private score = 0
  private readonly max: number

  constructor (init: { max: number }) {
    this.max = init.max
  }

  /** Move the score by delta, clamped to [0, max]. */
  apply (delta: number): void {
    this.score = Math.min(this.max, Math.max(0, this.score + delta))
  }

  /** Current health score; 0 is healthy. */
  get health (): number { return this.score }

  /** Scale a timeout by the current health multiplier (score + 1). */
  scale (ms: number): number { return ms * (this.score + 1) }
}
