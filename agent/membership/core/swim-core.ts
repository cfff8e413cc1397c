/**
 * SwimCore: the sans-I/O membership protocol of one node. SWIM failure detection (one probe
 * per interval: direct ping, then ping-req through k helpers who answer ack or Lifeguard's
 * nack), Lifeguard local health and dynamic suspicion, dissemination piggybacked on every
 * datagram (transmit-limited queue), optional gossip-only datagrams while updates are
 * pending, push-pull anti-entropy and join (when and with whom: sync-schedule.ts). No clocks,
 * sockets or timers: the wrapper feeds datagrams, push-pull results and ticks with `now`, and
 * performs the returned Output.
 *
 * Own stalls: every call compares `now` with the deadline the core last asked for; a call
 * more than `stallGraceMs` late means THIS node was stalled (its answers may be queued behind
 * the timer that noticed), so a probe that ran through it accuses nobody (awareness rises
 * instead) and running suspicions move out by the stall.
 */

import { broadcastSize, datagramHeaderSize } from '../../../protocol/swim-wire.js'
import { Awareness } from './awareness.js'
import { retransmitLimit } from './broadcast-queue.js'
import { SWIM_DEFAULTS, U32_LIMIT } from './constants.js'
import { MemberState, emptyOutput, zeroStats } from './member-state.js'
import { Code, isLive, randomSlots } from './member-table.js'
import { UnknownSenders, answerStaleClaims, claimAbout, tellAccused, tellClaim, tellFailed, tellUnaware } from './notices.js'
import { ProbeOrder } from './probe-order.js'
import { RelayTable } from './relays.js'
import { answerDigest, pickWanted } from './digest.js'
import { SyncSchedule } from './sync-schedule.js'
import type {
  Broadcast, Datagram, Endpoint, MemberId, MemberView, MembershipCore, Output, Rng, SwimInit, SwimStats,
  SwimTiming, SyncState, SyncDigest, DigestReply
} from './types.js'

/** The probe in flight. */
interface Probe {
  seq: number
  id: MemberId
  phase: 'direct' | 'indirect'
  deadline: number
  /** Helpers asked (each owes us an ack or a nack). */
  expectedNacks: number
  nacks: number
  /**
   * This node stalled while the probe ran, or learned meanwhile that it was suspected or held
   * failed (its link was likely the one cut): its verdict accuses nobody.
   */
  stalled: boolean
}

/** How often failed and left members are checked for reaping (at most). */
const REAP_CHECK_MS = 60_000

/**
 * After the direct tells of an accusation (`tellAccused`), the subjects still held suspect, or
 * failed within `gossipToDeadMs`, are told again this long after, the wait doubling each time,
 * TELL_ACCUSED_REPEATS times (1, 3 and 7 s after the first tell). The first tell right after a heal is often lost where it matters most:
 * the kernel began resolving the subject's address while our link was down (we were probing
 * it: that is how we came to suspect it), and when that resolution fails (Linux: 3 probes, 1 s
 * apart) it drops what was queued for the address meanwhile, our tells sent after the link came
 * back included (bench:membership, 16 hosts: the suspicion then lasted until our round-robin
 * probe of the subject, 3.7 s; at 32 hosts up to 13 s). A tell after that resolves afresh.
 */
const TELL_ACCUSED_AGAIN_MS = 1_000
const TELL_ACCUSED_REPEATS = 3

/** The membership core of one node. */
export class SwimCore implements MembershipCore {
  private readonly t: SwimTiming
  private readonly init: SwimInit
  private readonly rng: Rng
  private readonly counters: SwimStats = zeroStats()
  private readonly awareness: Awareness
  private readonly state: MemberState
  private readonly order: ProbeOrder
  private readonly relays = new RelayTable()
  private readonly unknown = new UnknownSenders()
  /** When and with whom we push-pull (sync-schedule.ts). */
  private readonly sync: SyncSchedule
  private probe: Probe | null = null
  private seqNo: number
  private started = false
  /** Deadline asked for after the last call: a later call means we stalled. */
  private asked = Infinity
  private nextProbeAt = 0
  private nextGossipAt = 0
  /** When the last gossip round ran, and the queue's push count then (eager rounds). */
  private lastRoundAt = -Infinity
  private pushesAtRound = 0
  private nextReapAt = 0
  private nextTellAccusedAt = 0
  /** When the subjects of our suspicions are told again, and how many more times (TELL_ACCUSED_REPEATS). */
  private tellAgainAt = Infinity
  private tellsLeft = 0

