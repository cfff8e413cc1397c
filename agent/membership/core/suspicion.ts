/**
 * Lifeguard's dynamic suspicion timeout. A suspicion starts at `max` and shrinks
 * logarithmically toward `min` with each independent confirmation (another member's suspect
 * claim about the same incarnation), so a truly dead member is declared quickly once several
 * members agree, while a lone, possibly overloaded accuser has to wait longer. State exists
 * only for members currently suspect.
 */

import type { MemberId } from './types.js'

/** Bounds of the timeout and the number of confirmations that bring it down to `min`. */
export interface SuspicionBounds { minMs: number, maxMs: number, expected: number }

/** Inputs of the bounds. */
export interface SuspicionParams {
  /** Live members (alive or suspect), self included. */
  members: number
  probeIntervalMs: number
  suspicionMult: number
  suspicionMinMs: number
  suspicionMaxMult: number
  /**
   * Independent confirmations that bring the timeout from max down to min; below 0, memberlist's
   * mult - 2 (so with mult < 3 there are none and every suspicion lasts min).
   */
  suspicionConfirmations?: number
}

/**
 * min = mult * log10(N) * interval (floored), max = min * maxMult; k = suspicionConfirmations,
 * or mult - 2 (memberlist) when that is below 0.
 */
export function suspicionBounds (p: SuspicionParams): SuspicionBounds {
  const n = Math.max(1, p.members)
  const minMs = Math.max(p.suspicionMinMs, p.suspicionMult * Math.log10(n) * p.probeIntervalMs)
  const k = p.suspicionConfirmations !== undefined && p.suspicionConfirmations >= 0 ? Math.floor(p.suspicionConfirmations) : p.suspicionMult - 2
  // Members besides the accuser and the suspect who could confirm; none in a cluster of 2.
  const expected = n - 2 < k ? 0 : Math.max(0, k)
  return { minMs, maxMs: minMs * Math.max(1, p.suspicionMaxMult), expected }
}

/** Timeout (from the start of the suspicion) after `confirmations` independent confirmations. */
export function suspicionTimeout (b: SuspicionBounds, confirmations: number): number {
  if (b.expected < 1) return b.minMs
  const frac = Math.log(Math.min(confirmations, b.expected) + 1) / Math.log(b.expected + 1)
  return Math.max(b.minMs, Math.floor(b.maxMs - (b.maxMs - b.minMs) * frac))
}

/** One running suspicion. */
export interface Suspicion {
  /** When it started (this node's clock), moved out by this node's own stalls. */
  start: number
  deadline: number
  /** The first accuser and the confirmers so far (bounded by `expected` + 1). */
  accusers: MemberId[]
  bounds: SuspicionBounds
}

/** A new suspicion by `accuser`. */
export function newSuspicion (accuser: MemberId, bounds: SuspicionBounds, now: number): Suspicion {
  return { start: now, deadline: now + suspicionTimeout(bounds, 0), accusers: [accuser], bounds }
}

/**
 * Count `accuser`'s claim as a confirmation; true when it was new and independent (and so
 * worth re-broadcasting). Confirmations beyond `expected` are not stored: they change nothing.
 */
export function confirm (s: Suspicion, accuser: MemberId): boolean {
  if (s.accusers.length > s.bounds.expected || s.accusers.includes(accuser)) return false
  s.accusers.push(accuser)
  s.deadline = s.start + suspicionTimeout(s.bounds, s.accusers.length - 1)
  return true
}
