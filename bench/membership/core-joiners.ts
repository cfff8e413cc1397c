/**
 * Simultaneous joiners on the membership core alone (the unit tests' deterministic test
 * network: real SwimCore and codec, 2 ms links, no loss): a seed starts, 1 s later N nodes
 * start at the same instant, each joining through the seed; the time until every node holds
 * every other alive, median and max over seeds. Prints one markdown row per N.
 *
 *   node dist/bench/membership/core-joiners.js --sizes 8,16,32,64,128 --seeds 10 --record-bytes 32
 */

import { TestNet, allSee } from '../../test/unit/agent/membership/core/test-net.js'
import type { SwimTiming } from '../../agent/membership/core/types.js'
import { benchArgs } from '../bench-args.js'

const LIMIT_MS = 60_000

/** One burst: ms until all see all (Infinity past the limit), datagrams sent, push-pulls started. */
function burst (n: number, seed: number, recordBytes: number, timing: Partial<SwimTiming>): { ms: number, datagrams: number, syncs: number } {
  const net = new TestNet(seed, timing)
  net.add('n0', { recordBytes })
  net.start('n0')
  net.run(1000)
  const ids = ['n0']
  for (let i = 1; i <= n; i++) ids.push(net.add(`n${i}`, { seeds: ['n0'], recordBytes }).id)
  const sentBefore = net.need('n0').sent.length
  for (const id of ids.slice(1)) net.start(id)
  const t0 = net.now
  let ms = Infinity
  while (net.now - t0 < LIMIT_MS) {
    if (allSee(net, ids, 'alive')) { ms = net.now - t0; break }
    net.run(50)
  }
  net.runUntil(t0 + LIMIT_MS)
  let datagrams = -sentBefore
  let syncs = 0
  for (const node of net.nodes.values()) { datagrams += node.sent.length; syncs += node.syncs.length }
  return { ms, datagrams, syncs }
}

function main (): void {
  const { values } = benchArgs({
    options: {
      sizes: { type: 'string', default: '8,16,32,64,128' },
      seeds: { type: 'string', default: '10' },
      'record-bytes': { type: 'string', default: '32' },
      timing: { type: 'string', default: '{}' }
    }
  })
  const sizes = values.sizes.split(',').map(Number)
  const seeds = Number(values.seeds)
  const recordBytes = Number(values['record-bytes'])
  const timing = JSON.parse(values.timing) as Partial<SwimTiming>
  const fmt = (ms: number): string => Number.isFinite(ms) ? (ms / 1000).toFixed(2) : 'never'
  process.stdout.write(`record ${recordBytes} B, ${seeds} seeds, limit ${LIMIT_MS / 1000} s\n\n`)
  process.stdout.write('| joiners | all see all, median / max (s) | not within 60 s | datagrams sent per node per s (60 s) | push-pulls started per node (60 s) |\n|---|---|---|---|---|\n')
  for (const n of sizes) {
    const runs = Array.from({ length: seeds }, (_, k) => burst(n, k + 1, recordBytes, timing))
    const ms = runs.map(r => r.ms).sort((a, b) => a - b)
    const dg = runs.reduce((a, r) => a + r.datagrams, 0) / (seeds * (n + 1) * LIMIT_MS / 1000)
    const syncs = runs.reduce((a, r) => a + r.syncs, 0) / (seeds * (n + 1))
    process.stdout.write(`| ${n} | ${fmt(ms[ms.length >> 1]!)} / ${fmt(ms[ms.length - 1]!)} | ${ms.filter(x => !Number.isFinite(x)).length} | ${dg.toFixed(2)} | ${syncs.toFixed(2)} |\n`)
  }
}

main()