  constructor (init: SwimInit, rng: Rng) {
    this.init = init
    this.rng = rng
    this.t = { ...SWIM_DEFAULTS, ...init.timing }
    this.awareness = new Awareness(this.t.awarenessMax)
    this.order = new ProbeOrder(rng)
    this.seqNo = Math.floor(rng() * U32_LIMIT)
    const start = Math.min(U32_LIMIT - 1, Math.max(0, Math.floor(init.incarnation)) + 1)
    this.state = new MemberState({ timing: this.t, stats: this.counters, awareness: this.awareness, selfInfo: init.selfInfo }, init.selfId, start)
    const own = this.state.selfInfo.addr
    const seeds = init.seeds.filter(s => s.host !== own.host || s.port !== own.port)
    this.sync = new SyncSchedule({ timing: this.t, rng, state: this.state, awareness: this.awareness, stats: this.counters, selfId: init.selfId, seeds })
  }

  /** Announce ourselves, schedule the timers, and push-pull the seeds (join). */
  start (now: number): Output {
    const out = emptyOutput()
    if (this.started) return out
    this.started = true
    this.state.start(now, out)
    this.nextProbeAt = now + this.rng() * this.t.probeIntervalMs
    this.nextGossipAt = now + this.t.gossipIntervalMs
    this.nextReapAt = now + Math.min(REAP_CHECK_MS, this.t.reapAfterMs)
    this.sync.start(now, out)
    return this.finish(now, out)
  }

  /** Handle one decoded datagram that arrived from `from` (its source endpoint). */
  receive (from: Endpoint, msg: Datagram, now: number): Output {
    const out = this.begin(now)
    if (!this.started || msg.from === this.init.selfId) { this.counters.ignored++; return this.finish(now, out) }
    if (msg.t !== 'nack') this.state.applyGossip(msg.gossip, msg.from, now, out)
    if (msg.t !== 'ping') tellFailed(this.state, from, msg.from, out)
    this.unknown.ask(this.state, from, msg.from, now, out)
    switch (msg.t) {
      case 'ping': this.onPing(from, msg, out); break
      case 'ack': this.onAck(msg.seq, out); break
      case 'nack': this.onNack(msg.seq); break
      case 'ping-req': this.onPingReq(from, msg, now, out); break
      case 'gossip': break
    }
    return this.finish(now, out)
  }

  /** The remote side of a push-pull: merge the requester's state, reply with ours. */
  onSyncRequest (state: SyncState, now: number): { reply: SyncState, out: Output } {
    const out = this.onDigestPush(state, now)
    return { reply: this.state.localState(false), out }
  }

  /** Digest push-pull (digest.ts), remote side: what the requester lacks, and what we want of its. */
  onDigestRequest (digest: SyncDigest, now: number): { reply: DigestReply, out: Output } {
    const out = this.begin(now)
    return { reply: answerDigest(this.state.localState(false), digest, this.t.gossipToDeadMs > 0), out: this.finish(now, out) }
  }

  /** Digest push-pull, our side: merge the entries as a push-pull reply; push what was asked for. */
  onDigestReply (reply: DigestReply, now: number): { push: SyncState, out: Output } {
    const out = this.onSyncReply(reply.state, now)
    return { push: pickWanted(this.state.localState(false), reply.wantMembers, reply.wantUser), out }
  }

