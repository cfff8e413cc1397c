/**
 * The simulated world: a virtual clock, one event queue, the network model and N node
 * processes, each one membership core. Datagrams and push-pull exchanges travel through the
 * network model; a stalled node processes nothing until it wakes (its input is delivered then
 * and its timers fire late); a crashed node drops everything; a restarted node is a fresh core
 * started from its persisted incarnation. Everything random comes from seeded streams, so a
 * run is a pure function of its seed and parameters. Push-pull exchanges (two or three frames,
 * their timeouts and refusals) are sync-exchanges.ts; the events both queue are world-event.ts.
 */

import { Cpu, type CpuParams } from './cpu.js'
import { EventQueue } from './event-queue.js'
import { Network, type NetworkInit } from './network.js'
import { Prng } from './prng.js'
import { SyncExchanges } from './sync-exchanges.js'
import type { SimCore, SimEndpoint, SimEvent, SimNodeFactory, SimOutput } from './sim-types.js'
import { Ev, K_ACTION, K_BACKGROUND, K_DGRAM, K_START, K_SYNC_FAIL, K_SYNC_PUSH, K_SYNC_REPLY, K_SYNC_REQ, K_TICK } from './world-event.js'

/** Options of a world. */
export interface WorldInit extends NetworkInit {
  seed: number
  /** Most nodes that will ever exist (initial + joiners). */
  capacity: number
  /** A push-pull that got no answer fails after this long (ms; memberlist's TCP timeout). */
  syncTimeoutMs?: number
  /** A saturated machine (cpu.ts); absent = every input is handled at once. */
  cpu?: CpuParams
}

/** Watches what cores report (metrics, invariant checks, election cores). */
export type EventObserver = (node: number, ev: SimEvent, now: number) => void

/** Per-node traffic counters (datagrams and push-pull bytes). */
export interface Traffic {
  /** Datagrams sent and their encoded bytes. */
  msgsOut: Float64Array
  bytesOut: Float64Array
  /** Datagrams received and their bytes. */
  msgsIn: Float64Array
  bytesIn: Float64Array
  /** Push-pull exchanges this node started, and push-pull bytes sent + received (both ways). */
  syncsOut: Float64Array
  syncBytes: Float64Array
}

/** The simulated cluster. */
export class World<M, S> {
  /** Virtual time (ms). */
  now = 0
  readonly net: Network
  readonly traffic: Traffic
  /** Number of node slots in use (initial nodes and joiners so far). */
  count = 0
  /** Events processed (for the report's wall-time figures). */
  processed = 0
  private readonly queue = new EventQueue<Ev>()
  private readonly factory: SimNodeFactory<M, S>
  private readonly cores: Array<SimCore<M, S> | null> = []
  private readonly endpoints: SimEndpoint[] = []
  private readonly hostIndex = new Map<string, number>()
  /** 1 while the node's process runs (stalled or not). */
  readonly up: Uint8Array
  /** Process generation: bumps on crash, so stale timers and replies are dropped. */
  private readonly gen: Int32Array
  readonly stalledUntil: Float64Array
  private readonly nextTick: Float64Array
  /** Last incarnation each node persisted (its restart value). */
  readonly incarnation: Float64Array
  private readonly observers: EventObserver[] = []
  /** The shared CPU, when modelled. */
  readonly cpu: Cpu | null
  private readonly cpuRng: Prng
  /** Called just before a node's core starts (after its start-up work under the CPU model). */
  beforeStart: ((i: number) => void) | null = null
  /** Wall time of the input being handled: what it sends leaves when it is done. */
  private sendDelay = 0
  /** The push-pull exchanges (in flight, refused). */
  readonly exchanges: SyncExchanges<M, S>

  constructor (init: WorldInit, factory: SimNodeFactory<M, S>) {
    this.factory = factory
    this.net = new Network(init, new Prng(init.seed, 0x6e6574), init.capacity)
    const n = init.capacity
    this.cpu = init.cpu !== undefined ? new Cpu(init.cpu, n) : null
    this.cpuRng = new Prng(init.seed, 0x637075)
    this.up = new Uint8Array(n)
    this.gen = new Int32Array(n)
    this.stalledUntil = new Float64Array(n)
    this.nextTick = new Float64Array(n).fill(Infinity)
    this.incarnation = new Float64Array(n)
    this.traffic = {
      msgsOut: new Float64Array(n),
      bytesOut: new Float64Array(n),
      msgsIn: new Float64Array(n),
      bytesIn: new Float64Array(n),
      syncsOut: new Float64Array(n),
      syncBytes: new Float64Array(n)
    }
    for (let i = 0; i < n; i++) {
      const ep = World.endpointOf(i)
      this.endpoints.push(ep)
      this.hostIndex.set(ep.host, i)
      this.cores.push(null)
    }
    this.exchanges = new SyncExchanges({
      queue: this.queue,
      net: this.net,
      factory,
      gen: this.gen,
      cpu: this.cpu,
      traffic: this.traffic,
      apply: (i, out) => { this.apply(i, out) },
      sendsAt: () => this.now + this.sendDelay
    }, n, init.syncTimeoutMs ?? 10_000)
  }

