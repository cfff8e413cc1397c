/**
 * Benchmark: agent start-up (spawn -> API socket accepting) and idle memory, per launch
 * variant (target: a lone agent on an idle machine listens within 300 ms; idle RSS <= 80 MB).
 *
 *   npm run bench:startup -- [--runs 10] [--together 16] [--rounds 3] [--idle-s 10]
 *                            [--variant label=entry.js ...]
 *
 * A variant is a script node runs as `node ENTRY agent ...`: by default the unbundled
 * compiled code (dist/agent/main.js) and the launcher (bin/clusterd.js: bundle + compile
 * cache). To compare with another build, e.g. the main branch, build it in a directory of
 * its own and pass `--variant before=/that/dir/dist/agent/main.js` (see docs/benchmarks.md).
 *
 * Real processes on 127.0.0.1, each with its own data dir under a temp dir, one cluster
 * secret. Per variant (each with a fresh compile-cache directory):
 *   - cold: one lone agent with an empty compile cache (the page cache is warm);
 *   - lone: `runs` lone agents one after another; the last one then idles `idle-s` seconds
 *     and its RSS is read (a lone agent elects itself, so it carries the manager role);
 *   - together: `rounds` x `together` agents spawned at the same moment, one seed and joiners
 *     (--join seed); after all listen, `idle-s` seconds idle, then every agent's RSS, the
 *     manager's apart.
 * Progress on stderr; stdout gets a markdown table and one JSON summary line. Run it under
 * `flock /tmp/clusterd-heavy.lock` on a shared machine.
 */
import { mkdir, rm, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { isAbsolute, join } from 'node:path'
import { ApiClient } from '../../cli/client.js'
import { REPO, makeSecret } from '../../test/harness/agent-process.js'
import { freePort } from '../api/loopback-agent.js'
import { waitQuiet } from '../commission/machine-load.js'
import { machineInfo, progress, quantile } from '../commission/stats.js'
import { BenchAgent, SocketWatch } from './bench-agent.js'
import {
  DEFAULT_IDLE_S, DEFAULT_ROUNDS, DEFAULT_RUNS, DEFAULT_TOGETHER, DEFAULT_VARIANTS, QUIET_BUSY_FRACTION, QUIET_MAX_WAIT_MS,
  TARGET_MS, TARGET_RSS_MB
} from './constants.js'
import { benchArgs, benchUsageError } from '../bench-args.js'

const { values } = benchArgs({
  options: {
    runs: { type: 'string', default: String(DEFAULT_RUNS) },
    together: { type: 'string', default: String(DEFAULT_TOGETHER) },
    rounds: { type: 'string', default: String(DEFAULT_ROUNDS) },
    'idle-s': { type: 'string', default: String(DEFAULT_IDLE_S) },
    variant: { type: 'string', multiple: true }
  }
})
const num = (name: string, raw: string | undefined, lo: number, hi: number): number => {
  const n = Number(raw)
  if (!Number.isInteger(n) || n < lo || n > hi) benchUsageError(`--${name}: expected an integer in ${lo}..${hi}, got ${JSON.stringify(raw)}`)
  return n
}
const runs = num('runs', values.runs, 1, 1000)
const together = num('together', values.together, 0, 64)
const rounds = num('rounds', values.rounds, 0, 100)
const idleS = num('idle-s', values['idle-s'], 0, 600)
const variants = (values.variant ?? DEFAULT_VARIANTS).map(v => {
  const eq = v.indexOf('=')
  if (eq <= 0 || eq === v.length - 1) benchUsageError(`--variant: expected label=entry.js, got ${JSON.stringify(v)}`)
  const entry = v.slice(eq + 1)
  return { label: v.slice(0, eq), entry: isAbsolute(entry) ? entry : join(REPO, entry) }
})

const machine = machineInfo()
const say = progress('bench:startup', Date.now())

/** Nearest-rank order statistics of ms samples, rounded to 1 ms. */
function stats (xs: readonly number[]): { n: number, median: number | null, p90: number | null, min: number | null, max: number | null } {
  const r = (x: number | null): number | null => x === null ? null : Math.round(x)
  return { n: xs.length, median: r(quantile(xs, 0.5)), p90: r(quantile(xs, 0.9)), min: r(quantile(xs, 0)), max: r(quantile(xs, 1)) }
}

const idle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, idleS * 1000)) }