  /** Merge a requester's entries (a full state, or the last frame of a digest push-pull). */
  onDigestPush (state: SyncState, now: number): Output {
    const out = this.begin(now)
    if (this.started) this.state.merge(state, !this.sync.joined && this.state.table.live <= 1, now, out)
    return this.finish(now, out)
  }

  /** Our push-pull came back. */
  onSyncReply (state: SyncState, now: number): Output {
    const out = this.begin(now)
    if (this.started) this.sync.onReply(state, now, out)
    return this.finish(now, out)
  }

  /**
   * Our push-pull to `to` failed (a join is retried while we know no other member). When it
   * went to a member we hold failed (a catch-up across a heal) that really is gone, catch up
   * with an alive member instead.
   */
  onSyncFailed (to: Endpoint, now: number): Output {
    const out = this.begin(now)
    if (this.started) this.sync.onFailed(to, out)
    return this.finish(now, out)
  }

  /** Run whatever is due. */
  tick (now: number): Output {
    const out = this.begin(now)
    if (!this.started) return out
    for (const [slot, s] of this.state.suspicions) {
      if (s.deadline > now) continue
      this.state.declareFailed(slot, this.init.selfId, now, out)
      // Our own suspicion became a verdict: tell its subject too (see probeTimedOut).
      if (this.t.gossipToDeadMs > 0 && s.accusers[0] === this.init.selfId) tellClaim(this.state, slot, out)
    }
    for (const r of this.relays.expire(now)) out.send.push({ to: r.to, msg: { t: 'nack', seq: r.seq, from: this.init.selfId } })
    if (this.probe !== null && now >= this.probe.deadline) this.probeTimedOut(now, out)
    if (this.probe === null && now >= this.nextProbeAt && !this.state.left) this.startProbe(now, out)
    if (now >= this.nextGossipAt) {
      if (this.t.gossipIntervalMs > 0 && this.state.queue.length > 0) this.gossipRound(this.t.gossipNodes, now, out)
      if (this.t.gossipIntervalMs > 0 && this.recentDeath(now)) this.gossipToDead(now, out)
      this.nextGossipAt = now + Math.max(1, this.t.gossipIntervalMs)
    }
    if (now >= this.tellAgainAt) {
      // Only subjects still held suspect (or failed within gossipToDeadMs) are told; once they
      // refuted there is nobody left and this sends nothing.
      if (!this.state.left) tellAccused(this.state, this.rng, this.t.gossipToDeadMs, now, out)
      this.tellsLeft--
      this.tellAgainAt = this.tellsLeft > 0 ? now + TELL_ACCUSED_AGAIN_MS * 2 ** (TELL_ACCUSED_REPEATS - this.tellsLeft) : Infinity
    }
    this.sync.tick(now, out)
    if (now >= this.nextReapAt) {
      this.state.reap(now)
      this.nextReapAt = now + Math.min(REAP_CHECK_MS, this.t.reapAfterMs)
    }
    return this.finish(now, out)
  }

  /** The earliest time `tick` has something to do. */
  nextDeadline (): number {
    if (!this.started) return Infinity
    let d = Math.min(this.sync.nextDeadline(), this.nextReapAt)
    if (this.probe !== null) d = Math.min(d, this.probe.deadline)
    else if (!this.state.left) d = Math.min(d, this.nextProbeAt)
    if (this.t.gossipIntervalMs > 0 && (this.state.queue.length > 0 || this.recentDeath(this.nextGossipAt))) d = Math.min(d, this.nextGossipAt)
    if (this.eagerRoundDue()) d = Math.min(d, this.lastRoundAt + this.t.eagerGossipMs)
    for (const s of this.state.suspicions.values()) d = Math.min(d, s.deadline)
    return Math.min(d, this.relays.nextDeadline(), this.tellAgainAt)
  }

  /** Our facts changed: sign and announce a new incarnation. */
  refreshSelf (now: number): Output {
    const out = this.begin(now)
    if (this.started && !this.state.left) this.state.bumpSelf(this.state.incarnation + 1, false, now, out)
    return this.finish(now, out)
  }

