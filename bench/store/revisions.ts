/**
 * Benchmark: configuration revisions at their size limit, on real LevelDB and real files.
 *
 * A playbook directory of the shipped playbooks plus filler files up to about the push limit
 * (640 KiB): reading it (`roles push`'s client side), a push (write to a scratch directory,
 * roles.yaml's checks, one store write), a job's view of it cold (materialised from the
 * store's blobs) and warm (the directory re-hashed), and a diff of a 5,000-line file with 100
 * changed lines. Each step runs `--rounds` times; the median is printed. Prints one JSON line.
 * Usage: node dist/bench/store/revisions.js [--rounds R]
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { diffFile } from '../../manager/revisions/revision-diff.js'
import { Revisions } from '../../manager/revisions/revisions.js'
import { shippedPlaybookDir } from '../../manager/roles/shipped.js'
import { ManagerStore } from '../../manager/store/index.js'
import { readRevisionDir } from '../../protocol/revision-dir.js'
import { MAX_REVISION_BYTES } from '../../protocol/revisions.js'
import { benchArgs } from '../bench-args.js'

const { values } = benchArgs({ options: { rounds: { type: 'string', default: '5' } } })
const R = Number(values.rounds)
const silent = pino({ level: 'silent' })
const base = await mkdtemp(join(tmpdir(), 'clusterd-bench-revisions-'))
const median = (xs: number[]): number => Math.round(([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number) * 10) / 10
const time = async (fn: () => Promise<unknown>): Promise<number> => { const t0 = performance.now(); await fn(); return performance.now() - t0 }

const store = new ManagerStore({ logger: silent }, { path: join(base, 'db') })
try {
  await store.start()
  const revisions = new Revisions({ store, logger: silent }, { dir: join(base, 'revisions') })
  const dir = join(base, 'playbooks')
  await cp(shippedPlaybookDir(), dir, { recursive: true })
  const filler = 100
  const fillerBytes = Math.floor((MAX_REVISION_BYTES - 64 * 1024) / filler)
  for (let i = 0; i < filler; i++) await writeFile(join(dir, `filler-${i}.txt`), 'x'.repeat(fillerBytes - 1) + '\n')
  const read = await readRevisionDir(dir)
  if (!read.ok) throw new Error(read.problems.join('; '))
  const bytes = read.files.reduce((n, f) => n + f.content.byteLength, 0)
  const reads: number[] = []
  const pushes: number[] = []
  const cold: number[] = []
  const warm: number[] = []
  for (let r = 0; r < R; r++) {
    reads.push(await time(async () => await readRevisionDir(dir)))
    // Each round pushes new content (one filler file differs), so every push stores a revision.
    const files = read.files.map(f => f.path === 'filler-0.txt' ? { path: f.path, content: Buffer.from(`round ${r}\n`) } : f)
    pushes.push(await time(async () => await revisions.push({ files, message: `round ${r}`, author: 'bench' })))
    await rm(join(base, 'revisions'), { recursive: true, force: true })
    cold.push(await time(async () => await revisions.roleConfig(null)))
    warm.push(await time(async () => await revisions.roleConfig(null)))
  }
  const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}`)
  const changed = lines.map((l, i) => i % 50 === 0 ? `${l} changed` : l)
  const diffs: number[] = []
  for (let r = 0; r < R; r++) diffs.push(await time(async () => diffFile('big.yml', Buffer.from(lines.join('\n')), Buffer.from(changed.join('\n')))))
  const out = {
    bench: 'store-revisions',
    files: read.files.length,
    bytes,
    rounds: R,
    readDirMs: median(reads),
    pushMs: median(pushes),
    jobConfigColdMs: median(cold),
    jobConfigWarmMs: median(warm),
    diff5000Lines100ChangesMs: median(diffs),
    storeRevision: store.revision
  }
  process.stdout.write(JSON.stringify(out) + '\n')
} finally {
  await store.stop()
  await rm(base, { recursive: true, force: true })
}
