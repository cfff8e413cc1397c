/**
 * A saturated machine (issue 10: 64 agents on 2 cores): every node is one event loop on a
 * shared CPU of `cores` cores. Each input (a datagram, a timer tick, a push-pull) costs CPU
 * time; a node handles one input at a time (later ones queue behind it, timers fire late), and
 * an input's wall time is its CPU time stretched by processor sharing: x (busy nodes / cores)
 * when more nodes are busy than there are cores. Besides membership, each node starts with a
 * chunk of work (module loading) before its core starts, and runs a periodic chunk of other
 * work (libp2p, the store, logging). So 64 nodes starting together slow each other down,
 * exactly when membership is busiest: probe round trips grow past the probe timeouts, as on
 * the real machine. All of it is deterministic (no clocks, no Math.random).
 */

import { MEMBERSHIP_DEFAULTS } from '../agent/membership/constants.js'
import { EventQueue } from './event-queue.js'

/** CPU costs of a node's work (ms of CPU time on one core). */
export interface CpuParams {
  /** Cores shared by every node. */
  cores: number
  /** One received datagram (decrypt, decode, verify the records it carries, the core). */
  datagramMs: number
  /** One timer tick of the core. */
  tickMs: number
  /** One push-pull, each side: stream setup (dial, noise, yamux) ... */
  syncMs: number
  /** ... plus this per KB of state merged (record signatures checked). */
  syncPerKbMs: number
  /** A digest push-pull's first frame: per KB of digest compared (no signatures in it). */
  digestPerKbMs: number
  /** Work before the core starts (spawn -> listening on an idle machine). */
  startMs: number
  /** Other work of a running node, one chunk every `backgroundEveryMs`. */
  backgroundMs: number
  backgroundEveryMs: number
  /** Push-pulls a node serves at once; more are refused at once (0 = no limit). */
  inboundSyncs: number
}

/**
 * Costs of the preset `agent`: the agent on the test machine. Measured: a probe round trip over
 * the datagram channel ~0.04 ms of CPU per side (docs/benchmarks.md, "Datagram channel"), spawn
 * -> listening 0.78 s on an idle machine (8 hosts), idle CPU ~1 % of a core per agent. Assumed
 * (order of magnitude): record signature checks and the core per datagram, a libp2p stream
 * with its noise handshake per push-pull (half of it paid by a responder that refuses it),
 * comparing a digest (a tenth of merging records per KB),
 * the busier background of a forming cluster. Push-pulls served at once: the agent's limit.
 */
export const AGENT_CPU: Readonly<CpuParams> = {
  cores: 2,
  datagramMs: 0.3,
  tickMs: 0.1,
  syncMs: 10,
  syncPerKbMs: 0.5,
  // Assumed: decoding and comparing 58-byte entries with a hash lookup each, 10x cheaper
  // than merging signed records (a digest of 1,000 members, 58 KB: ~3 ms).
  digestPerKbMs: 0.05,
  startMs: 780,
  backgroundMs: 20,
  backgroundEveryMs: 1000,
  inboundSyncs: MEMBERSHIP_DEFAULTS.maxInboundSyncs
}

/** Parses `preset` or `knob=value,...` (over the preset `agent`). */
export function parseCpu (spec: string): CpuParams {
  const p: CpuParams = { ...AGENT_CPU }
  if (spec === 'agent' || spec === '') return p
  for (const kv of spec.split(',')) {
    if (kv === 'agent') continue
    const [k, v] = kv.split('=')
    const n = Number(v)
    if (k === undefined || !(k in AGENT_CPU) || !Number.isFinite(n) || n < 0) throw new Error(`--cpu: bad knob ${kv} (knobs: ${Object.keys(AGENT_CPU).join(', ')})`)
    ;(p as unknown as Record<string, number>)[k] = n
  }
  if (p.cores <= 0) throw new Error('--cpu: cores must be > 0')
  return p
}

/** The shared CPU: per-node busy-until times and the number of busy nodes. */
export class Cpu {
  readonly params: CpuParams
  private readonly busyUntil: Float64Array
  /** Ends of busy periods (node index by time); stale entries are skipped. */
  private readonly ends = new EventQueue<number>()
  private busy = 0
  /** CPU ms spent and wall ms of input queueing, for the report. */
  cpuMs = 0
  queuedMs = 0
  /** Most nodes busy at once. */
  peakBusy = 0

  constructor (params: CpuParams, capacity: number) {
    this.params = params
    this.busyUntil = new Float64Array(capacity)
  }

  /** When node `i` can take its next input (<= now: at once). */
  freeAt (i: number): number {
    return this.busyUntil[i]!
  }

  /** Counts a deferred input's wait (for the report). */
  waited (ms: number): void {
    this.queuedMs += ms
  }

  /**
   * Node `i` runs `cpuMs` of work starting at `now`: returns its wall time, stretched when more
   * nodes than cores are busy (this one included).
   */
  run (i: number, cpuMs: number, now: number): number {
    this.settle(now)
    if (cpuMs <= 0) return 0
    const wasBusy = this.busyUntil[i]! > now
    const factor = Math.max(1, (this.busy + (wasBusy ? 0 : 1)) / this.params.cores)
    const wall = cpuMs * factor
    const start = Math.max(now, this.busyUntil[i]!)
    if (!wasBusy) this.busy++
    this.peakBusy = Math.max(this.peakBusy, this.busy)
    this.busyUntil[i] = start + wall
    this.ends.push(start + wall, i)
    this.cpuMs += cpuMs
    return start + wall - now
  }

  /** A crashed node's work is gone. */
  clear (i: number, now: number): void {
    this.settle(now)
    if (this.busyUntil[i]! > now) this.busy--
    this.busyUntil[i] = 0
  }

  /** Retire busy periods that ended by `now`. */
  private settle (now: number): void {
    while (this.ends.peekTime() <= now) {
      const { time: t, item: i } = this.ends.pop()!
      // Only the entry that matches the node's current end closes its busy period.
      if (this.busyUntil[i] === t && t > 0) { this.busy--; this.busyUntil[i] = -t }
    }
  }
}
