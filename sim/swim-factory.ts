/**
 * Builds the simulated nodes from the real membership core (agent/membership/core) and sizes
 * their traffic with the real codec (protocol/swim-wire.ts). Each node gets its own seeded
 * random stream per process generation. AliveInfo objects are built once per (node,
 * incarnation) and shared by every node that holds them, as the core contract allows, so a
 * full view costs the core's per-member slot and not a copy of the info.
 */

import { SwimCore } from '../agent/membership/core/swim-core.js'
import type { AliveInfo, Datagram, Endpoint, SwimTiming, SyncMember, SyncState } from '../agent/membership/core/types.js'
import { SWIM_DEFAULTS } from '../agent/membership/core/constants.js'
import { pushPullInterval } from '../agent/membership/core/push-pull.js'
import { digestOf } from '../agent/membership/core/digest.js'
import { datagramSize, syncStateSize } from '../protocol/swim-wire.js'
import { digestReplySize, digestSize } from '../protocol/swim-digest-wire.js'
import type { DigestReply, SyncDigest } from '../protocol/swim-messages.js'
import { Prng } from './prng.js'
import type { SimCore, SimNodeFactory } from './sim-types.js'

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

/** A peer-id-like string of the real length (52 characters, `12D3KooW` + 44 base58). */
export function simPeerId (i: number): string {
  let s = '12D3KooW'
  let x = (i + 1) >>> 0
  for (let k = 0; k < 44; k++) {
    // A small per-position hash keeps ids distinct and evenly spread, like real ones.
    x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + k | 0
    s += B58[(x >>> 0) % 58]!
  }
  return s
}

/** Options of the real-core factory. */
export interface SwimFactoryInit {
  seed: number
  capacity: number
  /** Endpoint of node i (the world's addresses). */
  endpoint: (i: number) => Endpoint
  /** Bytes of the opaque signed record in each AliveInfo (the agent's record is a few hundred). */
  recordBytes?: number
  /** Which nodes may become manager (default: the first `eligibleCount`). */
  eligible?: (i: number) => boolean
  /** Number of manager-eligible nodes, the first ones (default: all). */
  eligibleCount?: number
  timing?: Partial<SwimTiming>
  /** Number of initial (booted, preloaded) nodes. */
  booted?: number
  /** Push-pull as digest exchanges (sync 3.0.0, the default) or whole states both ways (2.0.0). */
  sync?: 'digest' | 'full'
}

/** A SimNodeFactory driving real SwimCores. */
export function swimFactory (init: SwimFactoryInit): SimNodeFactory<Datagram, SyncState> & { info: (i: number, inc: number, left: boolean) => AliveInfo } {
  const ids: string[] = []
  for (let i = 0; i < init.capacity; i++) ids.push(simPeerId(i))
  const record = new Uint8Array(init.recordBytes ?? 600).fill(0x5a)
  const eligible = init.eligible ?? ((i: number) => i < (init.eligibleCount ?? Infinity))
  // Latest info per node; older ones are kept by whoever still holds them.
  const infos: Array<AliveInfo | undefined> = new Array(init.capacity)
  const gens = new Int32Array(init.capacity)
  const base = init.timing?.pushPullIntervalMs ?? SWIM_DEFAULTS.pushPullIntervalMs
  const scale = init.timing?.pushPullScaleMembers ?? SWIM_DEFAULTS.pushPullScaleMembers
  const info = (i: number, incarnation: number, left: boolean): AliveInfo => {
    const cur = infos[i]
    if (cur !== undefined && cur.incarnation === incarnation && cur.left === left) return cur
    const v: AliveInfo = Object.freeze({ id: ids[i]!, name: `n${i}`, incarnation, addr: init.endpoint(i), eligible: eligible(i), record, left })
    infos[i] = v
    return v
  }
  return {
    info,
    idOf: (i) => ids[i]!,
    create: (i, incarnation, seeds, booted = false): SimCore<Datagram, SyncState> => {
      const rng = new Prng(init.seed, 0x10000 + i * 64 + (gens[i]!++ % 64))
      let timing = init.timing
      if (booted) {
        // A core schedules its first push-pull at random within the BASE interval (as
        // memberlist does), which after a fresh boot of N nodes means a burst of N full-state
        // exchanges in the first 30 s. A long-running cluster has them spread over the
        // N-scaled interval instead, so a booted node gets that as its base: its first
        // exchange falls uniformly in one steady-state period (the next would come later than
        // any scenario runs).
        timing = { ...init.timing, pushPullIntervalMs: pushPullInterval(base, init.booted ?? init.capacity, scale) }
      }
      const core = new SwimCore({
        selfId: ids[i]!,
        selfInfo: (inc, left) => info(i, inc, left),
        incarnation,
        seeds,
        ...(timing !== undefined ? { timing } : {})
      }, () => rng.next())
      return core as unknown as SimCore<Datagram, SyncState>
    },
    preload: (cores, now, user) => {
      // Every booted node holds every booted node alive at the incarnation it will announce
      // when it starts (persisted 0 + 1): the converged state after a quiet formation.
      const members: SyncMember[] = []
      for (let i = 0; i < cores.length; i++) {
        const v = info(i, 1, false)
        members.push({ info: v, status: 'alive', incarnation: 1 })
      }
      const state: SyncState = { from: null, members, user, join: false }
      for (const c of cores) c.onSyncReply(state, now)
    },
    pushPullIntervalMs: (n) => pushPullInterval(base, n, scale),
    ...(init.sync !== 'full'
      ? { digest: { of: (s: SyncState) => digestOf(s), bytes: (d: unknown) => digestSize(d as SyncDigest), replyBytes: (r: unknown) => digestReplySize(r as DigestReply) } }
      : {}),
    datagramBytes: (m) => datagramSize(m),
    syncBytes: (s) => syncStateSize(s)
  }
}
