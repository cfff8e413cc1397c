/**
 * Benchmark: `GET /v1/nodes` / `clusterctl nodes -o json` over 1,000 node records (target:
 * answers within 150 ms).
 *
 *   npm run bench:api -- [--nodes 1000] [--samples 300] [--cli-runs 20]
 *
 * A manager store is filled directly (ManagerStore on `<data-dir>/manager`), then a real
 * eligible agent opens it on 127.0.0.1 and becomes manager; a second, non-eligible agent
 * joins it. Measured: (a) the API call on the manager's own unix socket, (b) the same call
 * on the second agent's socket (forwarded to the manager over libp2p), (c) the whole
 * `clusterctl nodes -o json` process (Node start-up included) against each socket; plus a
 * bare `node -e 0` and `clusterctl --version` for the start-up floor. Before measuring it waits
 * (bounded) for a quiet machine and records how busy it was. Progress on stderr; stdout gets one JSON summary line.
 */
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { CLUSTERCTL, NODE, makeSecret, testDir } from '../../test/harness/agent-process.js'
import { waitFor } from '../../test/harness/poll.js'
import { run, runOk } from '../../test/harness/proc.js'
import { machineInfo, progress, summarize, type LatencySummary } from '../commission/stats.js'
import { waitQuiet } from '../commission/machine-load.js'
import { QUIET_BUSY_FRACTION, QUIET_MAX_WAIT_MS } from '../commission/constants.js'
import { DEFAULT_CLI_RUNS, DEFAULT_NODES, DEFAULT_SAMPLES, READY_TIMEOUT_MS, TARGET_MS, WARMUP_SAMPLES } from './constants.js'
import { LoopbackAgent } from './loopback-agent.js'
import { populateStore } from './populate.js'
import { benchArgs, benchUsageError } from '../bench-args.js'

const { values } = benchArgs({
  options: {
    nodes: { type: 'string', default: String(DEFAULT_NODES) },
    samples: { type: 'string', default: String(DEFAULT_SAMPLES) },
    'cli-runs': { type: 'string', default: String(DEFAULT_CLI_RUNS) }
  }
})
const num = (name: string, raw: string | undefined, lo: number, hi: number): number => {
  const n = Number(raw)
  if (!Number.isInteger(n) || n < lo || n > hi) benchUsageError(`--${name}: expected an integer in ${lo}..${hi}, got ${JSON.stringify(raw)}`)
  return n
}
const nodeCount = num('nodes', values.nodes, 1, 100_000)
const samples = num('samples', values.samples, 1, 100_000)
const cliRuns = num('cli-runs', values['cli-runs'], 1, 1000)

const machine = machineInfo()
const say = progress('bench:api', Date.now())

/** Times `samples` sequential `GET /v1/nodes` calls through the CLI's own client. */
async function apiSamples (agent: LoopbackAgent, expected: number): Promise<{ latency: LatencySummary, bytes: number }> {
  let bytes = 0
  for (let i = 0; i < WARMUP_SAMPLES; i++) await agent.client.request<NodeRecord[]>('GET', '/v1/nodes')
  const xs: number[] = []
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now()
    const nodes = await agent.client.request<NodeRecord[]>('GET', '/v1/nodes')
    xs.push(performance.now() - t0)
    if (nodes.length < expected) throw new Error(`GET /v1/nodes on ${agent.name} returned ${nodes.length} records, expected ${expected}`)
    if (i === 0) bytes = Buffer.byteLength(JSON.stringify(nodes))
  }
  return { latency: summarize(xs), bytes }
}

/** Times `cliRuns` whole `clusterctl nodes -o json` processes against `socket`. */
async function cliSamples (socket: string, expected: number): Promise<LatencySummary> {
  const xs: number[] = []
  for (let i = 0; i < cliRuns + 1; i++) {
    const t0 = performance.now()
    const r = await run([NODE, CLUSTERCTL, '--addr', socket, 'nodes', '-o', 'json'], { timeoutMs: 30_000 })
    const ms = performance.now() - t0
    if (r.code !== 0) throw new Error(`clusterctl nodes -o json exited ${String(r.code)}: ${r.stderr}`)
    const nodes = JSON.parse(r.stdout) as unknown[]
    if (nodes.length < expected) throw new Error(`clusterctl printed ${nodes.length} records, expected ${expected}`)
    if (i > 0) xs.push(ms) // the first run warms the page cache
  }
  return summarize(xs)
}

/** Times a process that makes no request: the start-up floor under any CLI call. */
async function startup (argv: string[]): Promise<LatencySummary> {
  const xs: number[] = []
  for (let i = 0; i < cliRuns + 1; i++) {
    const t0 = performance.now()
    await runOk(argv)
    if (i > 0) xs.push(performance.now() - t0)
  }
  return summarize(xs)
}