  /** The address of node `i` (one per node; the same after a restart). */
  static endpointOf (i: number): SimEndpoint {
    return { host: `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`, port: 7946 }
  }

  /** Registers an observer of every core event. */
  observe (fn: EventObserver): void {
    this.observers.push(fn)
  }

  /** Address of node `i`. */
  endpoint (i: number): SimEndpoint {
    return this.endpoints[i]!
  }

  /** Node index of an address (-1 when unknown). */
  indexOf (ep: SimEndpoint): number {
    return this.hostIndex.get(ep.host) ?? -1
  }

  /** Peer id of node `i`. */
  idOf (i: number): string {
    return this.factory.idOf(i)
  }

  /** The core of node `i` (null when it is down). */
  core (i: number): SimCore<M, S> | null {
    return this.cores[i] ?? null
  }

  /** Whether node `i` runs and is not stalled at the current time. */
  responsive (i: number): boolean {
    return this.up[i] === 1 && this.stalledUntil[i]! <= this.now
  }

  /**
   * Creates `n` nodes with full, converged views (no formation simulated) and starts them.
   */
  bootConverged (n: number, user: Array<{ key: string, data: Uint8Array, version: number }> = []): void {
    const first = this.count
    const cores: Array<SimCore<M, S>> = []
    for (let i = first; i < first + n; i++) {
      const c = this.factory.create(i, 0, [], true)
      this.cores[i] = c
      this.up[i] = 1
      cores.push(c)
    }
    this.count = first + n
    // Start first (a core merges state only once started), then load the views, then carry
    // out what the starts asked for, with timers computed on the full views.
    const outs = cores.map(c => c.start(this.now))
    this.factory.preload?.(cores, this.now, user)
    for (let i = first; i < first + n; i++) this.apply(i, outs[i - first]!)
    const cpu = this.cpu
    if (cpu !== null && cpu.params.backgroundMs > 0 && cpu.params.backgroundEveryMs > 0) {
      for (let i = first; i < first + n; i++) this.queue.push(this.now + this.cpuRng.next() * cpu.params.backgroundEveryMs, new Ev(K_BACKGROUND, i, -1, this.gen[i]!, null, null))
    }
  }

  /** Starts node `i` (a new joiner or a restart) with its persisted incarnation, joining via `seeds`. */
  startNode (i: number, seeds: number[]): void {
    if (this.up[i] === 1) throw new Error(`node ${i} is already up`)
    if (i >= this.count) this.count = i + 1
    const c = this.factory.create(i, this.incarnation[i]!, seeds.map(s => this.endpoints[s]!))
    this.cores[i] = c
    this.up[i] = 1
    this.stalledUntil[i] = 0
    const cpu = this.cpu
    if (cpu === null) {
      this.beforeStart?.(i)
      this.apply(i, c.start(this.now))
      return
    }
    // Start-up work first (it slows every other busy node down), then the core; then the
    // node's other work, one chunk per period at a random phase.
    const wall = cpu.run(i, cpu.params.startMs, this.now)
    this.queue.push(this.now + wall, new Ev(K_START, i, -1, this.gen[i]!, null, null))
    if (cpu.params.backgroundMs > 0 && cpu.params.backgroundEveryMs > 0) {
      this.queue.push(this.now + wall + this.cpuRng.next() * cpu.params.backgroundEveryMs, new Ev(K_BACKGROUND, i, -1, this.gen[i]!, null, null))
    }
  }

  /** Kills node `i` (no goodbye). */
  crash (i: number): void {
    this.up[i] = 0
    this.cores[i] = null
    this.gen[i]!++
    this.nextTick[i] = Infinity
    this.stalledUntil[i] = 0
    this.cpu?.clear(i, this.now)
  }

  /** Freezes node `i` for `ms` of virtual time. */
  stall (i: number, ms: number): void {
    this.stalledUntil[i] = Math.max(this.stalledUntil[i]!, this.now + ms)
  }

  /** Runs `fn` at virtual time `t`. */
  at (t: number, fn: () => void): void {
    this.queue.push(Math.max(t, this.now), new Ev(K_ACTION, -1, -1, 0, fn, null))
  }

  /** Runs `fn` every `periodMs` from `start` until `end`. */
  every (start: number, periodMs: number, end: number, fn: () => void): void {
    const step = (): void => {
      fn()
      const next = this.now + periodMs
      if (next <= end) this.at(next, step)
    }
    this.at(start, step)
  }

  /** Processes events up to and including virtual time `t`. */
  runUntil (t: number): void {
    for (;;) {
      if (this.queue.peekTime() > t) break
      const e = this.queue.pop()!
      this.now = e.time
      this.processed++
      this.dispatch(e.item)
    }
    this.now = t
  }

