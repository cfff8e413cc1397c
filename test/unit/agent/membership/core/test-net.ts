/**
 * A tiny deterministic network of SwimCore instances on a fake clock, for unit tests: events
 * (datagram deliveries, push-pull exchanges, ticks) run in time order; nodes can be crashed,
 * links cut, and a node stalled (it handles nothing until it wakes; then, as Node's event
 * loop does, its timers run before the I/O that queued up). Every datagram goes through the
 * real codec (protocol/swim-wire.ts), so sizes and bounds are checked on every hop.
 */

import assert from 'node:assert/strict'
import { Prng } from '../../../../harness/fuzz.js'
import { SwimCore } from '../../../../../agent/membership/core/swim-core.js'
import type { AliveInfo, Broadcast, CoreEvent, Datagram, Endpoint, Output, SwimTiming, SyncState } from '../../../../../agent/membership/core/types.js'
import { decodeDatagram, decodeSyncState, encodeDatagram, encodeSyncState } from '../../../../../protocol/swim-wire.js'
import { decodeDigest, decodeDigestReply, encodeDigest, encodeDigestReply } from '../../../../../protocol/swim-digest-wire.js'
import { digestOf } from '../../../../../agent/membership/core/digest.js'

interface Ev { at: number, prio: number, seq: number, node: string, run: () => void }

/** One node of the test network. */
export interface TestNode {
  id: string
  addr: Endpoint
  core: SwimCore
  events: CoreEvent[]
  sent: Datagram[]
  /** Push-pulls this node started: when, and with whom (null = a seed). */
  syncs: Array<{ at: number, id: string | null }>
  down: boolean
  stalledUntil: number
  tickToken: number
  recordBytes: number
}

/** Options of one node. */
export interface NodeOptions {
  seeds?: string[]
  eligible?: boolean
  recordBytes?: number
  incarnation?: number
  timing?: Partial<SwimTiming>
}

/** The network. */
export class TestNet {
  now = 0
  readonly nodes = new Map<string, TestNode>()
  private readonly byAddr = new Map<string, TestNode>()
  private readonly queue: Ev[] = []
  private seq = 0
  private readonly cut = new Set<string>()
  readonly rng: Prng
  latencyMs = 2
  /** Largest encoded datagram seen, and the largest that carried more than one broadcast. */
  maxDatagram = 0
  maxPacked = 0
  budget = 1400
  /** Push-pulls as digest exchanges (sync 3.0.0, three frames) instead of whole states (2.0.0). */
  digest = process.env.TEST_NET_SYNC !== 'full'
  /** Bytes of every push-pull frame sent, for tests that compare the two exchanges. */
  syncBytes = 0

  constructor (seed = 1, readonly timing: Partial<SwimTiming> = {}) {
    this.rng = new Prng(seed)
  }

  /** Create (not start) a node; its id doubles as its name. */
  add (id: string, opts: NodeOptions = {}): TestNode {
    const addr = { host: `10.0.${Math.floor(this.nodes.size / 250)}.${this.nodes.size % 250 + 1}`, port: 7946 }
    const recordBytes = opts.recordBytes ?? 32
    const selfInfo = (incarnation: number, left: boolean): AliveInfo => ({
      id, name: id, incarnation, addr, eligible: opts.eligible ?? true, record: new Uint8Array(recordBytes).fill(incarnation % 251), left
    })
    const seeds = (opts.seeds ?? []).map(s => this.need(s).addr)
    const core = new SwimCore({ selfId: id, selfInfo, incarnation: opts.incarnation ?? 0, seeds, timing: { ...this.timing, ...opts.timing } }, () => this.rng.next())
    const node: TestNode = { id, addr, core, events: [], sent: [], syncs: [], down: false, stalledUntil: 0, tickToken: 0, recordBytes }
    this.nodes.set(id, node)
    this.byAddr.set(key(addr), node)
    return node
  }

  /** Start a node now. */
  start (id: string): void {
    const n = this.need(id)
    this.apply(n, n.core.start(this.now))
  }

  /** Node by id. */
  need (id: string): TestNode {
    const n = this.nodes.get(id)
    assert.ok(n !== undefined, `no node ${id}`)
    return n
  }

  /** Crash a node: it stops, and everything to it is lost. */
  crash (id: string): void { this.need(id).down = true }

  /** Cut (both directions) or heal the link between two nodes. */
  cutLink (a: string, b: string, cut = true): void {
    for (const k of [`${a}>${b}`, `${b}>${a}`]) cut ? this.cut.add(k) : this.cut.delete(k)
  }

  /** Stall a node for `ms` from now. */
  stall (id: string, ms: number): void { this.need(id).stalledUntil = this.now + ms }

