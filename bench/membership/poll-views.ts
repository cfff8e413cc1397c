/**
 * The one poller every phase uses: ask every agent for its view at a fixed cadence, hand each
 * answer to the phase with the time it arrived, stop when the phase is satisfied or at a deadline.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import type { BenchAgent, View } from './system.js'

/** Options of `pollViews`. */
export interface PollOptions {
  /** Cadence: a round starts this long after the previous one started (or at once if it overran). */
  intervalMs: number
  timeoutMs: number
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
 * Polls `agents` until `done()` or the deadline; `onView` gets every answer (agents that do not
 * answer are skipped for that round).
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
  let rounds = 0
  let ok = false
  for (;;) {
    opts.signal?.throwIfAborted()
    const roundStart = performance.now()
    rounds++
    await Promise.all(agents.map(async a => {
      const v = await a.view(opts.signal)
      if (v !== null) onView(a, v, performance.now())
    }))
    if (done()) { ok = true; break }
    const now = performance.now()
    if (now >= deadline) break
    const wait = Math.min(roundStart + opts.intervalMs - now, deadline - now)
    if (wait > 0) await delay(wait, undefined, opts.signal === undefined ? {} : { signal: opts.signal })
  }
  const elapsedMs = performance.now() - started
  const used = process.cpuUsage(cpu0)
  return { done: ok, rounds, elapsedMs, pollerCpuPct: elapsedMs > 0 ? ((used.user + used.system) / 1000) / elapsedMs * 100 : 0 }
}

/** True when `view` lists every one of `names` as alive. */
export function allAlive (view: View | undefined, names: readonly string[]): boolean {
  return view !== undefined && names.every(n => view.get(n) === 'alive')
}
