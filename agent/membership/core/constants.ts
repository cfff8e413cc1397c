/**
 * Defaults of the membership core: memberlist's DefaultLANConfig adjusted to what the agent
 * had (see docs/architecture.md, "Membership core (sans-I/O)"). All times in ms.
 */

import type { SwimTiming } from './types.js'

/** Timing and size defaults; `SwimInit.timing` overrides any of them. */
export const SWIM_DEFAULTS: Readonly<SwimTiming> = {
  // Faster than memberlist's LAN 1 s / 500 ms / mult 4 so that all of 10,000 nodes mark a
  // crash failed within 5 s (the simulator: 4.67 s at 10,000, 3.31 s at 1,000, 0 false
  // verdicts at 1 % loss; docs/benchmarks.md). With mult < 3 Lifeguard's confirmations do
  // not stretch the timeout (suspicion = min). The agent may set 500 ms timeouts.
  probeIntervalMs: 500,
  probeTimeoutMs: 250,
  indirectTimeoutMs: 250,
  indirectChecks: 3,
  suspicionMult: 1.5,
  suspicionMinMs: 1000,
  suspicionMaxMult: 6,
  suspicionConfirmations: -1,
  retransmitMult: 4,
  pushPullIntervalMs: 30_000,
  // Digest push-pulls (digest.ts) cost ~58 bytes a member: the interval grows with N only
  // above 512 members (at most ~2 KB/s per node; docs/benchmarks.md, "Digest push-pull").
  pushPullScaleMembers: 512,
  // News learned by push-pull is re-disseminated (as memberlist does), at most this much per
  // merge, and a (re)joined node, or one that learns it was held failed (a heal), push-pulls
  // again after 1, 2, 4 ... 32 s while its view still changes (docs/architecture.md,
  // "Membership core (sans-I/O)"; 6 rounds, not 4: the 1,000-node heal of the simulator
  // converges in 32 s instead of leaving a few pairs for minutes).
  pushPullRelayMax: 16,
  settleIntervalMs: 1000,
  settleRounds: 6,
  // Stale partition-era claims arrive up to ~50 s after a heal at 1,000 nodes (the simulator).
  revivedQuietMs: 60_000,
  resyncToFailed: 1,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  // Each hop of a new member's or a death's spread waited up to a gossip interval (~70 ms on
  // average on the real hosts, ~4 hops at 64 members); at most 20 rounds a second in a storm.
  eagerGossipMs: 50,
  // memberlist's GossipToTheDeadTime: without it nothing crosses a healed link to a member
  // held failed until a reconnect push-pull (docs/architecture.md, "Partition heal").
  gossipToDeadMs: 30_000,
  awarenessMax: 8,
  stallGraceMs: 250,
  reapAfterMs: 24 * 60 * 60 * 1000,
  datagramBudget: 1400,
  maxDatagramBytes: 60 * 1024,
  leaveFanout: 3,
  joinRetryMs: 5000,
  // A slow node's own push-pulls feed the load that made it slow (slow-defer.ts).
  slowDeferMs: 10_000
}

/** Largest incarnation, epoch, seq or version (exclusive): every such number is a u32. */
export const U32_LIMIT = 2 ** 32

/** True when `n` is an integer in [0, 2^32). */
export function isU32 (n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < U32_LIMIT
}
