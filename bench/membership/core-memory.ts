/**
 * Heap per member of the membership core: K cores each merge one shared push-pull state of N
 * members (shared AliveInfo objects, as the simulator shares them), then the growth of the heap
 * plus typed-array backing stores is divided by K x N. Run: node --expose-gc dist/bench/membership/core-memory.js [N] [K]
 */

import { SwimCore } from '../../agent/membership/core/swim-core.js'
import type { AliveInfo, SyncState } from '../../agent/membership/core/types.js'

const N = Number(process.argv[2] ?? 10_000)
const K = Number(process.argv[3] ?? 100)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')

const record = new Uint8Array(64)
const infos: AliveInfo[] = []
for (let i = 0; i < N; i++) infos.push({ id: `peer-${i}`, name: `n${i}`, incarnation: 1, addr: { host: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, port: 7946 }, eligible: i < 3, record, left: false })
const state: SyncState = { from: 'peer-0', members: infos.map(info => ({ info, status: 'alive', incarnation: 1 })), user: [], join: false }

let seed = 1
const rng = (): number => { seed = (seed * 16807) % 2147483647; return seed / 2147483647 }
gc()
const used = (): number => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }
const before = used()
const cores: SwimCore[] = []
const t0 = performance.now()
for (let k = 0; k < K; k++) {
  const id = `self-${k}`
  const core = new SwimCore({ selfId: id, selfInfo: (incarnation, left) => ({ id, name: `s${k}`, incarnation, addr: { host: '10.255.0.1', port: 7946 }, eligible: false, record, left }), incarnation: 0, seeds: [] }, rng)
  core.start(0)
  core.onSyncRequest(state, 1)
  // Let the queue drain what merging produced (the sender's own alive), as it would in a run.
  cores.push(core)
}
const mergeMs = (performance.now() - t0) / K
gc()
const after = used()
const perPair = (after - before) / (K * N)
console.log(JSON.stringify({ members: N, cores: K, bytesPerMember: Math.round(perPair * 10) / 10, mergeMsPerCore: Math.round(mergeMs * 10) / 10, projectedGiBFor10kx10k: Math.round(perPair * 1e8 / 2 ** 30 * 100) / 100 }))
void cores.length
