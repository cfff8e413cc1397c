/**
 * Benchmark: clusterd membership against HashiCorp Serf on the same real test hosts.
 *
 *   npm run bench:membership -- [--hosts 8[,5,16]] [--rounds 5] [--idle-seconds 30] [--quiet-seconds 30]
 *                               [--converge-seconds 120] [--clusterd-timing JSON] [--failure-detection standard|fast]
 *                               [--late 3] [--systems clusterd,serf] [--poll-ms 1000] [--settle-seconds 5]
 *   npm run bench:membership -- --soak MINUTES [--hosts 8] [--load-nice -5]
 *
 * Per host count: one host set (N hosts + the late joiners), then for each system in turn
 * (clusterd first): form the cluster, an idle window right after, another after a quiet
 * spell (`--quiet-seconds`: the steady idle cost), link-cut rounds, late joiners, kill
 * everything. `--soak` runs only the loaded false-positive soak (clusterd; `--systems` to add
 * serf). Progress goes to stderr; stdout gets one JSON line per host count, then markdown.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { TestHosts } from '../../test/harness/hosts.js'
import { clusterdSystem } from './clusterd-system.js'
import { converge, failureRounds, idleWindow, keepLogs, lateJoins, type PhaseOptions } from './measure.js'
import { machineInfo, markdownSoak, markdownTable, type SystemResult } from './report.js'
import { serfSystem } from './serf-system.js'
import { soak, type SoakResult } from './soak.js'
import type { BenchAgent, BenchSystem, View } from './system.js'
import { allAlive, pollViews } from './poll-views.js'
import { benchArgs, benchUsageError } from '../bench-args.js'

const { values } = benchArgs({
  options: {
    hosts: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '5' },
    'idle-seconds': { type: 'string', default: '30' },
    'quiet-seconds': { type: 'string', default: '30' },
    'converge-seconds': { type: 'string', default: '120' },
    'clusterd-timing': { type: 'string' },
    'failure-detection': { type: 'string' },
    late: { type: 'string', default: '3' },
    systems: { type: 'string' },
    'poll-ms': { type: 'string', default: '1000' },
    soak: { type: 'string' },
    'load-nice': { type: 'string', default: '-5' },
    prefix: { type: 'string', default: 'bm' },
    'settle-seconds': { type: 'string', default: '5' }
  }
})

const num = (name: string, raw: string | undefined, lo: number, hi: number): number => {
  const n = Number(raw)
  if (!Number.isFinite(n) || n < lo || n > hi) benchUsageError(`--${name} must be a number in ${lo}..${hi}, got ${String(raw)}`)
  return n
}
const hostCounts = (values.hosts ?? '8').split(',').map(h => num('hosts', h, 3, 100))
const rounds = num('rounds', values.rounds, 1, 50)
const idleMs = num('idle-seconds', values['idle-seconds'], 1, 3600) * 1000
const quietMs = num('quiet-seconds', values['quiet-seconds'], 0, 3600) * 1000
const lateCount = num('late', values.late, 0, 10)
const pollMs = num('poll-ms', values['poll-ms'], 10, 5000)
const soakMinutes = values.soak === undefined ? 0 : num('soak', values.soak, 0.1, 120)
const loadNice = num('load-nice', values['load-nice'], -20, 19)
const systems = (values.systems ?? (soakMinutes > 0 ? 'clusterd' : 'clusterd,serf')).split(',')
for (const s of systems) if (s !== 'clusterd' && s !== 'serf') benchUsageError(`unknown system '${s}'`)

const detection = values['failure-detection']
if (detection !== undefined && detection !== 'standard' && detection !== 'fast') benchUsageError(`--failure-detection: expected standard or fast, got ${JSON.stringify(detection)}`)
const PHASE: PhaseOptions = { pollMs, convergeTimeoutMs: num('converge-seconds', values['converge-seconds'], 10, 3600) * 1000, failTimeoutMs: 60_000, recoverTimeoutMs: 180_000, settleMs: num('settle-seconds', values['settle-seconds'], 0, 600) * 1000 }

const started = Date.now()
/** Progress on stderr (this is the program's own CLI output, not library logging). */
function say (msg: string): void {
  process.stderr.write(`[bench:membership +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`)
}

async function makeSystem (id: string): Promise<BenchSystem> {
  // --clusterd-timing '{"datagramBudget":1000}': the agents' CLUSTERD_TIMING (membership knobs), to try one.
  // --failure-detection fast: the agents' own setting (README), passed as their flag.
  const env: Record<string, string> = values['clusterd-timing'] === undefined ? {} : { CLUSTERD_TIMING: values['clusterd-timing'] }
  return id === 'clusterd' ? await clusterdSystem(env, detection === undefined ? [] : ['--failure-detection', detection]) : serfSystem()
}

async function killAll (agents: readonly BenchAgent[]): Promise<void> {
  await Promise.allSettled(agents.map(async a => { await a.kill() }))
}