  /** Disseminate an application broadcast (a higher version supersedes). */
  broadcast (key: string, data: Uint8Array, version: number, now: number): Output {
    const out = this.begin(now)
    if (this.started) this.state.applyUser({ key, data, version }, true, undefined, out)
    // Our own broadcast is not news to us: drop the echo event.
    out.events = out.events.filter(e => !(e.t === 'user' && e.key === key && e.from === undefined))
    return this.finish(now, out)
  }

  /** Leave gracefully: sign a `left` info, tell a few members directly, stop probing. */
  leave (now: number): Output {
    const out = this.begin(now)
    if (!this.started || this.state.left) return this.finish(now, out)
    this.state.bumpSelf(this.state.incarnation + 1, true, now, out)
    this.probe = null
    this.gossipRound(this.t.leaveFanout, now, out)
    return this.finish(now, out)
  }

  /** Every known member, self included. */
  members (): MemberView[] {
    const out: MemberView[] = []
    const t = this.state.table
    for (let slot = 0; slot < t.capacity; slot++) if (t.code(slot) !== Code.Free) out.push(this.state.view(slot))
    return out
  }

  /** One member, or undefined. */
  member (id: MemberId): MemberView | undefined {
    const slot = this.state.table.slot(id)
    return slot < 0 ? undefined : this.state.view(slot)
  }

  /** Live members (alive or suspect), self included. */
  size (): number { return this.state.table.live }

  /** Whether a push-pull of ours has completed since start (the join is done). */
  synced (): boolean { return this.sync.joined }

  /** Counters since construction. */
  stats (): SwimStats { return { ...this.counters, deferred: this.sync.deferred } }

  /** Broadcasts still queued for piggybacking. */
  pending (): number { return this.state.queue.length }

  /** Lifeguard health score (0 healthy). */
  health (): number { return this.awareness.health }

  /** Our current incarnation. */
  get incarnation (): number { return this.state.incarnation }

  // ---- probing ----

  private startProbe (now: number, out: Output): void {
    const t = this.state.table
    const self = this.state.slotOfSelf
    const slot = this.order.next(t.capacity, s => s !== self && isLive(t.code(s)))
    this.nextProbeAt = now + this.awareness.scale(this.t.probeIntervalMs)
    if (slot < 0) return
    const info = t.info(slot)
    const seq = this.nextSeq()
    this.probe = { seq, id: info.id, phase: 'direct', deadline: now + this.awareness.scale(this.t.probeTimeoutMs), expectedNacks: 0, nacks: 0, stalled: false }
    this.counters.probes++
    this.sendWithGossip(info.addr, { t: 'ping', seq, from: this.init.selfId, target: info.id, gossip: [] }, out)
  }

