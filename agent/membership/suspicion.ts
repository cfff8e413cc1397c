/**
 * Lifeguard's dynamic suspicion timeout: it starts high and shrinks logarithmically as other
 * members independently confirm the suspicion, so a truly dead node is declared quickly while
 * a lone (possibly overloaded) accuser has to wait longer. Pure functions.
 */

/** Inputs of the suspicion timeout. */
export interface SuspicionParams {
  /** Number of known non-left members including self. */
  members: number
  probeIntervalMs: number
  suspicionMult: number
  suspicionMinMs: number
  suspicionMaxMult: number
}

/** The min/max bounds and the expected number of independent confirmations. */
export interface SuspicionBounds { minMs: number, maxMs: number, expected: number }

/** Bounds of the suspicion timeout for a cluster of this size. */
export function suspicionBounds (p: SuspicionParams): SuspicionBounds {
  const n = Math.max(1, p.members)
  const scaled = p.suspicionMult * Math.max(1, Math.log10(n)) * p.probeIntervalMs
  const minMs = Math.max(p.suspicionMinMs, scaled)
  // Members other than the accuser and the suspect who could confirm; Lifeguard caps it.
  const expected = Math.max(0, Math.min(3, n - 2))
  return { minMs, maxMs: minMs * p.suspicionMaxMult, expected }
}

/** Timeout after `confirmations` independent confirmations (the first accuser not counted). */
export function suspicionTimeout (b: SuspicionBounds, confirmations: number): number {
  if (b.expected < 1) return b.minMs
  const frac = Math.log(Math.min(confirmations, b.expected) + 1) / Math.log(b.expected + 1)
  return Math.max(b.minMs, Math.floor(b.maxMs - (b.maxMs - b.minMs) * frac))
}
