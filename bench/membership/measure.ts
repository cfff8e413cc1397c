/**
 * The measured phases, identical for every system: forming the cluster, an idle window,
 * link-cut failure rounds, and late joiners. Times are monotonic milliseconds; a view counts
 * when the poller received it (so every figure carries up to one poll interval of slack).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import { waitFor } from '../../test/harness/poll.js'
import type { TestHost } from '../../test/harness/hosts.js'
import { allAlive, pollViews } from './poll-views.js'
import { machineShare, machineTicks } from '../commission/machine-load.js'
import { cpuSeconds, max, median, memoryBytes, min, rssBytes } from './proc-stats.js'
import type { BenchAgent, BenchSystem, View } from './system.js'

/** Poll cadence and deadlines shared by the phases. */
export interface PhaseOptions {
  pollMs: number
  convergeTimeoutMs: number
  failTimeoutMs: number
  recoverTimeoutMs: number
  /** Quiet time after a recovery before the next cut, so one round's gossip does not leak into the next. */
  settleMs: number
}

/** Median and max of a set of samples (ms unless named otherwise). */
export interface Spread { median: number | null, max: number | null, n: number }

const spread = (xs: readonly number[]): Spread => ({ median: median(xs), max: max(xs), n: xs.length })

/** Figures of forming the cluster. */
export interface ConvergeResult {
  agents: number
  /** Seed spawned -> every agent lists every agent alive. */
  fromSeedSpawnMs: number
  /** The joiners were spawned together (after the seed listened) -> all see all. */
  fromJoinersSpawnMs: number
  /** The last agent to listen listened -> all see all. */
  fromLastListeningMs: number | null
  /** Per joiner: it listened -> every agent lists it alive (the "seen alive within 1 s" target). */
  seenByAllAfterListening: Spread
  /** Per joiner: spawned -> it lists every agent alive. */
  spawnToSeesAll: Spread
  /** Per agent: spawned -> listening line. */
  spawnToListening: Spread
  pollerCpuPct: number
}

/** With BENCH_FAIL_LOGS=DIR, a phase that fails writes every agent's log tail there (DIR/NAME.log). */
async function keepFailureLogs (agents: readonly BenchAgent[]): Promise<void> {
  await writeLogTails(process.env.BENCH_FAIL_LOGS, agents)
}

/**
 * With BENCH_KEEP_LOGS=DIR, every agent's log tail is written to DIR/SUBDIR/NAME.log when a
 * system's run ends, passed or not (to read what the agents did in a run that finished).
 */
export async function keepLogs (subdir: string, agents: readonly BenchAgent[]): Promise<void> {
  const dir = process.env.BENCH_KEEP_LOGS
  await writeLogTails(dir === undefined || dir === '' ? undefined : join(dir, subdir), agents)
}

async function writeLogTails (dir: string | undefined, agents: readonly BenchAgent[]): Promise<void> {
  if (dir === undefined || dir === '') return
  await mkdir(dir, { recursive: true })
  await Promise.all(agents.map(async a => { await writeFile(join(dir, `${a.name}.log`), a.tail()) }))
}

