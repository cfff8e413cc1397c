/**
 * Notices when this process stood still (a long GC pause, SIGSTOP, a stalled VM, swap): a
 * short interval timer records when it last ran on the monotonic clock; a gap well past its
 * period is a stall. The replicator asks it before acknowledging a write alone: a manager
 * that was frozen may have been replaced meanwhile, and "no replica answered" then means
 * "the replicas may follow someone else", not "no replica is up" (docs/architecture.md,
 * "Deposed managers").
 */

import { performance } from 'node:perf_hooks'

/** What the replicator asks of a stall watch. */
export interface StallLog {
  /**
   * Length (ms) of the longest stall that ended after `since` (a `now()` reading; strictly) or is under
   * way right now (this process has not run its timer for longer than the threshold); 0: none.
   */
  stalledSince: (since: number) => number
  /** The monotonic clock the watch reads (ms). */
  now: () => number
}

/** Options of a StallWatch. */
export interface StallWatchInit {
  /** How often the watch's timer runs. */
  periodMs?: number
  /** A gap longer than this is a stall. */
  thresholdMs?: number
  /** Monotonic clock (ms); tests pass their own. */
  now?: () => number
}

/** A stall: when it ended and how long it lasted. */
interface Stall { endedAt: number, ms: number }

/** Watches this process's own timer for gaps. */
export class StallWatch implements StallLog {
  private readonly periodMs: number
  private readonly thresholdMs: number
  readonly now: () => number
  private lastRun: number
  private timer: NodeJS.Timeout | null = null
  /** Recent stalls, oldest first; a few are enough (callers ask about the last seconds). */
  private readonly stalls: Stall[] = []

  constructor (init: StallWatchInit = {}) {
    this.periodMs = init.periodMs ?? 200
    this.thresholdMs = init.thresholdMs ?? 1000
    this.now = init.now ?? (() => performance.now())
    this.lastRun = this.now()
  }

  /** Start the timer (unref'd: it never keeps the process alive). */
  start (): void {
    if (this.timer !== null) return
    this.lastRun = this.now()
    this.timer = setInterval(() => { this.observe() }, this.periodMs)
    this.timer.unref()
  }

  /** Stop the timer. */
  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** One run of the timer (exported for tests through a manual clock). */
  observe (): void {
    const now = this.now()
    const gap = now - this.lastRun
    this.lastRun = now
    if (gap > this.thresholdMs) {
      this.stalls.push({ endedAt: now, ms: gap })
      if (this.stalls.length > 8) this.stalls.shift()
    }
  }

  /** @inheritdoc */
  stalledSince (since: number): number {
    let longest = 0
    for (const s of this.stalls) if (s.endedAt > since) longest = Math.max(longest, s.ms)
    // The timer has not run for a while: the stall is under way (or just ended, and this call
    // came before the timer's overdue run).
    const running = this.now() - this.lastRun
    if (this.timer !== null && running > this.thresholdMs) longest = Math.max(longest, running)
    return longest
  }
}
