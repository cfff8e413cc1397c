/**
 * Notices when this process stood still: a long synchronous task, a starved event loop, a long
 * GC pause, SIGSTOP, a stalled VM, swap. A short interval timer records when it last ran on the
 * monotonic clock (a wall-clock step is no stall, and a stall is not hidden by one); a tick that
 * comes late is a stall. One watch per process serves two readers:
 * - `/healthz` and the metrics (agent/metrics) judge the worst lateness of the last 30 s, since a
 *   request that reaches the probe proves only that the loop runs now;
 * - the manager's replicator asks, before acknowledging a write alone, whether a stall longer
 *   than a second ended since a replica last confirmed it: a manager that was frozen may have
 *   been replaced meanwhile, and "no replica answered" then means "the replicas may follow
 *   someone else", not "no replica is up" (docs/architecture.md, "Deposed managers").
 * It lives in protocol/ because both the agent and the manager role read the same watch.
 */

import { performance } from 'node:perf_hooks'

/** What the replicator asks of a stall watch. */
export interface StallLog {
  /**
   * Length (ms) of the longest stall over the threshold that ended after `since` (a `now()`
   * reading; strictly) or is under way right now (the watch has not run its timer for longer than
   * the threshold); 0: none.
   */
  stalledSince: (since: number) => number
  /** The monotonic clock the watch reads (ms). */
  now: () => number
}

/** What `/healthz` and the metrics read. */
export interface EventLoopReading {
  /** The worst lateness of a tick within the window, in ms. */
  worstLagMs: number
  /** Time since the last tick, in ms (grows while the loop is blocked right now). */
  sinceTickMs: number
  /** Ticks observed since start. */
  ticks: number
}

/** Options of a StallWatch; the defaults are what the agent runs with. */
export interface StallWatchInit {
  /** How often the timer runs. Default 200 ms. */
  periodMs?: number
  /** A gap longer than this is a stall for `stalledSince`. Default 1 s. */
  thresholdMs?: number
  /** How long lateness is remembered for `reading`. Default 30 s. */
  windowMs?: number
  /** Monotonic clock (ms); tests pass their own. */
  now?: () => number
}

/** Lateness below this is ordinary timer jitter, not worth remembering. */
const LAG_FLOOR_MS = 50
/** Stalls over the threshold kept for `stalledSince`, whatever their age (callers may ask about minutes ago). */
const KEPT_STALLS = 8
/** Late ticks kept for `reading`, whatever happens: a loop late on every tick keeps the latest. */
const KEPT_LAGS = 512

/** A late tick: when it came and the gap since the tick before. */
interface Gap { endedAt: number, ms: number }

/** Watches this process's own timer for gaps. */
export class StallWatch implements StallLog {
  private readonly periodMs: number
  private readonly thresholdMs: number
  private readonly windowMs: number
  readonly now: () => number
  private lastTick: number
  private ticks = 0
  private timer: NodeJS.Timeout | null = null
  /** Gaps over the threshold, oldest first. */
  private readonly stalls: Gap[] = []
  /** Late ticks within the window, oldest first. */
  private lags: Gap[] = []

  constructor (init: StallWatchInit = {}) {
    this.periodMs = init.periodMs ?? 200
    this.thresholdMs = init.thresholdMs ?? 1000
    this.windowMs = init.windowMs ?? 30_000
    this.now = init.now ?? (() => performance.now())
    this.lastTick = this.now()
  }

  /** Start the timer (unref'd: it never keeps the process alive). */
  start (): void {
    if (this.timer !== null) return
    this.lastTick = this.now()
    this.timer = setInterval(() => { this.tick() }, this.periodMs)
    this.timer.unref()
  }

  /** Stop the timer. */
  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** One run of the timer (the timer calls it; tests call it with a manual clock). */
  tick (): void {
    const now = this.now()
    const gap = now - this.lastTick
    this.lastTick = now
    this.ticks++
    if (gap > this.thresholdMs) {
      this.stalls.push({ endedAt: now, ms: gap })
      if (this.stalls.length > KEPT_STALLS) this.stalls.shift()
    }
    if (gap - this.periodMs >= LAG_FLOOR_MS) this.lags.push({ endedAt: now, ms: gap })
    this.forget(now)
  }

  /** @inheritdoc */
  stalledSince (since: number): number {
    let longest = 0
    for (const s of this.stalls) if (s.endedAt > since) longest = Math.max(longest, s.ms)
    // The timer has not run for a while: the stall is under way (or just ended, and this call
    // came before the timer's overdue run). A stopped watch reports none.
    const running = this.now() - this.lastTick
    if (this.timer !== null && running > this.thresholdMs) longest = Math.max(longest, running)
    return longest
  }

  /** The worst lateness of the window, and how long since the timer last ran. */
  reading (): EventLoopReading {
    const now = this.now()
    this.forget(now)
    const worst = this.lags.reduce((max, g) => Math.max(max, g.ms - this.periodMs), 0)
    return { worstLagMs: worst, sinceTickMs: Math.max(0, now - this.lastTick), ticks: this.ticks }
  }

  private forget (now: number): void {
    const first = this.lags[0]
    if (first !== undefined && first.endedAt < now - this.windowMs) this.lags = this.lags.filter(g => g.endedAt >= now - this.windowMs)
    if (this.lags.length > KEPT_LAGS) this.lags = this.lags.slice(-KEPT_LAGS / 2)
  }
}
