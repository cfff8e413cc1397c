/**
 * Benchmark: retention of configuration revisions on real LevelDB. Stores `--revisions` revisions
 * of `--files` files each (`--unique` of them new in every revision, the rest shared, `--bytes`
 * each), then runs whole pruning passes with `retention.revisions.max-count` = `--keep` and the
 * default step limits (500 deletes a step): the first pass (it prunes), and a second one with
 * nothing left to prune (what every later pass pays for revisions: reading the kept headers and
 * every file key once). Prints one JSON line.
 * Usage: node dist/bench/store/revision-retention.js [--revisions N] [--files F] [--unique U] [--bytes B] [--keep K]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ManagerStore } from '../../manager/store/index.js'
import { DEFAULT_RETENTION, type PruneCursor } from '../../manager/store/retention.js'
import { benchArgs } from '../bench-args.js'

const { values } = benchArgs({
  options: {
    revisions: { type: 'string', default: '500' },
    files: { type: 'string', default: '108' },
    unique: { type: 'string', default: '2' },
    bytes: { type: 'string', default: '4096' },
    keep: { type: 'string', default: String(DEFAULT_RETENTION.revisionsMaxCount) }
  }
})
const N = Number(values.revisions)
const F = Number(values.files)
const U = Math.min(Number(values.unique), F)
const B = Number(values.bytes)
const K = Number(values.keep)
const silent = pino({ level: 'silent' })
const base = await mkdtemp(join(tmpdir(), 'clusterd-bench-revision-retention-'))

/** One whole pass: steps, keys deleted, the total and the longest step in ms. */
async function pass (store: ManagerStore): Promise<{ steps: number, deleted: number, ms: number, maxStepMs: number }> {
  const policy = { ...DEFAULT_RETENTION, revisionsMaxCount: K }
  let cursor: PruneCursor | null = { afterNode: '' }
  let steps = 0
  let deleted = 0
  let maxStepMs = 0
  const t0 = performance.now()
  while (cursor !== null && steps < 100_000) {
    const s0 = performance.now()
    const r: { deleted: number, next: PruneCursor | null } = await store.pruneStep(policy, cursor)
    maxStepMs = Math.max(maxStepMs, performance.now() - s0)
    steps++
    deleted += r.deleted
    cursor = r.next
  }
  const round = (x: number): number => Math.round(x * 10) / 10
  return { steps, deleted, ms: round(performance.now() - t0), maxStepMs: round(maxStepMs) }
}

const store = new ManagerStore({ logger: silent }, { path: join(base, 'db') })
try {
  await store.start()
  const file = (name: string, tag: string): { path: string, content: Buffer } => ({ path: name, content: Buffer.from(tag.padEnd(B - 1, '.') + '\n') })
  for (let r = 1; r <= N; r++) {
    const files = Array.from({ length: F }, (_, i) => i < U ? file(`changing-${i}.yml`, `revision ${r} file ${i}`) : file(`shared-${i}.yml`, `shared ${i}`))
    await store.addRevision({ files, roles: [], author: 'bench', message: `r${r}` })
  }
  const first = await pass(store)
  const kept = (await store.listRevisions()).length
  const steady = await pass(store)
  process.stdout.write(JSON.stringify({ revisions: N, files: F, unique: U, bytes: B, keep: K, kept, first, steady }) + '\n')
} finally {
  await store.stop()
  await rm(base, { recursive: true, force: true })
}