/** Results of one variant. */
interface VariantResult {
  label: string
  entry: string
  busyBefore: number
  coldMs: number
  lone: ReturnType<typeof stats>
  loneCpuMs: ReturnType<typeof stats>
  loneIdleRssMb: number | null
  loneIsManager: boolean
  together: ReturnType<typeof stats>
  togetherCpuMs: ReturnType<typeof stats>
  togetherIdleRssMb: { nonManagerMedian: number | null, nonManagerMax: number | null, manager: number | null }
  togetherMembersSeen: number[]
}

const dir = await mkdtemp(join(tmpdir(), 'clusterd-bench-startup-'))
const live = new Set<BenchAgent>()
let seq = 0

/** Spawns one agent of `variant` (not yet awaited). */
async function spawnAgent (variant: { label: string, entry: string }, watch: SocketWatch, sockDir: string, cacheDir: string,
  join_: string[], port: number): Promise<BenchAgent> {
  const n = seq++
  const dataDir = join(dir, `data-${n}`)
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const agent = new BenchAgent({
    entry: variant.entry,
    name: `s${n}`,
    dataDir,
    secretFile: join(dir, 'secret'),
    socket: join(sockDir, `s${n}.sock`),
    port,
    join: join_,
    env: { CLUSTERD_COMPILE_CACHE: cacheDir }
  })
  watch.add(agent)
  live.add(agent)
  return agent
}

async function stop (agents: BenchAgent[]): Promise<void> {
  await Promise.all(agents.map(async a => { await a.stop(); live.delete(a) }))
}

async function measure (variant: { label: string, entry: string }): Promise<VariantResult> {
  const sockDir = join(dir, `sock-${variant.label}`)
  await mkdir(sockDir, { recursive: true, mode: 0o700 })
  const cacheDir = join(dir, `cache-${variant.label}`)
  const watch = new SocketWatch(sockDir)
  try {
    const quiet = await waitQuiet(QUIET_BUSY_FRACTION, QUIET_MAX_WAIT_MS)
    say(`${variant.label}: machine ${Math.round(quiet.busy * 100)} % busy by others (waited ${quiet.waitedMs} ms)`)

    const lone = async (keep: boolean): Promise<{ ms: number, cpuMs: number | null, rssMb: number | null, manager: boolean }> => {
      const a = await spawnAgent(variant, watch, sockDir, cacheDir, [], await freePort())
      try {
        const ms = await a.listening()
        if (!keep) return { ms, cpuMs: a.cpuMsAtListening, rssMb: null, manager: false }
        await idle()
        const m = await new ApiClient({ addr: a.socket, timeoutMs: 5000 }).manager().catch(() => null)
        return { ms, cpuMs: a.cpuMsAtListening, rssMb: a.rssMb(), manager: m?.name === a.name }
      } finally {
        await stop([a])
      }
    }
    const cold = await lone(false)
    say(`${variant.label}: cold compile cache ${Math.round(cold.ms)} ms`)
    const loneMs: number[] = []
    const loneCpu: number[] = []
    let loneIdle = { rssMb: null as number | null, manager: false }
    for (let i = 0; i < runs; i++) {
      const r = await lone(i === runs - 1)
      loneMs.push(r.ms)
      if (r.cpuMs !== null) loneCpu.push(r.cpuMs)
      if (i === runs - 1) loneIdle = { rssMb: r.rssMb, manager: r.manager }
    }
    say(`${variant.label}: lone ${loneMs.map(Math.round).join(' ')} ms; idle RSS ${String(loneIdle.rssMb)} MB (manager: ${String(loneIdle.manager)})`)

    const togetherMs: number[] = []
    const togetherCpu: number[] = []
    const rssOthers: number[] = []
    const rssManager: number[] = []
    const seen: number[] = []
    for (let round = 0; round < rounds && together > 0; round++) {
      const ports = await Promise.all(Array.from({ length: together }, async () => await freePort()))
      const agents: BenchAgent[] = []
      try {
        // Directories first, so the spawns themselves follow each other as closely as they can.
        const seedAddr = `127.0.0.1:${ports[0] as number}`
        const pending = ports.map(async (port, i) => await spawnAgent(variant, watch, sockDir, cacheDir, i === 0 ? [] : [seedAddr], port))
        agents.push(...await Promise.all(pending))
        const ms = await Promise.all(agents.map(async a => await a.listening()))
        togetherMs.push(...ms)
        for (const a of agents) if (a.cpuMsAtListening !== null) togetherCpu.push(a.cpuMsAtListening)
        await idle()
        const seedClient = new ApiClient({ addr: (agents[0] as BenchAgent).socket, timeoutMs: 5000 })
        const manager = (await seedClient.manager().catch(() => null))?.name ?? null
        seen.push((await seedClient.members().catch(() => [])).filter(m => m.status === 'alive').length)
        for (const a of agents) {
          const rss = a.rssMb()
          if (rss !== null) (a.name === manager ? rssManager : rssOthers).push(rss)
        }
        say(`${variant.label}: together round ${round + 1}: ${ms.map(Math.round).join(' ')} ms; manager ${String(manager)}; seed sees ${String(seen.at(-1))} alive`)
      } finally {
        await stop(agents)
      }
    }
    const r1 = (x: number | null): number | null => x === null ? null : Math.round(x * 10) / 10
    return {
      label: variant.label,
      entry: variant.entry,
      busyBefore: quiet.busy,
      coldMs: Math.round(cold.ms),
      lone: stats(loneMs),
      loneCpuMs: stats(loneCpu),
      loneIdleRssMb: loneIdle.rssMb,
      loneIsManager: loneIdle.manager,
      together: stats(togetherMs),
      togetherCpuMs: stats(togetherCpu),
      togetherIdleRssMb: { nonManagerMedian: r1(quantile(rssOthers, 0.5)), nonManagerMax: r1(quantile(rssOthers, 1)), manager: r1(quantile(rssManager, 0.5)) },
      togetherMembersSeen: seen
    }
  } finally {
    watch.close()
  }
}