  /** Let the node's core do something now (a call outside the network: leave, broadcast...). */
  act (id: string, fn: (core: SwimCore, now: number) => Output): void {
    const n = this.need(id)
    this.apply(n, fn(n.core, this.now))
  }

  /** Run events until `until` (absolute ms). Bounded: a runaway loop fails the test. */
  runUntil (until: number): void {
    for (let i = 0; i < 5_000_000; i++) {
      const ev = this.queue[0]
      if (ev === undefined || ev.at > until) { this.now = until; return }
      this.queue.shift()
      this.now = ev.at
      const n = this.nodes.get(ev.node)
      if (n === undefined || n.down) continue
      if (n.stalledUntil > this.now) {
        // Held back until the node wakes; its timers first (prio 0), then queued I/O.
        this.push(n.stalledUntil, ev.prio, ev.node, ev.run)
        continue
      }
      ev.run()
    }
    assert.fail('test network ran away')
  }

  /** Run for `ms` more. */
  run (ms: number): void { this.runUntil(this.now + ms) }

  /** Run until `pred` holds, checking every 50 ms, at most `maxMs`; returns the time it took. */
  runUntilTrue (pred: () => boolean, maxMs: number, what: string): number {
    const start = this.now
    while (!pred()) {
      assert.ok(this.now - start < maxMs, `${what}: not within ${maxMs} ms`)
      this.run(50)
    }
    return this.now - start
  }

  /** Status of `subject` in `viewer`'s view. */
  status (viewer: string, subject: string): string | undefined {
    return this.need(viewer).core.member(subject)?.status
  }

  private apply (n: TestNode, out: Output): void {
    n.events.push(...out.events)
    for (const s of out.send) this.deliver(n, s.to, s.msg)
    for (const s of out.syncs) { n.syncs.push({ at: this.now, id: s.id }); this.sync(n, s.to, s.state) }
    this.schedule(n)
  }

  private schedule (n: TestNode): void {
    const at = n.core.nextDeadline()
    if (!Number.isFinite(at)) return
    const token = ++n.tickToken
    this.push(Math.max(at, this.now), 0, n.id, () => {
      if (token !== n.tickToken) return
      this.apply(n, n.core.tick(this.now))
    })
  }

  private deliver (from: TestNode, to: Endpoint, msg: Datagram): void {
    const bytes = encodeDatagram(msg)
    this.maxDatagram = Math.max(this.maxDatagram, bytes.byteLength)
    if (msg.t !== 'nack' && msg.gossip.length > 1) this.maxPacked = Math.max(this.maxPacked, bytes.byteLength)
    from.sent.push(msg)
    const target = this.byAddr.get(key(to))
    if (target === undefined || this.cut.has(`${from.id}>${target.id}`)) return
    this.push(this.now + this.latencyMs, 1, target.id, () => {
      const decoded = decodeDatagram(bytes)
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason)
      if (this.cut.has(`${from.id}>${target.id}`)) return
      this.apply(target, target.core.receive(from.addr, decoded.value, this.now))
    })
  }

  private sync (from: TestNode, to: Endpoint, state: SyncState): void {
    if (this.digest) { this.digestSync(from, to, state); return }
    const target = this.byAddr.get(key(to))
    const bytes = encodeSyncState(state)
    this.syncBytes += bytes.byteLength
    const fail = (): void => { this.apply(from, from.core.onSyncFailed(to, this.now)) }
    // A crashed target refuses the connection (its own queued events are skipped while down).
    if (target === undefined || target.down || this.cut.has(`${from.id}>${target.id}`)) {
      this.push(this.now + 100, 1, from.id, fail)
      return
    }
    this.push(this.now + this.latencyMs, 1, target.id, () => {
      if (target.down || this.cut.has(`${from.id}>${target.id}`)) { this.push(this.now + 100, 1, from.id, fail); return }
      const req = decodeSyncState(bytes)
      assert.ok(req.ok, req.ok ? '' : req.reason)
      const { reply, out } = target.core.onSyncRequest(req.value, this.now)
      this.apply(target, out)
      const replyBytes = encodeSyncState(reply)
      this.syncBytes += replyBytes.byteLength
      this.push(this.now + this.latencyMs, 1, from.id, () => {
        const rep = decodeSyncState(replyBytes)
        assert.ok(rep.ok, rep.ok ? '' : rep.reason)
        this.apply(from, from.core.onSyncReply(rep.value, this.now))
      })
    })
  }

  /** Three frames through the real codec: digest, entries + wants, wanted entries. */
  private digestSync (from: TestNode, to: Endpoint, state: SyncState): void {
    const target = this.byAddr.get(key(to))
    const bytes = encodeDigest(digestOf(state))
    this.syncBytes += bytes.byteLength
    const fail = (): void => { this.apply(from, from.core.onSyncFailed(to, this.now)) }
    const reachable = (t: TestNode | undefined): t is TestNode => t !== undefined && !t.down && !this.cut.has(`${from.id}>${t.id}`)
    if (!reachable(target)) { this.push(this.now + 100, 1, from.id, fail); return }
    this.push(this.now + this.latencyMs, 1, target.id, () => {
      if (!reachable(target)) { this.push(this.now + 100, 1, from.id, fail); return }
      const req = decodeDigest(bytes)
      assert.ok(req.ok, req.ok ? '' : req.reason)
      const { reply, out } = target.core.onDigestRequest(req.value, this.now)
      this.apply(target, out)
      const replyBytes = encodeDigestReply(reply)
      this.syncBytes += replyBytes.byteLength
      this.push(this.now + this.latencyMs, 1, from.id, () => {
        const rep = decodeDigestReply(replyBytes)
        assert.ok(rep.ok, rep.ok ? '' : rep.reason)
        const { push, out } = from.core.onDigestReply(rep.value, this.now)
        this.apply(from, out)
        const pushBytes = encodeSyncState(push)
        this.syncBytes += pushBytes.byteLength
        this.push(this.now + this.latencyMs, 1, target.id, () => {
          if (target.down) return
          const last = decodeSyncState(pushBytes)
          assert.ok(last.ok, last.ok ? '' : last.reason)
          this.apply(target, target.core.onDigestPush(last.value, this.now))
        })
      })
    })
  }

  private push (at: number, prio: number, node: string, run: () => void): void {
    const ev: Ev = { at, prio, seq: this.seq++, node, run }
    let lo = 0
    let hi = this.queue.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const m = this.queue[mid] as Ev
      if (m.at < at || (m.at === at && (m.prio < prio || (m.prio === prio && m.seq < ev.seq)))) lo = mid + 1
      else hi = mid
    }
    this.queue.splice(lo, 0, ev)
  }
}