  private dispatch (e: Ev): void {
    if (e.k === K_ACTION) {
      (e.a as () => void)()
      return
    }
    const i = e.node
    if (this.up[i] !== 1) {
      // A crashed node drops its input; a requester learns its push-pull failed.
      if (e.k === K_SYNC_REQ) this.exchanges.lost(e, this.now)
      return
    }
    if ((e.k === K_TICK || e.k === K_START || e.k === K_BACKGROUND || e.k === K_SYNC_PUSH) && e.gen !== this.gen[i]) return
    const wake = this.stalledUntil[i]!
    if (wake > this.now) {
      // Frozen: the kernel keeps its input and its timers fire when it wakes.
      this.queue.push(wake, e)
      if (e.k === K_TICK) this.nextTick[i] = wake
      return
    }
    const core = this.cores[i]!
    this.sendDelay = 0
    if (this.cpu !== null && !this.onCpu(e)) return
    switch (e.k) {
      case K_START:
        this.beforeStart?.(i)
        this.apply(i, core.start(this.now))
        return
      case K_TICK:
        if (this.now !== this.nextTick[i]) return
        this.nextTick[i] = Infinity
        this.apply(i, core.tick(this.now))
        return
      case K_DGRAM: {
        const msg = e.a as M
        this.traffic.msgsIn[i]!++
        this.traffic.bytesIn[i]! += e.b as number
        this.apply(i, core.receive(this.endpoints[e.from]!, msg, this.now))
        return
      }
      case K_SYNC_REQ:
      case K_SYNC_REPLY:
      case K_SYNC_PUSH:
      case K_SYNC_FAIL:
        this.exchanges.handle(e, core, this.now)
    }
  }

  /**
   * The CPU model: a busy node takes the input later (timers fire late); otherwise it costs
   * CPU, and what the node sends leaves when the work is done. False = not handled now.
   */
  private onCpu (e: Ev): boolean {
    const cpu = this.cpu as Cpu
    const i = e.node
    const free = cpu.freeAt(i)
    if (free > this.now) {
      cpu.waited(free - this.now)
      this.queue.push(free, e)
      if (e.k === K_TICK) this.nextTick[i] = free
      return false
    }
    const p = cpu.params
    let ms = 0
    switch (e.k) {
      case K_TICK: if (this.now !== this.nextTick[i]) return false; ms = p.tickMs; break
      case K_DGRAM: ms = p.datagramMs; break
      case K_SYNC_REQ: case K_SYNC_REPLY: case K_SYNC_PUSH: case K_SYNC_FAIL: ms = this.exchanges.cpuMs(e, p); break
      case K_BACKGROUND:
        cpu.run(i, p.backgroundMs, this.now)
        this.queue.push(this.now + p.backgroundEveryMs, new Ev(K_BACKGROUND, i, -1, this.gen[i]!, null, null))
        return false
    }
    this.sendDelay = cpu.run(i, ms, this.now)
    return true
  }

  /** Carries out what node `i`'s core returned from a call made outside the world (a broadcast). */
  perform (i: number, out: SimOutput<M, S>): void {
    this.sendDelay = 0
    this.apply(i, out)
  }

  /** Carries out what a core asked for: datagrams, push-pulls, events, its next timer. */
  private apply (i: number, out: SimOutput<M, S>): void {
    const now = this.now + this.sendDelay
    const tr = this.traffic
    for (let k = 0; k < out.send.length; k++) {
      const s = out.send[k]!
      const to = this.hostIndex.get(s.to.host)
      const bytes = this.factory.datagramBytes(s.msg)
      tr.msgsOut[i]!++
      tr.bytesOut[i]! += bytes
      if (to === undefined) continue
      const d = this.net.datagramDelay(i, to)
      if (d < 0) continue
      this.queue.push(now + d, new Ev(K_DGRAM, to, i, 0, s.msg, bytes))
    }
    for (let k = 0; k < out.syncs.length; k++) {
      const s = out.syncs[k]!
      this.exchanges.open(i, s, this.hostIndex.get(s.to.host), now)
    }
    if (out.events.length > 0) {
      for (let k = 0; k < out.events.length; k++) {
        const ev = out.events[k]!
        if (ev.t === 'incarnation') this.incarnation[i] = (ev as { value: number }).value
        for (const o of this.observers) o(i, ev, now)
      }
    }
    this.schedule(i)
  }

  /** Keeps one timer event per node at the core's next deadline. */
  private schedule (i: number): void {
    const core = this.cores[i]
    if (core == null) return
    let d = core.nextDeadline()
    if (!(d < Infinity)) return
    if (d < this.now) d = this.now
    if (d < this.nextTick[i]!) {
      this.nextTick[i] = d
      this.queue.push(d, new Ev(K_TICK, i, -1, this.gen[i]!, null, null))
    }
  }
}