/** The markdown table for docs/benchmarks.md. */
function table (results: VariantResult[]): string {
  const f = (x: number | null): string => x === null ? '-' : String(x)
  const lines = [
    `| variant | lone: spawn -> API, median / p90 (ms) | lone: CPU until API, median (ms) | cold compile cache (ms) | ${together} together: median / p90 / max (ms) | lone idle RSS (MB) | ${together} together: idle RSS, median / max, manager (MB) |`,
    '|---|---|---|---|---|---|---|'
  ]
  for (const r of results) {
    lines.push(`| ${r.label} | ${f(r.lone.median)} / ${f(r.lone.p90)} | ${f(r.loneCpuMs.median)} | ${r.coldMs} | ${f(r.together.median)} / ${f(r.together.p90)} / ${f(r.together.max)} | ${f(r.loneIdleRssMb)}${r.loneIsManager ? ' (manager)' : ''} | ${f(r.togetherIdleRssMb.nonManagerMedian)} / ${f(r.togetherIdleRssMb.nonManagerMax)}, ${f(r.togetherIdleRssMb.manager)} |`)
  }
  return lines.join('\n') + '\n'
}

const onSignal = (): void => { for (const a of live) a.proc.kill('SIGKILL'); process.exit(130) }
process.once('SIGINT', onSignal)
process.once('SIGTERM', onSignal)
try {
  say(`machine: ${JSON.stringify(machine)}`)
  await makeSecret(dir)
  const results: VariantResult[] = []
  for (const v of variants) results.push(await measure(v))
  process.stdout.write(table(results))
  process.stdout.write(JSON.stringify({
    bench: 'startup',
    targetMs: TARGET_MS,
    targetRssMb: TARGET_RSS_MB,
    machine,
    loadavg1AtEnd: machineInfo().loadavg1,
    runs,
    together,
    rounds,
    idleS,
    results,
    meetsTarget: Object.fromEntries(results.map(r => [r.label, {
      lone: r.lone.median === null ? null : r.lone.median <= TARGET_MS,
      rss: r.togetherIdleRssMb.nonManagerMedian === null ? null : r.togetherIdleRssMb.nonManagerMedian <= TARGET_RSS_MB
    }]))
  }) + '\n')
} finally {
  await stop([...live])
  await rm(dir, { recursive: true, force: true })
}
