/**
 * The judgements behind `/healthz` and `/readyz`, pure so their rules are tested without an
 * agent: what the agent's parts report goes in, `{ ok, reason }` comes out.
 */

import type { ProbeResponse } from '../../protocol/ops-routes.js'
import type { EventLoopReading } from '../../protocol/stall-watch.js'

/** Default stall beyond which the agent reports itself unhealthy. */
export const DEFAULT_STALL_LIMIT_MS = 5_000

/**
 * Liveness: unhealthy when the event loop is blocked now, or stalled for longer than
 * `stallLimitMs` within the watch's window (a supervisor may then restart the agent; SWIM
 * peers will have suspected it anyway).
 */
export function judgeHealth (loop: EventLoopReading, stallLimitMs = DEFAULT_STALL_LIMIT_MS): ProbeResponse {
  if (loop.sinceTickMs > stallLimitMs) return { ok: false, reason: `the event loop has not turned for ${Math.round(loop.sinceTickMs)} ms` }
  if (loop.worstLagMs > stallLimitMs) return { ok: false, reason: `the event loop stalled for ${Math.round(loop.worstLagMs)} ms recently (limit ${stallLimitMs} ms)` }
  return { ok: true }
}

/** What readiness is judged on. */
export interface ReadinessInput {
  /** The agent was started with seeds to join (false: the first node, ready alone). */
  hasSeeds: boolean
  /** Other members this agent holds alive. */
  otherAliveMembers: number
  /** The elected manager as this agent sees it, or null. */
  manager: { name: string, local: boolean } | null
  /** The manager role runs here and has started. */
  managerServing: boolean
  /** Why the manager role failed to start here, if it did. */
  managerStartError: string | null
}

/**
 * Readiness: joined (an agent with seeds holds another member alive; one without is a lone
 * first node), a manager elected, and, where this agent is the manager, its role serving.
 */
export function judgeReadiness (s: ReadinessInput): ProbeResponse {
  if (s.hasSeeds && s.otherAliveMembers === 0) return { ok: false, reason: 'not joined: no other member is alive in this agent\'s view (joining through the seeds)' }
  if (s.manager === null) return { ok: false, reason: 'no manager is elected yet' }
  if (s.manager.local && !s.managerServing) {
    return { ok: false, reason: s.managerStartError === null ? 'this agent is the manager and its role is starting' : `this agent is the manager and its role failed to start: ${s.managerStartError}` }
  }
  return { ok: true }
}
