/**
 * Benchmark: the manager store at fleet size, on real LevelDB and (for replication) real
 * libp2p nodes on loopback in this process.
 *
 * 1. Populate: N node records (default 10,000) with E lifecycle events each, J finished jobs
 *    with their progress events.
 * 2. `GET /v1/nodes` paging: the route handler (manager-routes.ts) plus JSON encoding, per
 *    page, over every page of the fleet; and the unpaged form for comparison.
 * 3. Snapshot: one replica takes the whole store as chunked frames over libp2p: time, frames,
 *    largest frame.
 * 4. Replication cost per write vs. eligible members (1, 2, 4, 8, 16 replicas, on a small
 *    store): frames on the write path per write, background frames per write, ack latency.
 * 5. Retention: keys, live bytes and disk bytes before and after a pass, steps and the
 *    largest step.
 *
 * Prints one JSON line. Usage: node dist/bench/store/fleet.js [--nodes N] [--events E]
 * [--jobs J] [--writes W] [--members 1,2,4,8,16]
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { pino } from 'pino'
import { createClusterNode, type ClusterNode } from '../../agent/libp2p/create-node.js'
import { Replica } from '../../agent/replica/replica.js'
import { generateSecret } from '../../agent/transport/secret.js'
import { managerRoutes } from '../../manager/api/manager-routes.js'
import type { JobService } from '../../manager/jobs/job-service.js'
import { Replicator } from '../../manager/replication/replicator.js'
import { ManagerStore } from '../../manager/store/index.js'
import type { RetentionPolicy } from '../../manager/store/retention.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { Member } from '../../protocol/members.js'
import type { NodesPage } from '../../protocol/nodes.js'
import { encodeReplicationMessage } from '../../protocol/replication-wire.js'
import type { JobRecord } from '../../protocol/jobs.js'
import { benchArgs } from '../bench-args.js'

const { values } = benchArgs({
  options: {
    nodes: { type: 'string', default: '10000' },
    events: { type: 'string', default: '5' },
    jobs: { type: 'string', default: '3000' },
    writes: { type: 'string', default: '200' },
    members: { type: 'string', default: '1,2,4,8,16' },
    page: { type: 'string', default: '500' }
  }
})
const N = Number(values.nodes)
const E = Number(values.events)
const J = Number(values.jobs)
const W = Number(values.writes)
const PAGE = Number(values.page)
const MEMBERS = (values.members ?? '').split(',').map(Number)
const silent = pino({ level: 'silent' })
const psk = generateSecret()
const base = await mkdtemp(join(tmpdir(), 'clusterd-bench-fleet-'))
let dirNo = 0
const newDir = (): string => join(base, `d${dirNo++}`)

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0 }

async function diskBytes (path: string): Promise<number> {
  let n = 0
  for (const f of await readdir(path)) n += (await stat(join(path, f))).size
  return n
}

async function liveBytes (store: ManagerStore): Promise<{ keys: number, bytes: number }> {
  const snap = await store.openSnapshot(1024 * 1024)
  let keys = 0
  let bytes = 0
  for await (const chunk of snap.chunks) for (const e of chunk) { keys++; bytes += e.key.length + JSON.stringify(e.value).length }
  return { keys, bytes }
}

function finishedJob (i: number): JobRecord {
  const at = new Date(Date.parse('2026-11-01T00:00:00.000Z') + i * 60_000).toISOString()
  const node = `node-${String(i % N).padStart(5, '0')}`
  return { id: `job-${i}`, kind: 'verify', nodes: [node], roles: [], vars: {}, status: 'succeeded', createdAt: at, startedAt: at, finishedAt: at, timeoutAt: at, reason: null, perNode: { [node]: { outcome: 'ok', ok: 12, changed: 0, failed: 0 } }, epoch: 1 }
}

async function populate (store: ManagerStore, nodes: number, events: number, jobs: number): Promise<number> {
  const t0 = performance.now()
  const names = Array.from({ length: nodes }, (_, i) => `node-${String(i).padStart(5, '0')}`)
  const inParallel = async (count: number, fn: (i: number) => Promise<unknown>): Promise<void> => {
    for (let i = 0; i < count; i += 2000) await Promise.all(Array.from({ length: Math.min(2000, count - i) }, async (_, k) => await fn(i + k)))
  }
  await inParallel(nodes, async i => await store.upsertNode({ name: names[i] as string, peerId: `peer-${i}`, reachable: true }))
  for (let e = 1; e < events; e++) await inParallel(nodes, async i => await store.noteNode(names[i] as string, { type: 'drift-checked', actor: 'operator', reason: `check ${e}` }))
  await inParallel(jobs, async i => await store.putJob(finishedJob(i)))
  await inParallel(jobs, async i => await store.appendJobEvents(`job-${i}`, Array.from({ length: 20 }, (_, k) => ({ kind: 'task-ok', node: finishedJob(i).nodes[0], task: `task ${k}` }) as never)))
  return ms(t0)
}

async function newNode (): Promise<ClusterNode> {
  return await createClusterNode({ privateKey: await generateKeyPair('Ed25519'), psk, listen: '/ip4/127.0.0.1/tcp/0', announce: [] })
}

function member (node: ClusterNode): Member {
  return { name: node.peerId.toString().slice(-6), peerId: node.peerId.toString(), addresses: [], status: 'alive', incarnation: 1, labels: {}, facts: null, boot: null, managerEligible: true, lastSeen: new Date().toISOString() }
}

/** A manager node and `count` replica nodes, each replica on its own LevelDB. */
async function cluster (count: number, info: () => ManagerInfo | null): Promise<{ manager: ClusterNode, replicas: Replica[], nodes: ClusterNode[] }> {
  const manager = await newNode()
  const nodes: ClusterNode[] = []
  const replicas: Replica[] = []
  for (let i = 0; i < count; i++) {
    const node = await newNode()
    await manager.dial(node.getMultiaddrs())
    const path = newDir()
    const r = new Replica({ libp2p: node, election: { manager: info }, logger: silent, openStore: () => new ManagerStore({ logger: silent }, { path }) }, { electionWaitMs: 200 })
    await r.start()
    nodes.push(node)
    replicas.push(r)
  }
  return { manager, replicas, nodes }
}