async function benchOne (system: BenchSystem, hosts: TestHosts, n: number): Promise<SystemResult> {
  const agents: BenchAgent[] = []
  try {
    say(`${system.id}: forming ${n} agents`)
    const formed = await converge(system, hosts.hosts.slice(0, n), PHASE)
    agents.push(...formed.agents)
    say(`${system.id}: all see all ${Math.round(formed.result.fromJoinersSpawnMs)} ms after the joiners' spawn; idle window ${idleMs / 1000} s`)
    const idle = await idleWindow(agents, idleMs)
    say(`${system.id}: right after forming: idle RSS median ${idle.rssMedianMB?.toFixed(1)} MB, CPU median ${idle.cpuMedianPct?.toFixed(2)}%; quiet for ${quietMs / 1000} s, then another idle window`)
    await delay(quietMs) // the agents left alone before the steady window, not a wait for state
    const steady = await idleWindow(agents, idleMs)
    const m = steady.machine === null ? 'machine unknown' : `machine ${steady.machine.busyPct.toFixed(1)}% busy, ${steady.machine.stealPct.toFixed(1)}% stolen`
    say(`${system.id}: steady: idle RSS median ${steady.rssMedianMB?.toFixed(1)} MB, CPU median ${steady.cpuMedianPct?.toFixed(2)}% (${m}); ${rounds} link-cut rounds`)
    const failure = await failureRounds(agents, rounds, PHASE)
    say(`${system.id}: all-failed per round ${failure.rounds.map(f => f.allFailedMs === null ? 'timeout' : Math.round(f.allFailedMs)).join(', ')} ms; late joiners`)
    await delay(PHASE.settleMs) // quiet time after the last recovery, as between rounds
    const late = await lateJoins(system, agents, hosts.hosts.slice(n, n + lateCount), hosts.hosts[0] as NonNullable<(typeof hosts.hosts)[0]>, PHASE)
    say(`${system.id}: late joiners spawn->sees all ${late.map(l => Math.round(l.spawnToSeesAllMs)).join(', ')} ms`)
    return { system: system.id, converge: formed.result, idle, steady, failure, late }
  } finally {
    await keepLogs(`${system.id}-${n}`, agents).catch(() => {})
    await killAll(agents)
    await system.close()
  }
}

async function soakOne (system: BenchSystem, hosts: TestHosts, n: number): Promise<SoakResult> {
  const agents: BenchAgent[] = []
  try {
    say(`${system.id}: forming ${n} agents for a ${soakMinutes} min soak`)
    const formed = await converge(system, hosts.hosts.slice(0, n), PHASE)
    agents.push(...formed.agents)
    // Start-up of N agents on few cores leaves suspicions behind: let them settle, then demand a whole view again.
    await delay(PHASE.settleMs)
    const names = agents.map(a => a.name)
    const views = new Map<string, View>()
    const whole = await pollViews(agents, (a, v) => { views.set(a.name, v) }, () => agents.every(a => allAlive(views.get(a.name), names)),
      { intervalMs: pollMs, timeoutMs: PHASE.recoverTimeoutMs })
    if (!whole.done) throw new Error(`${system.id}: the cluster is not whole before the soak`)
    say(`${system.id}: loading every CPU (nice ${loadNice}) and polling every ${Math.max(pollMs, 250)} ms`)
    const r = await soak(agents, { minutes: soakMinutes, nice: loadNice, pollMs: Math.max(pollMs, 250) })
    say(`${system.id}: soak saw ${r.polledTransitions} polled and ${r.loggedTransitions} logged suspect/failed transitions`)
    return r
  } finally {
    await keepLogs(`${system.id}-${n}`, agents).catch(() => {})
    await killAll(agents)
    await system.close()
  }
}

async function main (): Promise<void> {
  const machine = machineInfo()
  say(`machine: ${JSON.stringify(machine)}`)
  const markdown: string[] = []
  for (const n of hostCounts) {
    const hosts = await TestHosts.create({ count: soakMinutes > 0 ? n : n + lateCount, prefix: values.prefix })
    try {
      if (soakMinutes > 0) {
        const soaks: Record<string, SoakResult> = {}
        for (const id of systems) soaks[id] = await soakOne(await makeSystem(id), hosts, n)
        process.stdout.write(JSON.stringify({ bench: 'membership', mode: 'soak', hosts: n, machine, soak: soaks }) + '\n')
        for (const s of Object.values(soaks)) markdown.push(`### ${n} hosts, soak\n\n${markdownSoak(s)}\n`)
      } else {
        const results: SystemResult[] = []
        for (const id of systems) results.push(await benchOne(await makeSystem(id), hosts, n))
        process.stdout.write(JSON.stringify({ bench: 'membership', hosts: n, rounds, pollMs, machine, results }) + '\n')
        markdown.push(`### ${n} hosts\n\n${markdownTable(n, results)}\n`)
      }
    } finally {
      await hosts.destroy()
    }
  }
  process.stdout.write('\n' + markdown.join('\n'))
}

main().catch(err => {
  process.stderr.write(`bench:membership failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
