/**
 * Benchmark: the cost of one Prometheus scrape of `GET /metrics`.
 *
 *   node dist/bench/metrics/scrape.js [--nodes 1000] [--samples 200]
 *
 * (a) A manager store is filled with `--nodes` node records (bench/api/populate.ts), a real
 *     eligible agent opens it on 127.0.0.1 and becomes manager; `/metrics` is fetched over its
 *     unix socket `--samples` times in a row: ms per scrape (client's view, HTTP included) and
 *     bytes per scrape.
 * (b) In process, the registry alone (agent/metrics/agent-metrics.ts) over synthetic views of
 *     10, 1,000 and 10,000 members and as many node records: render ms and bytes, to show
 *     what grows with the cluster (only `clusterd_members` and `clusterd_nodes` read per-member
 *     or per-node state, and both are a count by status or state, a fixed number of series).
 * Progress on stderr; stdout gets one JSON summary line.
 */
import { once } from 'node:events'
import { mkdir, rm } from 'node:fs/promises'
import { request, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js'
import type { MemberStatus } from '../../protocol/members.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import { makeSecret, testDir } from '../../test/harness/agent-process.js'
import { waitFor } from '../../test/harness/poll.js'
import { runOk } from '../../test/harness/proc.js'
import { LoopbackAgent } from '../api/loopback-agent.js'
import { populateStore } from '../api/populate.js'
import { machineInfo, progress, summarize, type LatencySummary } from '../commission/stats.js'
import { benchArgs, benchUsageError } from '../bench-args.js'

const { values } = benchArgs({ options: { nodes: { type: 'string', default: '1000' }, samples: { type: 'string', default: '200' } } })
const nodeCount = Number(values.nodes)
const samples = Number(values.samples)
if (!Number.isInteger(nodeCount) || nodeCount < 1 || !Number.isInteger(samples) || samples < 1) benchUsageError('--nodes and --samples take positive integers')
const say = progress('bench:metrics', Date.now())

/** GET `path` on a unix socket: status and body. */
async function get (socketPath: string, path: string): Promise<{ status: number, text: string }> {
  const req = request({ socketPath, path, agent: false })
  req.end()
  const [res] = await once(req, 'response') as [IncomingMessage]
  let text = ''
  for await (const chunk of res) text += String(chunk)
  return { status: res.statusCode ?? 0, text }
}

/** (a): scrapes of a real manager agent. */
async function realAgent (dir: string): Promise<{ latency: LatencySummary, bytes: number, series: number, populated: unknown }> {
  const secretFile = await makeSecret(dir)
  const sshKey = join(dir, 'manager_ed25519')
  await runOk(['/usr/bin/ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'clusterd-bench-metrics', '-f', sshKey])
  const dataDir = join(dir, 'mgr')
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const populated = await populateStore(join(dataDir, 'manager'), nodeCount)
  say(`store: ${JSON.stringify(populated)}`)
  const socket = join(dir, 'm.sock')
  const agent = await LoopbackAgent.start({ name: 'bench', dataDir, secretFile, socket, eligible: true, sshKeyFile: sshKey })
  try {
    await waitFor(async () => (await agent.client.request<ManagerInfo>('GET', '/v1/manager'))?.local === true ? true : undefined,
      { timeoutMs: 120_000, intervalMs: 100, message: () => `the agent becoming manager:\n${agent.output.slice(-2000)}` })
    await waitFor(async () => (await get(socket, '/readyz')).status === 200 ? true : undefined, { timeoutMs: 60_000, message: 'the agent ready' })
    // The manager's figures must show the whole store before timing.
    await waitFor(async () => {
      const text = (await get(socket, '/metrics')).text
      const total = [...text.matchAll(/^clusterd_nodes\{state="[^"]+"\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0)
      // The agent itself is discovered as one more record.
      return total >= nodeCount ? true : undefined
    }, { timeoutMs: 60_000, message: 'the manager reporting every node record' })
    for (let i = 0; i < 10; i++) await get(socket, '/metrics')
    const xs: number[] = []
    let bytes = 0
    let series = 0
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now()
      const r = await get(socket, '/metrics')
      xs.push(performance.now() - t0)
      if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`)
      bytes = Buffer.byteLength(r.text)
      series = r.text.split('\n').filter(l => l !== '' && !l.startsWith('#')).length
    }
    return { latency: summarize(xs), bytes, series, populated }
  } finally {
    await agent.stop()
  }
}

/** (b): the registry alone over a synthetic view of `n` members and `n` node records. */
async function registryAlone (n: number): Promise<{ members: number, latency: LatencySummary, bytes: number }> {
  const statuses: MemberStatus[] = ['alive', 'alive', 'alive', 'alive', 'alive', 'alive', 'alive', 'suspect', 'failed', 'left']
  const members = Array.from({ length: n }, (_, i) => ({ peerId: `peer-${i}`, status: statuses[i % statuses.length] as MemberStatus }))
  const replicas = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`replica-${i}`, 1000 - i]))
  const m = new AgentMetrics({
    members: () => members,
    membershipStats: () => ({ probes: 1, acks: 1, suspicions: 1 }),
    datagramStats: () => ({ sent: 1, sentBytes: 1, sendErrors: 0, socketErrors: 0, received: 1, receivedBytes: 1, handlerErrors: 0, senders: 1, dropped: { oversized: 0, malformed: 0, auth: 0, stale: 0, replayed: 0, reflected: 0, senderLimit: 0 } }),
    epoch: () => 3,
    manager: () => ({ name: 'm', peerId: 'p', epoch: 3, since: '', local: true }),
    leaseStats: () => [],
    storeRevision: () => 1000,
    storeBytes: async () => 1 << 20,
    // The real manager counts its committed records by state on every scrape: the same loop.
    managerFigures: () => {
      const byState: Record<string, number> = {}
      for (let i = 0; i < n; i++) { const s = i % 3 === 0 ? 'commissioned' : 'discovered'; byState[s] = (byState[s] ?? 0) + 1 }
      return { storeRevision: 1000, nodesByState: byState, replicas, replicationAcks: 5, underReplicated: 0, jobsActive: 0 }
    },
    eventLoop: () => ({ worstLagMs: 0, sinceTickMs: 0, ticks: 1 })
  }, { version: 'bench', nodeName: 'bench' })
  for (const kind of ['commission', 'upgrade', 'verify'] as const) for (const status of ['succeeded', 'failed'] as const) m.jobFinished(kind, status, 30)
  for (let i = 0; i < 20; i++) await m.render()
  const xs: number[] = []
  let bytes = 0
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now()
    bytes = Buffer.byteLength((await m.render()).text)
    xs.push(performance.now() - t0)
  }
  return { members: n, latency: summarize(xs), bytes }
}

const dir = await testDir('bench-metrics')
try {
  const machine = machineInfo()
  say(`machine: ${JSON.stringify(machine)}`)
  const inProcess = []
  for (const n of [10, 1000, 10_000]) {
    const r = await registryAlone(n)
    say(`(b) registry alone, ${n} members and records: ${JSON.stringify(r)}`)
    inProcess.push(r)
  }
  const real = await realAgent(dir)
  say(`(a) real manager agent, ${nodeCount} records: ${JSON.stringify(real)}`)
  process.stdout.write(JSON.stringify({ bench: 'metrics-scrape', at: new Date().toISOString(), machine, nodes: nodeCount, realAgent: real, registryAlone: inProcess }) + '\n')
} finally {
  await rm(dir, { recursive: true, force: true })
}
