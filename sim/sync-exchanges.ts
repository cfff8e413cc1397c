/**
 * The simulated world's push-pull exchanges. A push-pull is two messages (whole states) or,
 * when the factory gives a digest, three (digest; entries + wants; the wanted entries): the
 * responder's inbound slot is freed when it has answered, not when the last frame arrives (a
 * simplification: the third frame is small once a cluster has converged). Separate from
 * world.ts (clock, timers, datagrams, crashes and stalls) because an exchange has state and
 * rules of its own: the table of exchanges in flight (a reply to a crashed or timed-out
 * initiator is dropped), the timeout, the CPU model's refusal when the responder already serves
 * its limit, and the byte counts and CPU costs of both kinds of exchange.
 */

import type { Cpu, CpuParams } from './cpu.js'
import type { EventQueue } from './event-queue.js'
import type { Network } from './network.js'
import type { SimCore, SimEndpoint, SimNodeFactory, SimOutput, SimSyncRequest } from './sim-types.js'
import { Ev, K_SYNC_FAIL, K_SYNC_PUSH, K_SYNC_REPLY, K_SYNC_REQ } from './world-event.js'

interface PendingSync { node: number, gen: number, to: SimEndpoint, peer: number }

/** What the exchanges share with the world that runs them (world.ts). */
export interface SyncExchangeWorld<M, S> {
  queue: EventQueue<Ev>
  net: Network
  factory: SimNodeFactory<M, S>
  /** Process generations (a crash bumps one): a reply to an earlier process is dropped. */
  gen: Int32Array
  /** The shared CPU, when modelled. */
  cpu: Cpu | null
  /** The world's push-pull counters (world.ts `Traffic`). */
  traffic: { syncsOut: Float64Array, syncBytes: Float64Array }
  /** Carries out what a core returned (its sends, push-pulls, events and next timer). */
  apply: (i: number, out: SimOutput<M, S>) => void
  /**
   * When what the node handling the current input sends leaves: now plus the input's wall
   * time under the CPU model. Read after `apply`, as an observer's broadcast may change it.
   */
  sendsAt: () => number
}

/** The push-pull exchanges of one world. */
export class SyncExchanges<M, S> {
  /** Push-pulls refused because the responder already had `inboundSyncs` in hand. */
  refused = 0
  private readonly w: SyncExchangeWorld<M, S>
  private readonly pending = new Map<number, PendingSync>()
  private nextId = 0
  /** A push-pull that got no answer fails after this long (ms). */
  private readonly timeoutMs: number
  /** Push-pull requests on their way to or queued at each node (the CPU model's refusals). */
  private readonly inbound: Int32Array
  /** Push-pulls are digest exchanges (three frames) when the factory says how. */
  private readonly digest: NonNullable<SimNodeFactory<M, S>['digest']> | null

  constructor (world: SyncExchangeWorld<M, S>, capacity: number, timeoutMs: number) {
    this.w = world
    this.timeoutMs = timeoutMs
    this.inbound = new Int32Array(capacity)
    this.digest = world.factory.digest ?? null
  }

  /** Starts the push-pull node `i`'s core asked for, with node `to` (undefined: no such node), at `now`. */
  open (i: number, s: SimSyncRequest<S>, to: number | undefined, now: number): void {
    const w = this.w
    const tr = w.traffic
    const sid = this.nextId++
    const g = w.gen[i]!
    this.pending.set(sid, { node: i, gen: g, to: s.to, peer: to ?? -1 })
    const payload = this.digest !== null ? this.digest.of(s.state) : s.state
    const bytes = this.digest !== null ? this.digest.bytes(payload) : w.factory.syncBytes(s.state)
    tr.syncsOut[i]!++
    tr.syncBytes[i]! += bytes
    // Past the timeout the requester gives up whatever happens.
    w.queue.push(now + this.timeoutMs, new Ev(K_SYNC_FAIL, i, -1, g, null, sid))
    if (to === undefined) {
      this.fail(sid, now)
      return
    }
    const d = w.net.streamDelay(i, to)
    if (d < 0) return
    const limit = w.cpu?.params.inboundSyncs ?? 0
    if (limit > 0 && this.inbound[to]! >= limit) {
      // The responder serves so many push-pulls at once already: it refuses this one at once,
      // for the connection's cost (half a push-pull's stream setup: its side of the handshake).
      this.refused++
      w.cpu!.run(to, w.cpu!.params.syncMs / 2, now)
      this.fail(sid, now + 2 * d)
      return
    }
    this.inbound[to]!++
    tr.syncBytes[to]! += bytes
    w.queue.push(now + d, new Ev(K_SYNC_REQ, to, i, g, payload, sid))
  }