  private probeTimedOut (now: number, out: Output): void {
    const p = this.probe as Probe
    const slot = this.state.table.slot(p.id)
    if (slot < 0 || !isLive(this.state.table.code(slot))) { this.probe = null; return }
    const info = this.state.table.info(slot)
    if (p.phase === 'direct') {
      const self = this.state.slotOfSelf
      const helpers = randomSlots(this.state.table, this.rng, this.t.indirectChecks, s => s !== self && s !== slot && this.state.table.code(s) === Code.Alive)
      for (const h of helpers) {
        const msg: Datagram = { t: 'ping-req', seq: p.seq, from: this.init.selfId, target: p.id, targetAddr: info.addr, gossip: [] }
        this.sendWithGossip(this.state.table.info(h).addr, msg, out)
      }
      // One more direct try alongside (memberlist's TCP fallback; here a second datagram).
      this.sendWithGossip(info.addr, { t: 'ping', seq: p.seq, from: this.init.selfId, target: p.id, gossip: [] }, out)
      if (helpers.length > 0) this.counters.indirectProbes++
      p.phase = 'indirect'
      p.expectedNacks = helpers.length
      p.deadline = now + this.awareness.scale(this.t.indirectTimeoutMs)
      return
    }
    this.probe = null
    if (p.stalled) {
      // We were the slow one: the answers may be queued behind the timer that fired late.
      this.awareness.apply(1)
      return
    }
    // Lifeguard: helpers that neither acked nor nacked hint that our own network is the problem.
    this.awareness.apply(p.expectedNacks > 0 ? p.expectedNacks - p.nacks : 1)
    this.state.applySuspect(p.id, info.incarnation, this.init.selfId, now, out)
    // Tell the member our suspicion directly (Lifeguard's buddy system), besides gossip: only
    // its refutation clears it, and gossip may never bring it there. After a heal the others
    // ignore our claims for `revivedQuietMs` (we came back from failed), so nobody relays
    // them; our suspicion then reached its subject only if one of our ~16 gossip datagrams
    // happened to go to it, and otherwise outlived the heal by a minute (the simulator,
    // 1,000 nodes, isolate: until our next periodic push-pull). One datagram; lost when the
    // member is really down. Part of the heal rules `gossipToDeadMs` switches.
    if (this.t.gossipToDeadMs > 0) tellClaim(this.state, slot, out)
  }

  private onPing (from: Endpoint, msg: Extract<Datagram, { t: 'ping' }>, out: Output): void {
    if (msg.target !== this.init.selfId) { this.counters.ignored++; return }
    // A member we hold failed or suspect is talking to us: tell it, so it refutes (only its
    // refutation clears our claim) and rejoins everyone's view.
    const slot = this.state.table.slot(msg.from)
    const claim = slot >= 0 ? claimAbout(this.state, slot) : undefined
    const extra: Broadcast[] = claim !== undefined && (claim.t === 'dead' || this.t.gossipToDeadMs > 0) ? [claim] : []
    this.sendWithGossip(from, { t: 'ack', seq: msg.seq, from: this.init.selfId, gossip: extra }, out)
  }

  private onAck (seq: number, out: Output): void {
    const relay = this.relays.take(seq)
    if (relay !== undefined) {
      this.sendWithGossip(relay.to, { t: 'ack', seq: relay.seq, from: this.init.selfId, gossip: [] }, out)
      return
    }
    const p = this.probe
    if (p === null || p.seq !== seq) { this.counters.ignored++; return }
    this.counters.acks++
    if (p.phase === 'direct') this.awareness.apply(-1)
    this.probe = null
    // A member we hold suspect answered: it is up and has not refuted, so it never heard our
    // suspicion (after a cut our broadcast spent its retransmits on the dead link, and on the
    // real hosts the suspicion then outlived the heal by 24-29 s). Tell it, one datagram.
    // Part of the heal rules `gossipToDeadMs` switches (0: the core as before them).
    const slot = this.state.table.slot(p.id)
    if (this.t.gossipToDeadMs > 0 && slot >= 0 && this.state.table.code(slot) === Code.Suspect) tellClaim(this.state, slot, out)
  }

  private onNack (seq: number): void {
    const p = this.probe
    if (p === null || p.seq !== seq || p.phase !== 'indirect' || p.nacks >= p.expectedNacks) { this.counters.ignored++; return }
    this.counters.nacks++
    p.nacks++
  }

  private onPingReq (from: Endpoint, msg: Extract<Datagram, { t: 'ping-req' }>, now: number, out: Output): void {
    if (msg.target === this.init.selfId) {
      this.sendWithGossip(from, { t: 'ack', seq: msg.seq, from: this.init.selfId, gossip: [] }, out)
      return
    }
    if (this.relays.full) { this.counters.ignored++; return }
    const seq = this.nextSeq()
    // The nack must reach the requester before its indirect deadline: 80 % of the probe timeout.
    this.relays.add(seq, { to: from, seq: msg.seq, deadline: now + 0.8 * this.t.probeTimeoutMs })
    const ping: Datagram = { t: 'ping', seq, from: this.init.selfId, target: msg.target, gossip: [] }
    const slot = this.state.table.slot(msg.target)
    if (slot >= 0) {
      // A member we know: ping it where it says it is, not where the requester says.
      this.sendWithGossip(this.state.table.info(slot).addr, ping, out)
    } else {
      // Unknown to us (a joiner we have not heard of yet): a bare ping, so a ping-req cannot
      // turn us into an amplifier of gossip toward an arbitrary address.
      out.send.push({ to: msg.targetAddr, msg: ping })
    }
  }

