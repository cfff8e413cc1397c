/**
 * Watches this process's event loop for `/healthz`: a timer that should fire every
 * `intervalMs` notes how late it fired. A late timer is a stall (a long synchronous task, a
 * starved loop, a paused process); the worst one of the last `windowMs` is what the health
 * probe judges, since a request that reaches the probe proves only that the loop runs now.
 */

/** Settings of the watch. */
export interface EventLoopWatchInit {
  /** How often the timer ticks. Default 250 ms. */
  intervalMs?: number
  /** How long a stall is remembered. Default 30 s. */
  windowMs?: number
  /** Clock (ms); tests pass a fake one. */
  now?: () => number
}

/** What the watch saw. */
export interface EventLoopReading {
  /** The worst lateness of a tick within the window, in ms. */
  worstLagMs: number
  /** Time since the last tick, in ms (grows while the loop is blocked right now). */
  sinceTickMs: number
  /** Ticks observed since start. */
  ticks: number
}

/** The event-loop watch. */
export class EventLoopWatch {
  private readonly intervalMs: number
  private readonly windowMs: number
  private readonly now: () => number
  private timer: NodeJS.Timeout | null = null
  private lastTick = 0
  private ticks = 0
  /** Stalls still inside the window: [when it ended, lag ms]. */
  private stalls: Array<[number, number]> = []

  constructor (init: EventLoopWatchInit = {}) {
    this.intervalMs = init.intervalMs ?? 250
    this.windowMs = init.windowMs ?? 30_000
    this.now = init.now ?? Date.now
  }

  /** Start ticking (unref'd: it never keeps the process alive). */
  start (): void {
    if (this.timer !== null) return
    this.lastTick = this.now()
    this.timer = setInterval(() => { this.tick() }, this.intervalMs)
    this.timer.unref()
  }

  /** Stop ticking. */
  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** Record one tick (the timer calls it; tests call it with a fake clock). */
  tick (): void {
    const now = this.now()
    const lag = now - this.lastTick - this.intervalMs
    this.lastTick = now
    this.ticks++
    // Only lateness worth remembering: ordinary timer jitter is a few ms.
    if (lag >= 50) this.stalls.push([now, lag])
    this.forget(now)
  }

  /** The current reading. */
  reading (): EventLoopReading {
    const now = this.now()
    this.forget(now)
    const worst = this.stalls.reduce((max, [, lag]) => Math.max(max, lag), 0)
    return { worstLagMs: worst, sinceTickMs: Math.max(0, now - this.lastTick), ticks: this.ticks }
  }

  private forget (now: number): void {
    if (this.stalls.length > 0 && (this.stalls[0] as [number, number])[0] < now - this.windowMs) {
      this.stalls = this.stalls.filter(([at]) => at >= now - this.windowMs)
    }
    // Bounded whatever happens: a loop stalling every tick keeps the worst few.
    if (this.stalls.length > 512) this.stalls = this.stalls.slice(-256)
  }
}
