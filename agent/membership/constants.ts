/**
 * Timing of the agent's membership: the core's knobs (agent/membership/core/constants.ts has
 * memberlist-like defaults; the agent probes twice as often with the suspicion rules it had,
 * so a cut link is declared in a few seconds) plus what the wrapper itself schedules. All ms.
 */

import type { SwimTiming } from './core/types.js'
import type { FailureDetection } from '../config/constants.js'

/** Core timing the agent uses instead of the core's defaults. */
export const AGENT_SWIM_TIMING: Partial<SwimTiming> = {
  probeIntervalMs: 500,
  probeTimeoutMs: 500,
  indirectTimeoutMs: 500,
  suspicionMult: 2,
  suspicionMinMs: 1200,
  suspicionMaxMult: 4,
  // A lone accuser waits the maximum (4 x min); three independent ones bring it to the
  // minimum: on a saturated machine one slow prober's suspicion leaves time to refute, while a
  // crash, which every prober sees, is still declared at the minimum (docs/benchmarks.md).
  suspicionConfirmations: 3,
  joinRetryMs: 2000
}

/**
 * Core timing per `--failure-detection` setting. `standard` is the above. `fast` halves the
 * probe timeouts and shortens the suspicion to 1.5 x log10(N) x interval (at least 1 s), as
 * the core's defaults and the simulator have it, keeping Lifeguard's three confirmations and
 * the 4 x stretch for a lone accuser: at 64 members the minimum suspicion is 1.35 s instead of
 * 1.8 s and the first one comes ~0.5 s sooner. On agents that share a loaded CPU the shorter
 * timeouts turn their own lateness into suspicions (docs/benchmarks.md).
 */
export const FAILURE_DETECTION_TIMING: Readonly<Record<FailureDetection, Partial<SwimTiming>>> = {
  standard: AGENT_SWIM_TIMING,
  fast: { ...AGENT_SWIM_TIMING, probeTimeoutMs: 250, indirectTimeoutMs: 250, suspicionMult: 1.5, suspicionMinMs: 1000 }
}

/** What the wrapper around the core schedules (ms). */
export interface MembershipTiming {
  /** The core is ticked at its next deadline, and at least this often (cheap: nothing due, nothing done). */
  maxTickGapMs: number
  /** Deadline of one push-pull exchange over a stream. */
  syncTimeoutMs: number
  /** Facts are re-collected this often; a change re-signs and re-announces the record. */
  factsRefreshMs: number
  /** How long a graceful leave waits for its announcement to reach a few peers. */
  leaveTimeoutMs: number
  /** Members a leave is pushed to over a stream (reliable, beside the core's datagrams). */
  leavePushPeers: number
  /** Push-pulls served at once; more are refused at once (sync-stream.ts, `maxInbound`). */
  maxInboundSyncs: number
}

/** Defaults of the wrapper's timing. */
export const MEMBERSHIP_DEFAULTS: Readonly<MembershipTiming> = {
  maxTickGapMs: 500,
  syncTimeoutMs: 5_000,
  factsRefreshMs: 5 * 60 * 1000,
  leaveTimeoutMs: 2_000,
  leavePushPeers: 2,
  maxInboundSyncs: 2
}

/** A single member's facts (`memberWithFacts`): the first re-ask after a failed fetch, doubled up to the max. */
export const MEMBER_FACTS_RETRY_MS = 250
export const MEMBER_FACTS_RETRY_MAX_MS = 2_000