  // ---- dissemination ----

  /** Fill a datagram's gossip from the queue (after any `extra` already in it) and send it. */
  private sendWithGossip (to: Endpoint, msg: Datagram, out: Output): void {
    if (msg.t !== 'nack') {
      let used = datagramHeaderSize(msg)
      for (const b of msg.gossip) used += broadcastSize(b)
      const limit = retransmitLimit(this.t.retransmitMult, this.state.table.live)
      const hardMax = msg.gossip.length > 0 ? 0 : this.t.maxDatagramBytes - used
      const taken = this.state.queue.take(this.t.datagramBudget - used, hardMax, limit)
      this.counters.broadcastsSent += taken.length
      if (taken.length > 0) msg.gossip = msg.gossip.length > 0 ? [...msg.gossip, ...taken] : taken
    }
    out.send.push({ to, msg })
  }

  private gossipRound (fanout: number, now: number, out: Output): void {
    this.lastRoundAt = now
    this.pushesAtRound = this.state.queue.pushes
    const self = this.state.slotOfSelf
    const targets = randomSlots(this.state.table, this.rng, fanout, s => s !== self && isLive(this.state.table.code(s)))
    for (const slot of targets) {
      if (this.state.queue.length === 0) break
      this.sendWithGossip(this.state.table.info(slot).addr, { t: 'gossip', from: this.init.selfId, gossip: [] }, out)
    }
  }

  /**
   * Whether news was queued since the last gossip round, and eager rounds are on (eagerGossipMs)
   * and this node is healthy: one short of CPU (Lifeguard score above 0: late timers, missed
   * acks) leaves its news to the interval's rounds, whose datagrams carry more of it each (the
   * simulator's 64 nodes starting at once on 2 cores formed 14 % slower with eager rounds, 3 % with this rule).
   */
  private eagerRoundDue (): boolean {
    return this.started && !this.state.left && this.t.gossipIntervalMs > 0 && this.t.eagerGossipMs > 0 &&
      this.awareness.health === 0 && this.state.queue.length > 0 && this.state.queue.pushes !== this.pushesAtRound
  }

  /** Whether some member became failed less than `gossipToDeadMs` before `at`. */
  private recentDeath (at: number): boolean {
    return this.t.gossipToDeadMs > 0 && at - this.state.lastFailedAt < this.t.gossipToDeadMs
  }

  /**
   * Gossip to the recently dead (memberlist's GossipToTheDeadTime): one random pick among the
   * live members and those held failed for less than `gossipToDeadMs`; when it is a failed
   * one, it gets our `dead` verdict (one small datagram, `tellFailed`). Nothing else crosses to
   * a member we hold failed (we no longer probe it or gossip to it), so after a short cut
   * heals it waited for a reconnect push-pull; the verdict makes it refute, and its own
   * `tellFailed` answer makes us refute if it holds us failed. Unlike memberlist, the dead are
   * not candidates of the gossip rounds themselves: there they took a share of the fanout and
   * of each broadcast's retransmits into a link that is down (a half partition of 400 nodes in
   * the simulator was no longer detected within 30 s, and its heal killed live members), and
   * the verdict goes alone (piggybacked broadcasts spent their retransmits into the cut the
   * same way). It runs whether or not the queue holds anything: after a cut the survivors'
   * queues are soon empty, and the verdict is the message. At most one datagram per gossip
   * interval: after one crash, each node sends the dead member 5/N datagrams a second for
   * `gossipToDeadMs`.
   */
  private gossipToDead (now: number, out: Output): void {
    const t = this.state.table
    const self = this.state.slotOfSelf
    const since = now - this.t.gossipToDeadMs
    const slot = randomSlots(t, this.rng, 1, s => {
      if (s === self) return false
      const c = t.code(s)
      return isLive(c) || (c === Code.Failed && t.lastChange(s) > since)
    })[0]
    if (slot === undefined || t.code(slot) !== Code.Failed) return
    // One verdict a gossip interval for the whole set of recent deaths, not one per dead
    // member: across a half partition every node would send 2.5 a second, each answered by a
    // refutation or a re-announcement, for no faster heal (a side's refutations are learned in
    // bulk by push-pull). A single cut-off node still gets one every interval.
    const k = this.state.failedSince(since)
    if (k > 1 && this.rng() * k >= 1) return
    tellFailed(this.state, t.info(slot).addr, t.info(slot).id, out)
  }

