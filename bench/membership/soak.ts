/**
 * False-positive soak: a converged cluster, every CPU kept busy by bounded busy loops on the
 * root side, and every agent's view polled for the whole window. Nobody fails, so any
 * `suspect`/`failed` seen (in a poll, or in an agent's own status-change log, which catches
 * the ones shorter than a poll interval) is a false positive.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { availableParallelism, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { pollViews } from './poll-views.js'
import { cpuSeconds, median } from './proc-stats.js'
import type { BenchAgent } from './system.js'

/** Options of `soak`. */
export interface SoakOptions {
  minutes: number
  /** Busy loops to run (default: one per CPU). */
  loaders?: number
  /** Nice value of the busy loops (negative = they win against the agents). */
  nice: number
  pollMs: number
}

/** One false positive: `observer` showed `member` as `status`. */
export interface FalsePositive {
  observer: string
  member: string
  status: string
  /** Seconds into the window. */
  atS: number
  source: 'poll' | 'log'
}

/** What the soak saw. */
export interface SoakResult {
  minutes: number
  agents: number
  loaders: number
  nice: number
  polls: number
  /** Distinct alive -> suspect/failed transitions seen by polling. */
  polledTransitions: number
  /** suspect/failed changes the agents logged. */
  loggedTransitions: number
  /** The first few, for the report. */
  examples: FalsePositive[]
  /** 1-minute load average at the end. */
  loadAvg1: number
  /** Median agent CPU over the window, % of one core. */
  agentCpuMedianPct: number | null
}

/** Runs the soak on converged `agents`. The busy loops are killed by pid and bounded by `timeout` anyway. */
export async function soak (agents: readonly BenchAgent[], opts: SoakOptions): Promise<SoakResult> {
  const windowMs = opts.minutes * 60_000
  const loaders = opts.loaders ?? availableParallelism()
  const boundS = Math.ceil(windowMs / 1000) + 30
  const procs: ChildProcess[] = []
  const names = agents.map(a => a.name)
  const cpu0 = agents.map(a => cpuSeconds(a.pid))
  const t0 = performance.now()
  const bad = new Map<string, boolean>() // observer|member -> currently not alive
  const examples: FalsePositive[] = []
  let polledTransitions = 0
  let polls = 0
  try {
    for (let i = 0; i < loaders; i++) {
      // `yes` into /dev/null is a pure CPU burner; `timeout` bounds it even if this process dies.
      // Own process group (detached): `timeout` forks `yes`, and killing only `timeout` would
      // orphan the burner; the group kill below ends both.
      procs.push(spawn('/usr/bin/nice', ['-n', String(opts.nice), '/usr/bin/timeout', '--signal=KILL', String(boundS), '/usr/bin/yes'], { stdio: 'ignore', detached: true }))
    }
    const end = t0 + windowMs
    const outcome = await pollViews(agents, (a, v, at) => {
      for (const n of names) {
        const st = v.get(n) ?? 'missing'
        const key = `${a.name}|${n}`
        const isBad = st !== 'alive'
        if (isBad && bad.get(key) !== true) {
          polledTransitions++
          if (examples.length < 20) examples.push({ observer: a.name, member: n, status: st, atS: Math.round((at - t0) / 100) / 10, source: 'poll' })
        }
        bad.set(key, isBad)
      }
    }, () => performance.now() >= end, { intervalMs: opts.pollMs, timeoutMs: windowMs + 60_000, pollOnly: true })
    polls = outcome.rounds
  } finally {
    for (const p of procs) {
      if (p.pid !== undefined) {
        try { process.kill(-p.pid, 'SIGKILL') } catch { /* group already gone */ }
      }
    }
    await Promise.all(procs.map(async p => { if (p.exitCode === null && p.signalCode === null) await once(p, 'exit') }))
  }
  const dt = (performance.now() - t0) / 1000
  const logged = agents.flatMap(a => a.changes.filter(c => c.at >= t0 && (c.to === 'suspect' || c.to === 'failed'))
    .map(c => ({ observer: a.name, member: c.member, status: c.to, atS: Math.round((c.at - t0) / 100) / 10, source: 'log' as const })))
  examples.push(...logged.slice(0, 20))
  const cpu = agents.flatMap((a, i) => {
    const before = cpu0[i]
    const after = cpuSeconds(a.pid)
    return before == null || after === null ? [] : [(after - before) / dt * 100]
  })
  return {
    minutes: opts.minutes,
    agents: agents.length,
    loaders,
    nice: opts.nice,
    polls,
    polledTransitions,
    loggedTransitions: logged.length,
    examples,
    loadAvg1: loadavg()[0] ?? 0,
    agentCpuMedianPct: median(cpu)
  }
}