const dir = await testDir('bench-api')
const agents: LoopbackAgent[] = []
try {
  say(`machine: ${JSON.stringify(machine)}`)
  const secretFile = await makeSecret(dir)
  const sshKey = join(dir, 'manager_ed25519')
  await runOk(['/usr/bin/ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'clusterd-bench-api', '-f', sshKey])
  const dataDir = join(dir, 'mgr')
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const populated = await populateStore(join(dataDir, 'manager'), nodeCount)
  say(`store: ${JSON.stringify(populated)}`)

  const manager = await LoopbackAgent.start({ name: 'bench', dataDir, secretFile, socket: join(dir, 'm.sock'), eligible: true, sshKeyFile: sshKey })
  agents.push(manager)
  const t0 = performance.now()
  await waitFor(async () => (await manager.client.request<ManagerInfo>('GET', '/v1/manager'))?.name === 'bench' ? true : undefined,
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100, message: () => `the agent becoming manager:\n${manager.output.slice(-2000)}` })
  await waitFor(async () => (await manager.client.request<NodeRecord[]>('GET', '/v1/nodes')).length >= nodeCount ? true : undefined,
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100, message: 'the manager listing every record' })
  const managerReadyMs = Math.round(performance.now() - t0)
  say(`manager up with ${nodeCount} records after ${managerReadyMs} ms`)

  const fwdDir = join(dir, 'fwd')
  await mkdir(fwdDir, { recursive: true, mode: 0o700 })
  const forwarder = await LoopbackAgent.start({ name: 'bench-fwd', dataDir: fwdDir, secretFile, socket: join(dir, 'f.sock'), eligible: false, sshKeyFile: sshKey, join: [`127.0.0.1:${manager.port}`] })
  agents.push(forwarder)
  await waitFor(async () => (await forwarder.client.request<NodeRecord[]>('GET', '/v1/nodes')).length >= nodeCount ? true : undefined,
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 250, message: () => `the second agent forwarding to the manager:\n${forwarder.output.slice(-2000)}` })
  // Both agents present: the manager has discovered them too.
  const listed = await manager.client.request<NodeRecord[]>('GET', '/v1/nodes')
  const records = listed.length
  // The pre-written records have no agent behind them: a manager that reconciled them with
  // membership would list them unreachable.
  const members = new Set((await manager.client.members()).map(m => m.name))
  const reachableWithoutMember = listed.filter(n => n.reachable && !members.has(n.name)).length
  say(`forwarding agent ready; ${records} records listed, ${members.size} members, ${reachableWithoutMember} records reachable without a member`)

  const quiet = await waitQuiet(QUIET_BUSY_FRACTION, QUIET_MAX_WAIT_MS, agents.map(a => a.proc.pid as number))
  say(`other processes kept the CPUs ${quiet.busy * 100}% busy (waited ${quiet.waitedMs} ms for a quiet moment)`)
  say(`(a) ${samples} GET /v1/nodes on the manager's socket`)
  const direct = await apiSamples(manager, nodeCount)
  say(`(a) ${JSON.stringify(direct)}`)
  say(`(b) ${samples} GET /v1/nodes forwarded through a non-eligible agent`)
  const forwarded = await apiSamples(forwarder, nodeCount)
  say(`(b) ${JSON.stringify(forwarded)}`)
  say(`(c) ${cliRuns} x clusterctl nodes -o json, each socket`)
  const cliDirect = await cliSamples(manager.socket, nodeCount)
  const cliForwarded = await cliSamples(forwarder.socket, nodeCount)
  const nodeBare = await startup([NODE, '-e', '0'])
  const cliBare = await startup([NODE, CLUSTERCTL, '--version'])
  say(`(c) direct ${JSON.stringify(cliDirect)} forwarded ${JSON.stringify(cliForwarded)} node -e 0 ${JSON.stringify(nodeBare)} clusterctl --version ${JSON.stringify(cliBare)}`)

  const meets = (s: LatencySummary): boolean | null => s.p95 === null ? null : s.p95 <= TARGET_MS
  process.stdout.write(JSON.stringify({
    bench: 'api-nodes',
    targetMs: TARGET_MS,
    machine,
    loadavg1AtEnd: machineInfo().loadavg1,
    store: populated,
    records,
    members: members.size,
    reachableWithoutMember,
    responseBytes: direct.bytes,
    managerReadyMs,
    apiDirect: direct.latency,
    apiForwarded: forwarded.latency,
    cliDirect,
    cliForwarded,
    nodeStartup: nodeBare,
    clusterctlVersionStartup: cliBare,
    busyBefore: quiet.busy,
    meetsTarget: { apiDirect: meets(direct.latency), apiForwarded: meets(forwarded.latency), cliDirect: meets(cliDirect), cliForwarded: meets(cliForwarded) }
  }) + '\n')
} finally {
  await Promise.allSettled(agents.map(async a => { await a.stop() }))
  await rm(dir, { recursive: true, force: true })
}
