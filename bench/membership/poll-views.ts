/**
 * How every phase watches the agents' views, from two sources: each agent's own log of status
 * changes (read as it is written: the timing, at no cost to the agents) and a poll of every
 * agent's API at a fixed cadence (a cross-check, and the source for anything a log misses). The
 * poll is slow by default: at 64 hosts a 50 ms poll was 1,280 API requests a second, about one
 * of the machine's two cores spent answering the benchmark (docs/benchmarks.md, "The
 * benchmark's own load").
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import { loggedView, type BenchAgent, type LoggedChange, type View } from './system.js'

/** Options of `pollViews`. */
export interface PollOptions {
  /** Poll cadence: a round starts this long after the previous one started (or at once if it overran). */
  intervalMs: number
  timeoutMs: number
  /**
   * Also hand `onView` the log views after every change logged since this time (performance.now()),
   * each with its own time: a phase that began before the watch (the convergence from the spawns).
   * Without it the log views start as they stand when the watch begins.
   */
  replaySince?: number
  /** Only the poll, no log views (the soak counts what polls see apart from what logs say). */
  pollOnly?: boolean
  signal?: AbortSignal
}

/** CPU the poller's own process used while polling (it shares the 2 cores with the agents). */
export interface PollOutcome {
  /** True when `done` held before the deadline. */
  done: boolean
  rounds: number
  elapsedMs: number
  /** This (benchmark) process's CPU over the poll, % of one core. */
  pollerCpuPct: number
}

/**
 * Watches `agents` until `done()` or the deadline. `onView` gets every view: the agent's log
 * view after each change it logs (with the time the line was read), and every poll answer
 * (agents that do not answer are skipped for that round). `done` is checked after each.
 */
export async function pollViews (
  agents: readonly BenchAgent[],
  onView: (agent: BenchAgent, view: View, at: number) => void,
  done: () => boolean,
  opts: PollOptions
): Promise<PollOutcome> {
  const started = performance.now()
  const cpu0 = process.cpuUsage()
  const deadline = started + opts.timeoutMs
  const finished = new AbortController()
  let ok = false
  const check = (): void => {
    if (!ok && done()) { ok = true; finished.abort() }
  }
  const logViews = new Map<BenchAgent, View>()
  const unwatch = opts.pollOnly === true ? [] : agents.map(a => {
    const since = opts.replaySince
    if (since === undefined) {
      logViews.set(a, loggedView(a.changes))
      onView(a, new Map(logViews.get(a)), started)
    } else {
      logViews.set(a, loggedView(a.changes, since))
      for (const c of a.changes) if (c.at > since && c.inView) apply(a, c)
    }
    return a.watch(c => { if (c.inView) { apply(a, c); check() } })
  })
  function apply (a: BenchAgent, c: LoggedChange): void {
    const v = logViews.get(a) as View
    v.set(c.member, c.to)
    onView(a, new Map(v), c.at)
  }
  let rounds = 0
  try {
    check()
    while (!ok) {
      opts.signal?.throwIfAborted()
      const roundStart = performance.now()
      rounds++
      await Promise.all(agents.map(async a => {
        const v = await a.view(opts.signal)
        if (v !== null && !ok) onView(a, v, performance.now())
      }))
      check()
      const now = performance.now()
      if (ok || now >= deadline) break
      const wait = Math.min(roundStart + opts.intervalMs - now, deadline - now)
      const signals = opts.signal === undefined ? [finished.signal] : [finished.signal, opts.signal]
      if (wait > 0) await delay(wait, undefined, { signal: AbortSignal.any(signals) }).catch(() => { /* done early, or aborted (checked above) */ })
    }
  } finally {
    for (const u of unwatch) u()
  }
  const elapsedMs = performance.now() - started
  const used = process.cpuUsage(cpu0)
  return { done: ok, rounds, elapsedMs, pollerCpuPct: elapsedMs > 0 ? ((used.user + used.system) / 1000) / elapsedMs * 100 : 0 }
}

/** True when `view` lists every one of `names` as alive. */
export function allAlive (view: View | undefined, names: readonly string[]): boolean {
  return view !== undefined && names.every(n => view.get(n) === 'alive')
}