/** Spawns the seed, waits until it listens, spawns the others at once, polls until all see all. */
export async function converge (system: BenchSystem, hosts: readonly TestHost[], opts: PhaseOptions): Promise<{ agents: BenchAgent[], result: ConvergeResult }> {
  const [seedHost, ...joinHosts] = hosts
  if (seedHost === undefined) throw new Error('no hosts')
  const seed = await system.start(seedHost, null)
  const agents = [seed]
  try {
    await waitFor(() => seed.readyAt !== null, { timeoutMs: 60_000, intervalMs: 5, message: `${system.id} seed listening` })
    for (const h of joinHosts) agents.push(await system.start(h, seedHost))
  } catch (err) {
    await Promise.allSettled(agents.map(async a => { await a.kill() }))
    throw new Error(`${system.id}: ${(err as Error).message}\n${seed.tail().slice(-2000)}`)
  }
  const names = agents.map(a => a.name)
  // firstAlive.get(observer).get(subject): when observer's view first listed subject alive.
  const firstAlive = new Map<string, Map<string, number>>(names.map(n => [n, new Map()]))
  const lastView = new Map<string, View>()
  const outcome = await pollViews(agents, (a, view, at) => {
    lastView.set(a.name, view)
    const seen = firstAlive.get(a.name) as Map<string, number>
    for (const n of names) if (!seen.has(n) && view.get(n) === 'alive') seen.set(n, at)
  }, () => [...firstAlive.values()].every(s => s.size === names.length), { intervalMs: opts.pollMs, timeoutMs: opts.convergeTimeoutMs, replaySince: seed.spawnedAt })
  if (!outcome.done) {
    const missing = [...firstAlive].map(([o, s]) => `${o} sees ${s.size}/${names.length}`).join(', ')
    // Who never saw whom alive, and what its last view said about them (absent, suspect, failed).
    const detail = [...firstAlive].filter(([, s]) => s.size < names.length)
      .map(([o, s]) => `${o}: ${names.filter(n => !s.has(n)).map(n => `${n}=${lastView.get(o)?.get(n) ?? 'absent'}`).join(' ')}`).join('; ')
    await keepFailureLogs(agents)
    throw new Error(`${system.id}: ${names.length} agents did not converge in ${opts.convergeTimeoutMs} ms (${missing})\nnever seen alive: ${detail}`)
  }
  const seesAll = (o: string): number => Math.max(...(firstAlive.get(o) as Map<string, number>).values())
  const seenByAll = (s: string): number => Math.max(...names.map(o => (firstAlive.get(o) as Map<string, number>).get(s) as number))
  const allAt = Math.max(...names.map(seesAll))
  const joiners = agents.slice(1)
  const ready = agents.map(a => a.readyAt).filter((t): t is number => t !== null)
  return {
    agents,
    result: {
      agents: agents.length,
      fromSeedSpawnMs: allAt - seed.spawnedAt,
      fromJoinersSpawnMs: allAt - Math.max(...joiners.map(a => a.spawnedAt), seed.spawnedAt),
      fromLastListeningMs: ready.length === agents.length ? allAt - Math.max(...ready) : null,
      seenByAllAfterListening: spread(joiners.filter(a => a.readyAt !== null).map(a => seenByAll(a.name) - (a.readyAt as number))),
      spawnToSeesAll: spread(joiners.map(a => seesAll(a.name) - a.spawnedAt)),
      spawnToListening: spread(agents.filter(a => a.readyAt !== null).map(a => (a.readyAt as number) - a.spawnedAt)),
      pollerCpuPct: outcome.pollerCpuPct
    }
  }
}

/** Figures of an idle window: no polling, nothing happening but the agents' own protocol. */
export interface IdleResult {
  windowMs: number
  rssMedianMB: number | null
  rssMaxMB: number | null
  /** Of the RSS: anonymous memory (the agent's own) and mapped files (the Node binary, shared), medians. */
  anonMedianMB: number | null
  fileMedianMB: number | null
  /** Proportional set size, median: own pages plus this agent's share of the shared ones. */
  pssMedianMB: number | null
  cpuMedianPct: number | null
  cpuMaxPct: number | null
  /**
   * The whole machine over the window, % of all cores: what ran (agents, the kernel's network
   * path, anything else), and what the hypervisor gave other guests (steal). Agents' figures
   * are only comparable between runs with a similar share of both.
   */
  machine: { busyPct: number, stealPct: number } | null
}

/** Reads every agent's CPU time, waits `windowMs` without polling, reads again; RSS at the end. */
export async function idleWindow (agents: readonly BenchAgent[], windowMs: number): Promise<IdleResult> {
  const t0 = performance.now()
  const cpu0 = agents.map(a => cpuSeconds(a.pid))
  const machine0 = machineTicks()
  await delay(windowMs) // the measurement window itself, not a wait for state
  const machine = machineShare(machine0, machineTicks())
  const dt = (performance.now() - t0) / 1000
  const cpu = agents.flatMap((a, i) => {
    const before = cpu0[i]
    const after = cpuSeconds(a.pid)
    return before == null || after === null ? [] : [(after - before) / dt * 100]
  })
  const rss = agents.map(a => rssBytes(a.pid)).filter((x): x is number => x !== null).map(b => b / 2 ** 20)
  const mem = agents.map(a => memoryBytes(a.pid)).filter(x => x !== null)
  const mb = (f: (m: { anon: number, file: number, pss: number }) => number): number | null => median(mem.map(m => f(m) / 2 ** 20))
  return {
    windowMs: Math.round(dt * 1000),
    rssMedianMB: median(rss),
    rssMaxMB: max(rss),
    anonMedianMB: mb(m => m.anon),
    fileMedianMB: mb(m => m.file),
    pssMedianMB: mb(m => m.pss),
    cpuMedianPct: median(cpu),
    cpuMaxPct: max(cpu),
    machine
  }
}

