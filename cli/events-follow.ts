/**
 * Follow the lifecycle event log (`clusterctl events --follow`): the recent events, then each
 * new one as the manager records it, by asking `GET /v1/events?after=N` for what came after the
 * last one seen. Like followJob for a job, a broken path to the manager (its agent restarting,
 * a failover) is retried with backoff for a bounded time and the log resumes where it stopped:
 * every event once, in order. The log has no end: it runs until the signal aborts.
 */

import { setTimeout as sleep } from 'node:timers/promises'
import { ClusterdError } from '../protocol/errors.js'
import type { LifecycleEvent } from '../protocol/nodes.js'
import type { ApiClient, EventsFilter } from './client.js'
import { EVENTS_FOLLOW_BATCH, EVENTS_POLL_INTERVAL_MS, RECONNECT_FIRST_DELAY_MS, RECONNECT_MAX_DELAY_MS, RECONNECT_WINDOW_MS } from './constants.js'
import { isRetryable } from './job-follow.js'
import { unreachableError } from './errors.js'

/** Options of followEvents. */
export interface EventsFollowOptions {
  /** Only this node's events (the cursor is then the node's own `seq`). */
  node?: string
  /** How many past events to start with (the manager's default when unset). */
  limit?: number
  /** Pause between two polls that found nothing new. */
  pollIntervalMs?: number
  /** How long to keep retrying a broken path before giving up. */
  reconnectWindowMs?: number
  /** First pause between retries (doubles up to RECONNECT_MAX_DELAY_MS). */
  firstDelayMs?: number
  signal?: AbortSignal
}

/** What followEvents yields: a batch of events (oldest first), or a note before each retry. */
export type EventsFollowItem = { type: 'events', events: LifecycleEvent[] } | { type: 'reconnect', reason: string, attempt: number }

/**
 * Yields the recent events, then every new one, until `signal` aborts (then it returns).
 * Throws a request's error that is not about reachability, and an unreachable ExitError when
 * the manager stays out of reach for the window.
 */
export async function * followEvents (client: ApiClient, options: EventsFollowOptions = {}): AsyncGenerator<EventsFollowItem> {
  const window = options.reconnectWindowMs ?? RECONNECT_WINDOW_MS
  const firstDelay = options.firstDelayMs ?? RECONNECT_FIRST_DELAY_MS
  const pollInterval = options.pollIntervalMs ?? EVENTS_POLL_INTERVAL_MS
  const signal = options.signal
  // A function, so the compiler does not take the loop condition's narrowing for the catch's.
  const aborted = (): boolean => signal?.aborted === true
  const call = signal === undefined ? {} : { signal }
  // With --node the cursor is the node's seq, else the log's global gseq.
  const cursorOf = (e: LifecycleEvent): number => options.node !== undefined ? e.seq : e.gseq
  let after: number | null = null
  let brokenSince: number | null = null
  let delay = firstDelay
  let attempt = 0
  while (!aborted()) {
    let pause = pollInterval
    try {
      const filter: EventsFilter = after === null
        ? { ...(options.node !== undefined ? { node: options.node } : {}), ...(options.limit !== undefined ? { limit: options.limit } : {}) }
        : { ...(options.node !== undefined ? { node: options.node } : {}), after, limit: EVENTS_FOLLOW_BATCH }
      const got = await client.events(filter, call)
      brokenSince = null
      delay = firstDelay
      const last: number | null = after
      // After a retry the manager answers from `after` on; anything older is dropped anyway.
      const fresh: LifecycleEvent[] = last === null ? got : got.filter(e => cursorOf(e) > last)
      after = fresh.reduce((max: number, e) => Math.max(max, cursorOf(e)), last ?? 0)
      if (fresh.length > 0) yield { type: 'events', events: fresh }
      // A full batch: more are waiting, ask again at once.
      if (last !== null && got.length >= EVENTS_FOLLOW_BATCH) pause = 0
    } catch (err) {
      if (aborted()) return
      if (!isRetryable(err)) throw err
      const reason = err instanceof ClusterdError ? `${err.message} (${err.code})` : (err as Error).message
      const now = Date.now()
      brokenSince ??= now
      if (now - brokenSince + delay > window) {
        throw unreachableError(`lost the lifecycle event log for ${Math.round(window / 100) / 10} s (${reason})`)
      }
      attempt++
      yield { type: 'reconnect', reason, attempt }
      pause = delay
      delay = Math.min(delay * 2, RECONNECT_MAX_DELAY_MS)
    }
    if (pause > 0) {
      try {
        await sleep(pause, undefined, call)
      } catch {
        return
      }
    }
  }
}