  /** A request reached a node that is down: its initiator learns the push-pull failed. */
  lost (e: Ev, now: number): void {
    this.inbound[e.node]!--
    this.fail(e.b as number, now + 2 * this.w.net.baseDelay())
  }

  /** Handles a push-pull frame or failure (K_SYNC_*) at its node, whose `core` runs. */
  handle (e: Ev, core: SimCore<M, S>, now: number): void {
    switch (e.k) {
      case K_SYNC_REQ: this.answer(e, core, now); return
      case K_SYNC_REPLY: this.onReply(e, core, now); return
      case K_SYNC_PUSH: this.w.apply(e.node, core.onDigestPush!(e.a as S, now)); return
      case K_SYNC_FAIL: this.onFailed(e, core, now)
    }
  }

  /** CPU time (ms) of handling a push-pull frame or failure (K_SYNC_*; cpu.ts). */
  cpuMs (e: Ev, p: CpuParams): number {
    const w = this.w
    switch (e.k) {
      case K_SYNC_REQ: return p.syncMs + (this.digest !== null ? p.digestPerKbMs * this.digest.bytes(e.a) : p.syncPerKbMs * w.factory.syncBytes(e.a as S)) / 1024
      case K_SYNC_REPLY: return p.syncMs + p.syncPerKbMs * (this.digest !== null ? this.digest.replyBytes(e.a) : w.factory.syncBytes(e.a as S)) / 1024
      // The stream is set up already: only the entries merged.
      case K_SYNC_PUSH: return p.syncPerKbMs * w.factory.syncBytes(e.a as S) / 1024
    }
    // K_SYNC_FAIL: giving up costs what a timer does.
    return p.tickMs
  }

  /** The responder answers (and frees its inbound slot). */
  private answer (e: Ev, core: SimCore<M, S>, now: number): void {
    const w = this.w
    const i = e.node
    this.inbound[i]!--
    const sid = e.b as number
    const p = this.pending.get(sid)
    if (p === undefined) return
    let reply: unknown
    let bytes: number
    if (this.digest !== null) {
      // The responder answers the digest with what differs; it merges on the last frame.
      const r = core.onDigestRequest!(e.a, now)
      reply = r.reply
      bytes = this.digest.replyBytes(reply)
      w.apply(i, r.out)
    } else {
      const r = core.onSyncRequest(e.a as S, now)
      reply = r.reply
      bytes = w.factory.syncBytes(r.reply)
      w.apply(i, r.out)
    }
    w.traffic.syncBytes[i]! += bytes
    w.traffic.syncBytes[p.node]! += bytes
    const d = w.net.streamDelay(i, e.from)
    if (d >= 0) w.queue.push(w.sendsAt() + d, new Ev(K_SYNC_REPLY, e.from, i, p.gen, reply, sid))
  }

  /** The initiator merges the answer; in a digest exchange it sends the entries asked for. */
  private onReply (e: Ev, core: SimCore<M, S>, now: number): void {
    const w = this.w
    const i = e.node
    const sid = e.b as number
    const p = this.pending.get(sid)
    if (p === undefined || p.gen !== w.gen[i]) return
    this.pending.delete(sid)
    if (this.digest === null) { w.apply(i, core.onSyncReply(e.a as S, now)); return }
    const { push, out } = core.onDigestReply!(e.a, now)
    w.apply(i, out)
    const bytes = w.factory.syncBytes(push)
    w.traffic.syncBytes[i]! += bytes
    w.traffic.syncBytes[p.peer]! += bytes
    const d = w.net.streamDelay(i, p.peer)
    if (d >= 0) w.queue.push(w.sendsAt() + d, new Ev(K_SYNC_PUSH, p.peer, i, w.gen[p.peer]!, push, null))
  }

  /** The initiator gives up, unless the exchange completed or its process is gone. */
  private onFailed (e: Ev, core: SimCore<M, S>, now: number): void {
    const i = e.node
    const sid = e.b as number
    const p = this.pending.get(sid)
    if (p === undefined || p.gen !== this.w.gen[i]) return
    this.pending.delete(sid)
    this.w.apply(i, core.onSyncFailed(p.to, now))
  }

  /** Tells push-pull `sid`'s initiator at `at` that it failed. */
  private fail (sid: number, at: number): void {
    const p = this.pending.get(sid)
    if (p === undefined) return
    this.w.queue.push(at, new Ev(K_SYNC_FAIL, p.node, -1, p.gen, null, sid))
  }
}