/** One link-cut round. */
export interface FailureRound {
  victim: string
  /** Link cut -> the first survivor's view stops listing it alive (suspect or failed). */
  firstNotAliveMs: number | null
  /** Link cut -> the first survivor lists it failed. */
  firstFailedMs: number | null
  /** Link cut -> every survivor lists it failed (null: not within the deadline). */
  allFailedMs: number | null
  /** The same from the survivors' own status-change logs (no poll slack), when they log it. */
  allFailedLoggedMs: number | null
  /** Link cut -> the first survivor logged it suspect (clusterd logs suspicion; Serf logs memberlist's). */
  firstSuspectLoggedMs: number | null
  /** Other members some survivor showed as not alive meanwhile (collateral false suspicion). */
  collateral: string[]
  /** Link restored -> every agent, the victim included, lists every agent alive again. */
  recoveredMs: number | null
  /**
   * The survivors' Lifeguard local health just before the cut (median, max; null when the
   * system does not expose it). Above 0 they probe more slowly and wait longer for acks: a
   * detection time that grows with it is the machine's load, not the protocol.
   */
  healthAtCut: { median: number | null, max: number | null } | null
}

/** The rounds, and the agents' CPU while they ran (the poller's load on them included). */
export interface FailurePhase {
  rounds: FailureRound[]
  /** Median agent CPU over the whole phase (polling every agent every pollMs), % of one core. */
  agentCpuMedianPct: number | null
}

/** Cuts the link of one non-seed host per round (rotating), times detection and recovery. */
export async function failureRounds (agents: readonly BenchAgent[], rounds: number, opts: PhaseOptions): Promise<FailurePhase> {
  const t0 = performance.now()
  const cpu0 = agents.map(a => cpuSeconds(a.pid))
  const out = await cutRounds(agents, rounds, opts)
  const dt = (performance.now() - t0) / 1000
  const cpu = agents.flatMap((a, i) => {
    const before = cpu0[i]
    const after = cpuSeconds(a.pid)
    return before == null || after === null ? [] : [(after - before) / dt * 100]
  })
  return { rounds: out, agentCpuMedianPct: median(cpu) }
}

async function cutRounds (agents: readonly BenchAgent[], rounds: number, opts: PhaseOptions): Promise<FailureRound[]> {
  const names = agents.map(a => a.name)
  const out: FailureRound[] = []
  for (let r = 0; r < rounds; r++) {
    const victim = agents[1 + (r % (agents.length - 1))] as BenchAgent
    const survivors = agents.filter(a => a !== victim)
    const views = new Map<string, View>()
    const pre = await pollViews(agents, (a, v) => { views.set(a.name, v) }, () => agents.every(a => allAlive(views.get(a.name), names)),
      { intervalMs: opts.pollMs, timeoutMs: opts.recoverTimeoutMs })
    if (!pre.done) {
      await keepFailureLogs(agents)
      throw new Error(`round ${r}: the cluster is not whole before the cut`)
    }
    await delay(opts.settleMs) // quiet time between rounds, not a wait for state (that was the poll above)
    const healthAtCut = await survivorsHealth(survivors)
    const t0 = performance.now()
    await victim.host.cutLink()
    const notAlive = new Map<string, number>()
    const failed = new Map<string, number>()
    const collateral = new Set<string>()
    let detected: Awaited<ReturnType<typeof pollViews>>
    let restoredAt = 0
    try {
      detected = await pollViews(survivors, (a, v, at) => {
        const st = v.get(victim.name)
        if (st !== 'alive' && !notAlive.has(a.name)) notAlive.set(a.name, at)
        if (st === 'failed' && !failed.has(a.name)) failed.set(a.name, at)
        for (const n of names) if (n !== victim.name && v.get(n) !== 'alive') collateral.add(`${a.name}:${n}=${v.get(n) ?? 'missing'}`)
      }, () => failed.size === survivors.length, { intervalMs: opts.pollMs, timeoutMs: opts.failTimeoutMs })
    } finally {
      // Restore whatever happened, or the next round and the teardown inherit a cut link.
      await victim.host.restoreLink()
      restoredAt = performance.now()
    }
    const logged = survivors.map(a => a.changes.find(c => c.at >= t0 && c.member === victim.name && c.to === 'failed')?.at)
    const suspects = survivors.flatMap(a => a.changes.filter(c => c.at >= t0 && c.member === victim.name && c.to === 'suspect').map(c => c.at))
    const recovered = new Map<string, View>()
    const rec = await pollViews(agents, (a, v) => { recovered.set(a.name, v) }, () => agents.every(a => allAlive(recovered.get(a.name), names)),
      { intervalMs: opts.pollMs, timeoutMs: opts.recoverTimeoutMs })
    const round: FailureRound = {
      victim: victim.name,
      firstNotAliveMs: notAlive.size > 0 ? (min([...notAlive.values()]) as number) - t0 : null,
      firstFailedMs: failed.size > 0 ? (min([...failed.values()]) as number) - t0 : null,
      allFailedMs: detected.done ? (max([...failed.values()]) as number) - t0 : null,
      allFailedLoggedMs: logged.every((x): x is number => x !== undefined) ? Math.max(...logged) - t0 : null,
      firstSuspectLoggedMs: suspects.length > 0 ? Math.min(...suspects) - t0 : null,
      collateral: [...collateral],
      recoveredMs: rec.done ? performance.now() - restoredAt : null,
      healthAtCut
    }
    out.push(round)
    if (!rec.done) break
  }
  return out
}