  // ---- helpers ----

  private nextSeq (): number {
    this.seqNo = (this.seqNo + 1) % U32_LIMIT
    return this.seqNo
  }

  /** Notice our own stall before handling a call. */
  private begin (now: number): Output {
    const out = emptyOutput()
    if (this.started && now - this.asked > this.t.stallGraceMs) {
      const ms = now - this.asked
      this.counters.stalls++
      // Lifeguard: late timers mean THIS node is the slow one; stretch our probe interval and
      // timeouts (and our suspicion timeouts) until our probes succeed again.
      this.awareness.apply(1)
      this.sync.noteLate()
      out.events.push({ t: 'stall', ms })
      for (const s of this.state.suspicions.values()) { s.start += ms; s.deadline += ms }
      if (this.probe !== null) this.probe.stalled = true
    }
    return out
  }

  private finish (now: number, out: Output): Output {
    answerStaleClaims(this.state, out)
    tellUnaware(this.state, out)
    if (this.state.declaredDead) {
      // We were held failed: catch up by one push-pull now (at most one per base interval),
      // instead of waiting up to an N-scaled interval for what changed while we were away.
      this.state.declaredDead = false
      this.sync.heldFailed(now, out)
    }
    if (this.state.accused) {
      // Lifeguard: we are the likely culprit. A probe in flight sent its pings through our cut,
      // so its timeout says nothing about its target: it accuses nobody, like a probe we
      // stalled through (the simulator, 1,000 nodes: such a probe timed out 1 s after the
      // heal and made the only suspicion that outlived it, by a minute).
      if (this.t.gossipToDeadMs > 0 && this.probe !== null) this.probe.stalled = true
      // We were suspected or held failed: most likely we were the one cut off or stalled, and
      // the suspicions we made meanwhile spent their retransmits where nobody heard them.
      // Their subjects are told directly (at most once per base interval). A refutation is
      // enough: after a short cut the survivors' `suspect` claims often reach us first and
      // we refute before any `dead` claim arrives (bench:membership, 8 hosts: the victim's
      // own suspicion of a member then outlived the heal by ~19 s).
      this.state.accused = false
      if (this.t.gossipToDeadMs > 0 && now >= this.nextTellAccusedAt) {
        this.nextTellAccusedAt = now + this.t.pushPullIntervalMs
        tellAccused(this.state, this.rng, this.t.gossipToDeadMs, now, out)
        this.tellsLeft = TELL_ACCUSED_REPEATS
        this.tellAgainAt = now + TELL_ACCUSED_AGAIN_MS
      }
    }
    if (this.eagerRoundDue() && now - this.lastRoundAt >= this.t.eagerGossipMs) {
      // News out at once (eagerGossipMs): the datagrams leave before the wrapper's listeners
      // run. The interval's rounds keep their schedule (gossip to the recently dead rides on them).
      this.gossipRound(this.t.gossipNodes, now, out)
    }
    this.asked = Math.max(now, this.nextDeadline())
    return out
  }
}