function key (e: Endpoint): string { return `${e.host}:${e.port}` }

/** Ids n0..n{count-1}; n0 is every other node's seed. Starts them `gapMs` apart. */
export function cluster (net: TestNet, count: number, gapMs = 100, opts: NodeOptions = {}): string[] {
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const id = `n${i}`
    net.add(id, { ...opts, seeds: i === 0 ? [] : ['n0'] })
    ids.push(id)
  }
  for (const id of ids) { net.start(id); net.run(gapMs) }
  return ids
}

/** True when every running node sees every id in `ids` with `status`. */
export function allSee (net: TestNet, ids: string[], status: string, viewers?: string[]): boolean {
  for (const v of viewers ?? [...net.nodes.keys()]) {
    if (net.need(v).down) continue
    for (const id of ids) if (net.status(v, id) !== status) return false
  }
  return true
}

// One core on its own, fed datagrams by hand (tests that walk a sequence datagram by datagram).

/** The AliveInfo of member `id` at `incarnation`: its address derives from its id. */
export function soloInfo (id: string, incarnation: number): AliveInfo {
  return { id, name: id, incarnation, addr: { host: `10.2.0.${id.charCodeAt(0)}`, port: 7946 }, eligible: false, record: new Uint8Array(4), left: false }
}

/**
 * A started core `self` that knows `others` alive at incarnation 1 (merged from a push-pull).
 * Its tests count the datagrams of one mechanism at a time, so eager gossip rounds (a mechanism
 * of their own, tested in dissemination.test.ts) are off unless `timing` turns them on.
 */
export function soloCore (self: string, others: string[], timing: Partial<SwimTiming> = {}, seed = 5): SwimCore {
  const rng = new Prng(seed)
  const c = new SwimCore({ selfId: self, selfInfo: (inc, left) => ({ ...soloInfo(self, inc), left }), incarnation: 0, seeds: [], timing: { eagerGossipMs: 0, ...timing } }, () => rng.next())
  c.start(0)
  c.onSyncRequest({ from: others[0]!, members: others.map(id => ({ info: soloInfo(id, 1), status: 'alive', incarnation: 1 })), user: [], join: false }, 0)
  return c
}

/** `c` receives a gossip datagram from `from` carrying `b`. */
export function gossipFrom (c: SwimCore, from: string, b: Broadcast, now: number): Output {
  return c.receive(soloInfo(from, 1).addr, { t: 'gossip', from, gossip: [b] }, now)
}

/** Whether `to` is member `id`'s address. */
export const addressOf = (to: Endpoint, id: string): boolean => to.host === soloInfo(id, 1).addr.host
