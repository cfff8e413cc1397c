/**
 * Follow a job's feed to its end, surviving a broken stream: when the agent or the manager
 * goes away (a failover), reconnect and resume after the last event seen, for a bounded time.
 */

import { setTimeout as sleep } from 'node:timers/promises'
import { ClusterdError } from '../protocol/errors.js'
import { isRestingJobStatus } from '../protocol/jobs.js'
import type { JobFeedItem } from '../protocol/manager-api.js'
import type { ApiClient } from './client.js'
import { RECONNECT_FIRST_DELAY_MS, RECONNECT_MAX_DELAY_MS, RECONNECT_WINDOW_MS } from './constants.js'
import { ExitError, unreachableError } from './errors.js'

/** Options of followJob. */
export interface FollowOptions {
  /** Resume after this event sequence number (0: from the start). */
  after?: number
  /** How long to keep reconnecting a broken stream before giving up. */
  reconnectWindowMs?: number
  /** First pause between reconnects (doubles up to RECONNECT_MAX_DELAY_MS). */
  firstDelayMs?: number
  signal?: AbortSignal
}

/** What followJob yields: the feed's items, and a note before each reconnect attempt. */
export type FollowItem = JobFeedItem | { type: 'reconnect', reason: string, attempt: number }

/** Errors that mean "the path to the manager broke", not "the request is wrong" (also events --follow). */
export function isRetryable (err: unknown): boolean {
  if (err instanceof ClusterdError) {
    return err.code === 'CLUSTERD_ERR_NO_MANAGER' || err.code === 'CLUSTERD_ERR_UNAVAILABLE' || err.code === 'CLUSTERD_ERR_STORE_UNAVAILABLE'
  }
  return err instanceof ExitError && err.exitCode === unreachableError('').exitCode
}

/**
 * Yield the job's events (each once, in order) and job updates until a job update shows the
 * job finished (or paused) and the stream ends. Throws the request's error when it is not about
 * reachability, and an unreachable ExitError when the stream stays broken for the window.
 */
export async function * followJob (client: ApiClient, id: string, options: FollowOptions = {}): AsyncGenerator<FollowItem> {
  const window = options.reconnectWindowMs ?? RECONNECT_WINDOW_MS
  const firstDelay = options.firstDelayMs ?? RECONNECT_FIRST_DELAY_MS
  let after = options.after ?? 0
  let finished = false
  let brokenSince: number | null = null
  let delay = firstDelay
  let attempt = 0
  while (true) {
    let reason: string
    try {
      for await (const item of client.jobFeed(id, after, options.signal === undefined ? {} : { signal: options.signal })) {
        brokenSince = null
        delay = firstDelay
        if (item.type === 'event') {
          // After a reconnect the manager starts after `after`; drop anything older anyway.
          if (item.event.seq <= after) continue
          after = item.event.seq
        } else if (item.type === 'job' && isRestingJobStatus(item.job.status)) {
          finished = true
        }
        yield item
      }
      if (finished) return
      reason = 'the stream ended before the job did'
    } catch (err) {
      if (finished) return
      if (!isRetryable(err)) throw err
      reason = err instanceof ClusterdError ? `${err.message} (${err.code})` : (err as Error).message
    }
    const now = Date.now()
    brokenSince ??= now
    if (now - brokenSince + delay > window) {
      throw unreachableError(`lost the event stream of job ${id} for ${Math.round(window / 100) / 10} s (${reason}); the job may still be running: clusterctl job show ${id}`)
    }
    attempt++
    yield { type: 'reconnect', reason, attempt }
    await sleep(delay, undefined, options.signal === undefined ? {} : { signal: options.signal })
    delay = Math.min(delay * 2, RECONNECT_MAX_DELAY_MS)
  }
}
