/**
 * Benchmark: backup and restore of the manager store at fleet size, on real LevelDB.
 *
 * 1. Populate: N node records (default 1,000) with E lifecycle events each, J finished jobs
 *    with 20 progress events each.
 * 2. Backup: `clusterctl backup`'s code (cli/commands/backup.ts) against the real API server
 *    serving `GET /v1/backup` over a unix socket: time, file bytes, entries; and the same while
 *    a writer keeps writing (the snapshot stays one revision; how many writes went on).
 * 3. Restore: `clusterd store restore`'s code (read, verify, validate, import, swap) into a
 *    data directory holding another store: time.
 *
 * Prints one JSON line. Usage: node dist/bench/store/backup.js [--nodes N] [--events E] [--jobs J]
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ApiServer } from '../../agent/api/server.js'
import { restoreStore } from '../../agent/replica/restore-command.js'
import { ApiClient } from '../../cli/client.js'
import { writeBackup } from '../../cli/commands/backup.js'
import { managerRoutes } from '../../manager/api/manager-routes.js'
import type { JobService } from '../../manager/jobs/job-service.js'
import { ManagerStore } from '../../manager/store/index.js'
import { MANAGER_ROUTES, type ManagerRouteName } from '../../protocol/api-routes.js'
import type { JobRecord } from '../../protocol/jobs.js'
import { benchArgs } from '../bench-args.js'

const { values } = benchArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    events: { type: 'string', default: '5' },
    jobs: { type: 'string', default: '1000' }
  }
})
const N = Number(values.nodes)
const E = Number(values.events)
const J = Number(values.jobs)
const silent = pino({ level: 'silent' })
const base = await mkdtemp(join(tmpdir(), 'clusterd-bench-backup-'))
const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10

function finishedJob (i: number): JobRecord {
  const at = new Date(Date.parse('2026-11-01T00:00:00.000Z') + i * 60_000).toISOString()
  const node = `node-${String(i % N).padStart(5, '0')}`
  return { id: `job-${i}`, kind: 'verify', nodes: [node], roles: [], vars: {}, status: 'succeeded', createdAt: at, startedAt: at, finishedAt: at, timeoutAt: at, reason: null, perNode: { [node]: { outcome: 'ok', ok: 12, changed: 0, failed: 0 } }, epoch: 1 }
}

async function inParallel (count: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < count; i += 2000) await Promise.all(Array.from({ length: Math.min(2000, count - i) }, async (_, k) => await fn(i + k)))
}

const out: Record<string, unknown> = { bench: 'store-backup', nodes: N, eventsPerNode: E, finishedJobs: J }
const store = new ManagerStore({ logger: silent }, { path: join(base, 'manager-src') })
const server = new ApiServer({ logger: silent }, { socketPath: join(base, 'api.sock') })
try {
  await store.start()
  const t0 = performance.now()
  const names = Array.from({ length: N }, (_, i) => `node-${String(i).padStart(5, '0')}`)
  await inParallel(N, async i => await store.upsertNode({ name: names[i] as string, peerId: `peer-${i}`, reachable: true }))
  for (let e = 1; e < E; e++) await inParallel(N, async i => await store.noteNode(names[i] as string, { type: 'drift-checked', actor: 'operator', reason: `check ${e}` }))
  await inParallel(J, async i => await store.putJob(finishedJob(i)))
  await inParallel(J, async i => await store.appendJobEvents(`job-${i}`, Array.from({ length: 20 }, (_, k) => ({ kind: 'task-ok', node: finishedJob(i).nodes[0], task: `task ${k}` }) as never)))
  out.populateMs = ms(t0)
  out.revision = store.revision

  const handlers = managerRoutes({
    store,
    jobs: {} as JobService,
    members: () => [],
    backup: { openSnapshot: async max => await store.openSnapshot(max), source: () => ({ peerId: 'bench', epoch: 1 }) }
  })
  for (const [name, r] of Object.entries(MANAGER_ROUTES)) server.route(r.method, r.pattern, handlers[name as ManagerRouteName])
  await server.start()
  const client = new ApiClient({ addr: join(base, 'api.sock'), timeoutMs: 60_000 })

  const file = join(base, 'cluster.backup')
  const t1 = performance.now()
  const idle = await writeBackup(client, file)
  out.backupMs = ms(t1)
  out.backupEntries = idle.entries
  out.backupBytes = (await stat(file)).size

  // The same while a writer keeps writing: the file is still the revision the stream started at.
  let writing = true
  let writes = 0
  const writer = (async () => { while (writing) { await store.setConfig('vars', { n: String(writes++) }) } })()
  const t2 = performance.now()
  const busy = await writeBackup(client, join(base, 'busy.backup'))
  out.backupUnderWritesMs = ms(t2)
  writing = false
  await writer
  out.writesDuringBackup = writes
  out.busyBackupRevision = busy.revision

  const dataDir = join(base, 'data')
  const other = new ManagerStore({ logger: silent }, { path: join(dataDir, 'manager') })
  await other.start()
  await other.upsertNode({ name: 'other', peerId: 'px', reachable: true })
  await other.stop()
  const t3 = performance.now()
  await restoreStore(silent, { dataDir, file })
  out.restoreMs = ms(t3)
  const restored = new ManagerStore({ logger: silent }, { path: join(dataDir, 'manager') })
  await restored.start()
  out.restoredRevision = restored.revision
  out.restoredNodes = restored.nodeCount
  await restored.stop()
  out.rssMiB = Math.round(process.memoryUsage().rss / 1048576)
} finally {
  await server.stop().catch(() => {})
  await store.stop().catch(() => {})
  await rm(base, { recursive: true, force: true })
}
process.stdout.write(JSON.stringify(out) + '\n')