async function waitUntil (cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!cond() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
  return cond()
}

const out: Record<string, unknown> = { bench: 'store-fleet', nodes: N, eventsPerNode: E, finishedJobs: J }
const stops: Array<() => Promise<void>> = []
try {
  // 1. Populate.
  const storePath = newDir()
  const store = new ManagerStore({ logger: silent }, { path: storePath })
  await store.start()
  stops.push(async () => { await store.stop() })
  out.populateMs = await populate(store, N, E, J)
  out.revision = store.revision

  // 2. Paging.
  const routes = managerRoutes({ store, jobs: {} as JobService, members: () => [] })
  const call = async (query: Record<string, string>): Promise<unknown> => await routes.listNodes({ query, params: {}, body: undefined } as never)
  const pageMs: number[] = []
  let pageBytes = 0
  let after: string | null = ''
  let pages = 0
  for (let warm = 0; warm < 2; warm++) {
    after = ''
    pages = 0
    pageMs.length = 0
    while (after !== null && pages < 10_000) {
      const t0 = performance.now()
      const page = await call({ limit: String(PAGE), after }) as NodesPage
      const text = JSON.stringify(page)
      pageMs.push(performance.now() - t0)
      pageBytes = Math.max(pageBytes, text.length)
      after = page.next
      pages++
    }
  }
  const t0 = performance.now()
  const all = JSON.stringify(await call({}))
  out.paging = { pageSize: PAGE, pages, pageMsMedian: Math.round(pct(pageMs, 0.5) * 100) / 100, pageMsP99: Math.round(pct(pageMs, 0.99) * 100) / 100, pageBytes, wholeListMs: ms(t0), wholeListBytes: all.length }

  // 5a. Retention, before: sizes.
  const before = await liveBytes(store)
  const beforeDisk = await diskBytes(storePath)

  // 3. Snapshot to one replica over libp2p.
  let info: ManagerInfo | null = null
  const one = await cluster(1, () => info)
  stops.push(async () => { for (const r of one.replicas) await r.stop(); await Promise.allSettled([one.manager.stop(), ...one.nodes.map(async n => { await n.stop() })]) })
  info = { name: 'm', peerId: one.manager.peerId.toString(), epoch: 1, since: new Date().toISOString(), local: false }
  let frameMax = 0
  const snapReplicator = new Replicator({
    libp2p: one.manager,
    logger: silent,
    members: () => one.nodes.map(member),
    openSnapshot: async n => {
      const snap = await store.openSnapshot(n)
      async function * measured (): AsyncGenerator<Array<{ key: string, value: unknown }>> {
        for await (const c of snap.chunks) {
          frameMax = Math.max(frameMax, encodeReplicationMessage({ t: 'chunk', epoch: 1, id: 'x', seq: 0, revision: 0, entries: c, done: false }).byteLength)
          yield c
        }
      }
      return { revision: snap.revision, chunks: measured() }
    },
    revision: () => store.revision,
    merge: async () => {}
  }, { selfPeerId: one.manager.peerId.toString(), epoch: 1, snapshotTimeoutMs: 60_000 })
  const s0 = performance.now()
  snapReplicator.start()
  const synced = await waitUntil(() => one.replicas[0]?.revision === store.revision, 600_000)
  out.snapshot = { ok: synced, ms: ms(s0), frames: snapReplicator.stats().snapshotChunks, largestFrameBytes: frameMax, liveBytes: before.bytes, keys: before.keys }
  await snapReplicator.stop()

  // 5b. Retention pass.
  const policy: RetentionPolicy = { jobsMaxCount: 1000, jobsMaxAgeS: 365 * 86_400, eventsMaxPerNode: 2, eventsMaxAgeS: 365 * 86_400 }
  const r0 = performance.now()
  let cursor: { afterNode: string } | null = { afterNode: '' }
  let steps = 0
  let deleted = 0
  let largestStep = 0
  while (cursor !== null && steps < 100_000) {
    const r: { deleted: number, next: { afterNode: string } | null } = await store.pruneStep(policy, cursor)
    deleted += r.deleted
    largestStep = Math.max(largestStep, r.deleted)
    cursor = r.next
    steps++
  }
  const afterLive = await liveBytes(store)
  out.retention = { policy, ms: ms(r0), steps, deleted, largestStepDeletes: largestStep, keysBefore: before.keys, keysAfter: afterLive.keys, liveBytesBefore: before.bytes, liveBytesAfter: afterLive.bytes, diskBytesBefore: beforeDisk, diskBytesAfterPass: await diskBytes(storePath) }

  // 4. Replication cost per write vs. eligible members, on a small store.
  const perMembers: unknown[] = []
  for (const m of MEMBERS) {
    let minfo: ManagerInfo | null = null
    const c = await cluster(m, () => minfo)
    minfo = { name: 'm', peerId: c.manager.peerId.toString(), epoch: 1, since: new Date().toISOString(), local: false }
    let replicator: Replicator | null = null
    const small = new ManagerStore({ logger: silent, afterCommit: async b => { await replicator?.replicate(b) } }, { path: newDir() })
    replicator = new Replicator({ libp2p: c.manager, logger: silent, members: () => c.nodes.map(member), openSnapshot: async n => await small.openSnapshot(n), revision: () => small.revision, merge: async () => {} }, { selfPeerId: c.manager.peerId.toString(), epoch: 1, syncIntervalMs: 200 })
    await small.start()
    replicator.start()
    await small.setConfig('warm', 0)
    await waitUntil(() => c.replicas.every(r => r.revision === small.revision), 30_000)
    const st0 = replicator.stats()
    const lat: number[] = []
    const w0 = performance.now()
    for (let i = 0; i < W; i++) {
      const t = performance.now()
      await small.setConfig(`k${i % 50}`, i)
      lat.push(performance.now() - t)
    }
    const writeMs = performance.now() - w0
    const caughtUp = await waitUntil(() => c.replicas.every(r => r.revision === small.revision), 60_000)
    const st = replicator.stats()
    perMembers.push({
      eligible: m,
      writeSendsPerWrite: Math.round((st.writeSends - st0.writeSends) / W * 100) / 100,
      backgroundFramesPerWrite: Math.round((st.deltaSends - st0.deltaSends) / W * 100) / 100,
      snapshots: st.snapshots - st0.snapshots,
      ackMsMedian: Math.round(pct(lat, 0.5) * 100) / 100,
      ackMsP99: Math.round(pct(lat, 0.99) * 100) / 100,
      writesPerSec: Math.round(W / (writeMs / 1000)),
      allCaughtUp: caughtUp
    })
    await replicator.stop()
    await small.stop()
    for (const r of c.replicas) await r.stop()
    await Promise.allSettled([c.manager.stop(), ...c.nodes.map(async n => { await n.stop() })])
  }
  out.replication = perMembers
  process.stdout.write(JSON.stringify(out) + '\n')
} finally {
  for (const s of stops.reverse()) await s().catch(() => {})
  await rm(base, { recursive: true, force: true })
}
