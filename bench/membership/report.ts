/**
 * Results of a run: the machine it ran on, the figures per system, the targets and
 * whether each is met, as one JSON object and as a markdown table.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism, release, totalmem } from 'node:os'
import type { ConvergeResult, FailurePhase, FailureRound, IdleResult, LateJoin } from './measure.js'
import { max, median, round } from './proc-stats.js'
import type { SoakResult } from './soak.js'

/** The targets for clusterd (issue 10: membership that scales). */
export const TARGETS = {
  /** Late joiner: spawn -> it sees all, and listening -> all see it (the issue: "<= 1 s at 64 hosts"). */
  lateJoinMs: 1_000,
  failureMedianMs: 3_000,
  idleRssMB: 80,
  idleCpuPct: 1,
  falsePositives: 0
} as const

/** All see all, from the joiners' spawn: <= 2 s at 32 hosts, <= 4 s at 64 (none set below 32). */
export function convergeTargetMs (hosts: number): number | null {
  return hosts >= 64 ? 4_000 : hosts >= 32 ? 2_000 : null
}

/** Everything measured for one system on one host set. */
export interface SystemResult {
  system: string
  converge: ConvergeResult
  /** The idle window right after forming (start-up work still finishing). */
  idle: IdleResult
  /** The idle window after a quiet spell: the steady cost the target is about. */
  steady: IdleResult
  failure: FailurePhase
  late: LateJoin[]
}

/** The machine, for the record. */
export interface MachineInfo {
  date: string
  nproc: number
  memoryGiB: number
  kernel: string
  cpuModel: string
  node: string
  serf: string
}

/** Reads nproc, memory, kernel, CPU model, versions. */
export function machineInfo (): MachineInfo {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'
  let serf = 'unknown'
  try { serf = execFileSync('/usr/bin/serf', ['version'], { encoding: 'utf8' }).split('\n')[0]?.trim() ?? serf } catch {}
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    kernel: release(),
    cpuModel: cpu.trim(),
    node: process.version,
    serf
  }
}

/** The failure figures of a system: median and max over rounds of "all survivors mark it failed". */
export function failureSummary (rounds: readonly FailureRound[]): { median: number | null, max: number | null, detected: number, rounds: number, recoveryMedian: number | null } {
  const all = rounds.map(r => r.allFailedMs).filter((x): x is number => x !== null)
  const rec = rounds.map(r => r.recoveredMs).filter((x): x is number => x !== null)
  return { median: median(all), max: max(all), detected: all.length, rounds: rounds.length, recoveryMedian: median(rec) }
}

const ms = (x: number | null | undefined): string => x == null ? '–' : `${Math.round(x)}`
const pair = (a: number | null | undefined, b: number | null | undefined): string => `${ms(a)} / ${ms(b)}`
const secs = (msv: number | undefined): number => Math.round((msv ?? 0) / 1000)
const verdict = (ok: boolean | null): string => ok === null ? 'n/a' : ok ? 'met' : '**not met**'