/** The survivors' local health scores read at once (null when none exposes one). */
async function survivorsHealth (survivors: readonly BenchAgent[]): Promise<FailureRound['healthAtCut']> {
  const scores = (await Promise.all(survivors.map(async a => await a.health?.() ?? null))).filter((x): x is number => x !== null)
  return scores.length === 0 ? null : { median: median(scores), max: max(scores) }
}

/** One late joiner. */
export interface LateJoin {
  host: string
  spawnToListeningMs: number | null
  /** Spawned -> it lists every member alive (the "start to joined" target). */
  spawnToSeesAllMs: number
  /** Spawned -> every member lists it alive. */
  spawnToSeenByAllMs: number
  /** Listening -> every member lists it alive. */
  listeningToSeenByAllMs: number | null
}

/**
 * Starts one agent per host in `lateHosts`, one after another, into the running cluster (which
 * they then stay in). Each joins an idle cluster: the phase before (the last cut round's
 * recovery) and the previous joiner are followed by `settleMs` of quiet, as cut rounds are.
 */
export async function lateJoins (system: BenchSystem, agents: BenchAgent[], lateHosts: readonly TestHost[], seed: TestHost, opts: PhaseOptions): Promise<LateJoin[]> {
  const out: LateJoin[] = []
  for (const h of lateHosts) {
    await delay(opts.settleMs) // quiet time: the cluster has taken in what came before, not a wait for state
    const a = await system.start(h, seed)
    agents.push(a)
    const names = agents.map(x => x.name)
    let seesAllAt: number | null = null
    const seenBy = new Map<string, number>()
    // A joiner can see all before its API listens (its join comes first): wait for both, so
    // "listening -> seen alive by all" is measured too.
    const res = await pollViews(agents, (o, v, at) => {
      if (o === a && seesAllAt === null && allAlive(v, names)) seesAllAt = at
      if (!seenBy.has(o.name) && v.get(a.name) === 'alive') seenBy.set(o.name, at)
    }, () => seesAllAt !== null && seenBy.size === agents.length && a.readyAt !== null, { intervalMs: opts.pollMs, timeoutMs: opts.convergeTimeoutMs })
    if (!res.done || seesAllAt === null) {
      const what = seesAllAt !== null && seenBy.size === agents.length ? 'joined but never said it listens' : 'did not join'
      throw new Error(`${system.id}: late joiner ${h.name} ${what} in ${opts.convergeTimeoutMs} ms\n${a.tail().slice(-2000)}`)
    }
    const seenByAllAt = Math.max(...seenBy.values())
    out.push({
      host: h.name,
      spawnToListeningMs: a.readyAt === null ? null : a.readyAt - a.spawnedAt,
      spawnToSeesAllMs: (seesAllAt as number) - a.spawnedAt,
      spawnToSeenByAllMs: seenByAllAt - a.spawnedAt,
      listeningToSeenByAllMs: a.readyAt === null ? null : seenByAllAt - a.readyAt
    })
  }
  return out
}
