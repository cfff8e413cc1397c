/**
 * Benchmark: lifecycle transitions persisted per second by the manager store on a real
 * LevelDB (each one durable, `sync: true`, record + snapshot + event in one batch).
 *
 * Two shapes: `sequential` awaits each transition before the next (one fsync each, the
 * worst case), `concurrent` keeps many in flight as a busy manager would (group commit).
 * Prints one JSON line. Usage: node dist/bench/store/transitions.js [--transitions N]
 * [--nodes N] [--concurrency N] [--dir PATH]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ManagerStore, type NodeCommand } from '../../manager/store/index.js'
import { benchArgs } from '../bench-args.js'

const TARGET_PER_SEC = 2000

const { values } = benchArgs({
  options: {
    transitions: { type: 'string', default: '20000' },
    nodes: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '64' },
    dir: { type: 'string' }
  }
})
const total = Number(values.transitions)
const nodeCount = Number(values.nodes)
const concurrency = Number(values.concurrency)

/** The n-th command of a node's endless commission/upgrade/decommission cycle. */
function command (node: string, n: number): NodeCommand {
  const round = Math.floor(n / 6)
  const job = `${node}-${round}`
  switch (n % 6) {
    case 0: return { type: 'COMMISSION', jobId: `${job}-c`, roles: ['web', 'monitoring'], vars: { region: 'eu-west', tier: 'gold' } }
    case 1: return { type: 'JOB_SUCCEEDED', jobId: `${job}-c` }
    case 2: return { type: 'UPGRADE', jobId: `${job}-u` }
    case 3: return { type: 'JOB_SUCCEEDED', jobId: `${job}-u` }
    case 4: return { type: 'DECOMMISSION', jobId: `${job}-d` }
    default: return { type: 'JOB_SUCCEEDED', jobId: `${job}-d` }
  }
}

async function run (store: ManagerStore, names: string[], count: number, parallel: number, counters: Map<string, number>): Promise<number> {
  let issued = 0
  const started = performance.now()
  // Each worker owns a slice of the nodes, so a node's commands stay in order.
  await Promise.all(Array.from({ length: parallel }, async (_, w) => {
    const mine = names.filter((_, i) => i % parallel === w)
    if (mine.length === 0) return
    for (let k = 0; issued < count; k++) {
      issued++
      const node = mine[k % mine.length] as string
      const n = counters.get(node) ?? 0
      counters.set(node, n + 1)
      const r = await store.applyTransition(node, command(node, n), { actor: 'operator' })
      if (!r.ok || !r.changed) throw new Error(`bench transition not applied: ${JSON.stringify(r)}`)
    }
  }))
  return count / ((performance.now() - started) / 1000)
}

const base = values.dir ?? await mkdtemp(join(tmpdir(), 'clusterd-bench-store-'))
const store = new ManagerStore({ logger: pino({ level: 'silent' }) }, { path: join(base, 'db') })
try {
  await store.start()
  const names = Array.from({ length: nodeCount }, (_, i) => `node-${String(i).padStart(4, '0')}`)
  for (const name of names) await store.upsertNode({ name, peerId: `peer-${name}`, reachable: true })
  const counters = new Map<string, number>()
  await run(store, names, 500, concurrency, counters) // warm-up
  const sequential = await run(store, names, Math.min(total, 3000), 1, counters)
  const concurrent = await run(store, names, total, concurrency, counters)
  const revision = store.revision
  await store.stop()
  // Restart cost: open, validate and restore every node's snapshot.
  const t0 = performance.now()
  await store.start()
  const restoreMs = performance.now() - t0
  process.stdout.write(JSON.stringify({
    bench: 'store-transitions',
    durable: true,
    nodes: nodeCount,
    concurrency,
    transitions: total,
    sequentialPerSec: Math.round(sequential),
    concurrentPerSec: Math.round(concurrent),
    targetPerSec: TARGET_PER_SEC,
    meetsTarget: concurrent >= TARGET_PER_SEC,
    revision,
    restoreMs: Math.round(restoreMs)
  }) + '\n')
} finally {
  await store.stop()
  if (values.dir === undefined) await rm(base, { recursive: true, force: true })
}
