/**
 * Benchmark: what the log ring and the support bundle cost, in process (no agents).
 *
 *   node dist/bench/logs/ring.js [--lines 200000] [--agents 64]
 *
 * (a) A pino logger writing `--lines` typical lines (a component child, three fields) to a
 *     discarding sink, without and with the ring (agent/diagnostics/log-ring.ts) in between:
 *     ns per line; the difference is what the ring adds to every log call. Then the readable
 *     formatter (protocol/log-lines.ts) alone: ns per line.
 * (b) The bundle of `--agents` agents each with a full ring of 1,000 lines of that kind and a
 *     100-member view, collected from a fake client (no network) through redaction, the ustar
 *     writer and gzip into memory: ms and bytes, i.e. clusterctl's own cost per bundle.
 * Progress on stderr; stdout gets one JSON summary line.
 */
import { performance } from 'node:perf_hooks'
import { createGzip } from 'node:zlib'
import { pino } from 'pino'
import { LogRing } from '../../agent/diagnostics/log-ring.js'
import { COLLECT_DEFAULTS, collectSupportBundle, type BundleClient } from '../../cli/support-bundle.js'
import { tarEnd, tarFile } from '../../cli/tar-writer.js'
import type { AgentDiagnostics } from '../../protocol/diagnostics.js'
import { formatLogLine } from '../../protocol/log-lines.js'
import type { Member } from '../../protocol/members.js'
import { machineInfo, progress } from '../commission/stats.js'
import { benchArgs, benchUsageError } from '../bench-args.js'

const { values } = benchArgs({ options: { lines: { type: 'string', default: '200000' }, agents: { type: 'string', default: '64' } } })
const lineCount = Number(values.lines)
const agentCount = Number(values.agents)
if (!Number.isInteger(lineCount) || lineCount < 1 || !Number.isInteger(agentCount) || agentCount < 1) benchUsageError('--lines and --agents take positive integers')
const say = progress('bench:logs', Date.now())

/** ns per line of `lineCount` log calls through `dest`. */
function logCost (dest: { write: (s: string) => void }): number {
  const logger = pino({ base: { node: 'node-0042' } }, dest).child({ component: 'membership' })
  for (let i = 0; i < 5000; i++) logger.info({ peer: '12D3KooWAbc', incarnation: i, status: 'alive' }, 'member updated')
  const t0 = performance.now()
  for (let i = 0; i < lineCount; i++) logger.info({ peer: '12D3KooWAbc', incarnation: i, status: 'alive' }, 'member updated')
  return (performance.now() - t0) * 1e6 / lineCount
}

let sample = ''
const plain = logCost({ write: s => { sample = s } })
const ring = new LogRing(() => {})
const ringed = logCost(ring)
say(`pino alone ${plain.toFixed(0)} ns/line, with the ring ${ringed.toFixed(0)} ns/line`)
const t1 = performance.now()
let chars = 0
for (let i = 0; i < lineCount; i++) chars += formatLogLine(sample).length
const pretty = (performance.now() - t1) * 1e6 / lineCount
say(`readable formatting ${pretty.toFixed(0)} ns/line (${chars / lineCount} chars)`)

// (b) A bundle of agentCount agents with full rings.
const lines = ring.tail(0, 1000)
const members: Member[] = Array.from({ length: 100 }, (_, i) => ({ name: `node-${String(i).padStart(4, '0')}`, peerId: `12D3KooW${i}`, addresses: ['/ip4/10.0.0.1/tcp/7946'], status: 'alive', incarnation: 1, labels: {}, facts: null, boot: null, managerEligible: i < 3, lastSeen: new Date().toISOString() }))
const diagnosticsOf = (node: string): AgentDiagnostics => ({
  node, peerId: `peer-${node}`, version: '0.1.0', runtime: process.version, pid: 1, startedAt: 'x', collectedAt: 'y', config: { nodeName: node },
  manager: null, epoch: 1, replica: { role: 'replica', revision: 10, syncedEpoch: 1 }, lease: { highestEpoch: 1, lease: null, leaseFile: '/x' },
  members: { total: members.length, byStatus: { alive: members.length }, list: members.map(m => ({ name: m.name, peerId: m.peerId, status: m.status, incarnation: 1, managerEligible: m.managerEligible, lastSeen: m.lastSeen })), truncated: 0 },
  logs: { node, peerId: `peer-${node}`, lines, oldest: 1, newest: lines.length }
})
const fleet = Array.from({ length: agentCount }, (_, i) => ({ ...members[0] as Member, name: `agent-${i}`, peerId: `p${i}` }))
const client = {
  secretValues: () => ['bench-token-0123456789'],
  diagnostics: async (node?: string) => diagnosticsOf(node ?? 'agent-0'),
  members: async () => fleet,
  nodes: async () => [],
  events: async () => [],
  jobs: async () => [],
  jobEvents: async () => [],
  config: async () => ({})
} as unknown as BundleClient
const gzip = createGzip()
let bytes = 0
gzip.on('data', (c: Buffer) => { bytes += c.length })
const t2 = performance.now()
const manifest = await collectSupportBundle(client, async f => { gzip.write(tarFile({ path: `b/${f.path}`, mode: 0o600, mtime: new Date() }, f.data)) }, { ...COLLECT_DEFAULTS, maxAgents: agentCount }, () => {})
await new Promise<void>(resolve => { gzip.end(tarEnd(), resolve) })
const bundleMs = performance.now() - t2
say(`bundle of ${manifest.agents.answered.length} agents: ${bundleMs.toFixed(0)} ms, ${bytes} bytes gzipped`)
process.stdout.write(JSON.stringify({
  machine: machineInfo(),
  lines: lineCount,
  pinoNsPerLine: Math.round(plain),
  withRingNsPerLine: Math.round(ringed),
  ringAddsNsPerLine: Math.round(ringed - plain),
  prettyNsPerLine: Math.round(pretty),
  bundle: { agents: manifest.agents.answered.length, linesPerAgent: lines.length, ms: Math.round(bundleMs), gzipBytes: bytes }
}) + '\n')
