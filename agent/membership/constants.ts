/**
 * Timing defaults of the membership protocol (SWIM with Lifeguard refinements). All in ms.
 * Tuned for a LAN cluster of up to a few dozen nodes; see docs/architecture.md for the
 * reasoning and docs/benchmarks.md for what they give.
 */
export const MEMBERSHIP_DEFAULTS = {
  /** One probe round starts at most this often (scaled by the awareness multiplier). */
  probeIntervalMs: 500,
  /**
   * Direct ping deadline (scaled by the awareness multiplier). A probe is a new stream: yamux
   * open, protocol negotiation and the ping, several scheduling delays on each side, so on a
   * loaded machine 300 ms gave false suspicions (docs/benchmarks.md, soak).
   */
  probeTimeoutMs: 500,
  /** How long indirect probes (ping-req through k others) may take after the direct one failed. */
  indirectTimeoutMs: 800,
  /** Number of members asked to probe a target indirectly. */
  indirectChecks: 3,
  /** Lifeguard suspicion: base multiplier of log10(n) * probe interval. */
  suspicionMult: 2,
  /** Lifeguard suspicion floor, whatever the cluster size. */
  suspicionMinMs: 1200,
  /** Lifeguard suspicion ceiling = min * this, shrinking with independent confirmations. */
  suspicionMaxMult: 4,
  /** Lifeguard local health: the probe timeout and interval are scaled by (score + 1). */
  awarenessMax: 8,
  /**
   * This agent's own event loop counts as stalled when a timer fires this much later than
   * asked. Time it stalled does not count against others: a probe that timed out during a
   * stall accuses nobody, and suspicion deadlines move out by the stall (a refutation that
   * arrived meanwhile is still queued behind the timer that would declare the death).
   */
  stallGraceMs: 250,
  /** Push-pull full-state exchange with one random member, this often. */
  syncIntervalMs: 10_000,
  /** Connectivity loop: how often it looks for members and seeds to (re)dial. */
  dialIntervalMs: 500,
  /** Backoff cap between redials of one address. */
  dialBackoffMaxMs: 5_000,
  /** Deadline of one dial attempt. */
  dialTimeoutMs: 2_000,
  /** Failed and left members are forgotten after this long. */
  reapAfterMs: 24 * 60 * 60 * 1000,
  /** Facts are re-collected this often; a change re-signs and re-announces the record. */
  factsRefreshMs: 5 * 60 * 1000,
  /** How long a graceful leave waits for its announcement to reach a peer. */
  leaveTimeoutMs: 2_000
} as const

/** Membership timing options; every field optional, defaults above. */
export type MembershipTiming = { -readonly [K in keyof typeof MEMBERSHIP_DEFAULTS]: number }