/** The markdown table of one host set (systems as columns, clusterd's verdict last). */
export function markdownTable (hosts: number, results: readonly SystemResult[]): string {
  const col = (f: (r: SystemResult) => string): string => results.map(f).join(' | ')
  const cd = results.find(r => r.system === 'clusterd')
  const fail = (r: SystemResult): ReturnType<typeof failureSummary> => failureSummary(r.failure.rounds)
  const lateMed = (r: SystemResult): number | null => median(r.late.map(l => l.spawnToSeesAllMs))
  const lateMax = (r: SystemResult): number | null => max(r.late.map(l => l.spawnToSeesAllMs))
  const lateListen = (r: SystemResult): { median: number | null, max: number | null } => {
    const xs = r.late.map(l => l.listeningToSeenByAllMs).filter((x): x is number => x !== null)
    return { median: median(xs), max: max(xs) }
  }
  const check = (f: (r: SystemResult) => boolean | null): string => cd === undefined ? 'n/a' : verdict(f(cd))
  const rows: Array<[string, string, string, string]> = [
    ['all see all, from seed spawn (ms)', col(r => ms(r.converge.fromSeedSpawnMs)), '', ''],
    ['all see all, from joiners\' spawn (ms)', col(r => ms(r.converge.fromJoinersSpawnMs)),
      convergeTargetMs(hosts) === null ? '' : `≤ ${convergeTargetMs(hosts) as number}`, convergeTargetMs(hosts) === null ? '' : check(r => r.converge.fromJoinersSpawnMs <= (convergeTargetMs(hosts) as number))],
    ['all see all, from the last agent listening (ms)', col(r => ms(r.converge.fromLastListeningMs)), '', ''],
    ['spawn → listening, median / max (ms)', col(r => pair(r.converge.spawnToListening.median, r.converge.spawnToListening.max)), '', ''],
    ['joiner listening → seen alive by all, all started together, median / max (ms)', col(r => pair(r.converge.seenByAllAfterListening.median, r.converge.seenByAllAfterListening.max)), '', ''],
    ['link cut → all survivors mark it failed, median / max (ms)', col(r => `${pair(fail(r).median, fail(r).max)} (${fail(r).detected}/${fail(r).rounds})`),
      `median ≤ ${TARGETS.failureMedianMs}`, check(r => fail(r).median === null || fail(r).detected < fail(r).rounds ? false : (fail(r).median as number) <= TARGETS.failureMedianMs)],
    ['link cut → first survivor stops listing it alive, median (ms)', col(r => ms(median(r.failure.rounds.map(f => f.firstNotAliveMs).filter((x): x is number => x !== null)))), '', ''],
    ['first suspicion logged → all survivors mark it failed, median (ms)', col(r => ms(median(r.failure.rounds.flatMap(f => f.firstSuspectLoggedMs !== null && f.allFailedMs !== null ? [f.allFailedMs - f.firstSuspectLoggedMs] : [])))), '', ''],
    ['link restored → all see all again, median (ms)', col(r => ms(fail(r).recoveryMedian)), '', ''],
    ['survivors\' local health just before each cut, per round: median / max (0 healthy; probes run at score + 1 times their interval)', col(r => {
      const hs = r.failure.rounds.map(f => f.healthAtCut)
      return hs.every(x => x === null) ? '–' : hs.map(x => x === null ? '–' : `${ms(x.median)}/${ms(x.max)}`).join(', ')
    }), '', ''],
    ['collateral suspicions during cuts (rounds with any)', col(r => `${r.failure.rounds.filter(f => f.collateral.length > 0).length}`), '', ''],
    [`idle CPU per agent right after forming, median / max (% of one core, ${secs(results[0]?.idle.windowMs)} s)`, col(r => `${round(r.idle.cpuMedianPct, 2) ?? '–'} / ${round(r.idle.cpuMaxPct, 2) ?? '–'}`), '', ''],
    ['idle RSS per agent, steady, median / max (MB)', col(r => `${round(r.steady.rssMedianMB, 1) ?? '–'} / ${round(r.steady.rssMaxMB, 1) ?? '–'}`),
      `≤ ${TARGETS.idleRssMB}`, check(r => r.steady.rssMedianMB === null ? null : r.steady.rssMedianMB <= TARGETS.idleRssMB)],
    ['idle memory per agent, steady, median: anonymous / mapped files (the Node binary, shared) / PSS (MB)', col(r => `${round(r.steady.anonMedianMB, 1) ?? '–'} / ${round(r.steady.fileMedianMB, 1) ?? '–'} / ${round(r.steady.pssMedianMB, 1) ?? '–'}`), '', ''],
    [`idle CPU per agent, steady, median / max (% of one core, ${secs(results[0]?.steady.windowMs)} s)`, col(r => `${round(r.steady.cpuMedianPct, 2) ?? '–'} / ${round(r.steady.cpuMaxPct, 2) ?? '–'}`),
      `≤ ${TARGETS.idleCpuPct}`, check(r => r.steady.cpuMedianPct === null ? null : r.steady.cpuMedianPct <= TARGETS.idleCpuPct)],
    ['machine during the steady window: busy / stolen by the hypervisor (% of all cores)', col(r => r.steady.machine === null ? '–' : `${round(r.steady.machine.busyPct, 1) ?? '–'} / ${round(r.steady.machine.stealPct, 1) ?? '–'}`), '', ''],
    ['late joiner spawn → sees all, median / max (ms)', col(r => pair(lateMed(r), lateMax(r))),
      `≤ ${TARGETS.lateJoinMs}`, check(r => lateMax(r) === null ? null : (lateMax(r) as number) <= TARGETS.lateJoinMs)],
    ['late joiner spawn → seen alive by all, median / max (ms)', col(r => pair(median(r.late.map(l => l.spawnToSeenByAllMs)), max(r.late.map(l => l.spawnToSeenByAllMs)))),
      `≤ ${TARGETS.lateJoinMs}`, check(r => r.late.length === 0 ? null : (max(r.late.map(l => l.spawnToSeenByAllMs)) as number) <= TARGETS.lateJoinMs)],
    ['late joiner listening → seen alive by all, median / max (ms; below 0: seen by all before its API listened)', col(r => pair(lateListen(r).median, lateListen(r).max)),
      `≤ ${TARGETS.lateJoinMs}`, check(r => lateListen(r).max === null ? null : (lateListen(r).max as number) <= TARGETS.lateJoinMs)],
    ['agent CPU during the polled cut rounds, median (% of one core)', col(r => `${round(r.failure.agentCpuMedianPct, 1) ?? '–'}`), '', '']
  ]
  const head = `| ${hosts} hosts | ${results.map(r => r.system).join(' | ')} | target (clusterd) | clusterd |`
  const sep = `|---|${results.map(() => '---:').join('|')}|---|---|`
  return [head, sep, ...rows.map(([a, b, c, d]) => `| ${a} | ${b} | ${c} | ${d} |`)].join('\n')
}

/** The markdown lines of a soak. */
export function markdownSoak (s: SoakResult): string {
  const fp = s.polledTransitions + s.loggedTransitions
  return [
    `| soak: ${s.agents} agents, ${s.minutes} min, ${s.loaders} busy loops at nice ${s.nice} | value | target | |`,
    '|---|---:|---|---|',
    `| suspect/failed transitions seen by polling (${s.polls} polls) | ${s.polledTransitions} | 0 | ${verdict(fp === 0)} |`,
    `| suspect/failed changes in the agents' logs | ${s.loggedTransitions} | 0 | |`,
    `| 1-min load average at the end | ${s.loadAvg1.toFixed(2)} | | |`,
    `| agent CPU over the window, median (% of one core) | ${round(s.agentCpuMedianPct, 2) ?? '–'} | | |`
  ].join('\n')
}
