/**
 * Cluster membership: the pure SWIM core (agent/membership/core) driven by real clocks, its
 * datagrams through the authenticated UDP channel (codec protocol/swim-wire.ts), its push-pull
 * over an on-demand libp2p stream (sync-stream.ts). This wrapper owns everything the core must
 * not do: signing this node's record, verifying every received record BEFORE the core sees it
 * (verified-records.ts), validating application broadcasts (user-broadcasts.ts) before the core
 * stores or relays them, persisting the incarnation, re-collecting facts, telling libp2p where
 * members listen (member-views.ts, with the API form of members and the change listeners), and
 * the graceful leave. Per-agent work is flat in N: one probe per period,
 * updates piggybacked with a retransmit limit near log N, a rare push-pull.
 */

import { setTimeout as sleep } from 'node:timers/promises'
import type { Member } from '../../protocol/members.js'
import { MAX_SYNC_BYTES, decodeDatagram, decodeSyncState, encodeDatagram, encodeSyncState } from '../../protocol/swim-wire.js'
import { FactsStream } from '../facts/facts-stream.js'
import { SwimCore } from './core/swim-core.js'
import type {
  AliveInfo, Broadcast, CoreEvent, Datagram, DigestReply, Endpoint, MembershipCore, Output, SyncDigest, SyncRequest, SyncState, UserBroadcast
} from './core/types.js'
import { pickWanted } from './core/digest.js'
import { AGENT_SWIM_TIMING, MEMBER_FACTS_RETRY_MAX_MS, MEMBER_FACTS_RETRY_MS, MEMBERSHIP_DEFAULTS, type MembershipTiming } from './constants.js'
import { EligibilityGate } from './eligibility-gate.js'
import { InputScreen } from './input-screen.js'
import { MemberFacts } from './member-facts.js'
import { MemberViews } from './member-views.js'
import { SelfRecord } from './self-record.js'
import { SyncStream } from './sync-stream.js'
import { BroadcastRouter, type BroadcastHandler, type UserBroadcasts } from './user-broadcasts.js'
import { VerifiedRecords, endpointMultiaddr } from './verified-records.js'
import type { MemberChangeListener, MembershipComponents, MembershipInit } from './membership-contract.js'

/** Where a push-pull peer whose address we do not know "sent" deferred broadcasts from (unused by the core for gossip). */
const NO_ENDPOINT: Endpoint = { host: '0.0.0.0', port: 0 }

/** The membership service of one agent. */
export class Membership implements UserBroadcasts {
  private readonly c: MembershipComponents
  private readonly init: MembershipInit
  private readonly timing: MembershipTiming
  private readonly selfId: string
  private readonly records = new VerifiedRecords()
  private readonly router = new BroadcastRouter()
  /** Highest version seen per user key: staler copies are dropped before any verification. */
  private readonly userVersions = new Map<string, number>()
  /** Latest user broadcast per key (ours and validated ones), for joins built here. */
  private readonly userLatest = new Map<string, UserBroadcast>()
  private readonly screen: InputScreen
  private readonly sync: SyncStream
  private core: MembershipCore | null = null
  private readonly self: SelfRecord
  private readonly factsStream: FactsStream
  private readonly memberFacts: MemberFacts
  private readonly eligibility: EligibilityGate
  /** Members in API form and their change listeners (member-views.ts). */
  private readonly views: MemberViews
  private status: 'stopped' | 'starting' | 'started' | 'stopping' = 'stopped'
  private tickTimer: NodeJS.Timeout | null = null
  private tickAt = Infinity
  private readonly timers: NodeJS.Timeout[] = []
  private unlisten: (() => void) | null = null
  private readonly inFlight = new Set<Promise<void>>()
  private persisting = Promise.resolve()
  private readonly background = new AbortController()
  private readonly now: () => number
  /** Counters for logs and tests. */
  readonly counters = { badDatagrams: 0, refusedRecords: 0, refusedBroadcasts: 0, syncs: 0, syncFailures: 0, syncsFullState: 0 }

  constructor (components: MembershipComponents, init: MembershipInit) {
    this.c = components
    this.init = init
    this.timing = { ...MEMBERSHIP_DEFAULTS, ...init.timing }
    this.selfId = components.libp2p.peerId.toString()
    this.now = components.now ?? Date.now
    this.self = new SelfRecord(components, { peerId: this.selfId, nodeName: init.nodeName, labels: init.labels, managerEligible: init.managerEligible, advertise: init.advertise, ...(init.attestation !== undefined ? { attestation: init.attestation } : {}) })
    this.eligibility = new EligibilityGate(components.attestations ?? null, components.logger)
    this.screen = new InputScreen({
      selfId: this.selfId, records: this.records, router: this.router, userVersions: this.userVersions, logger: components.logger, now: this.now, counters: this.counters
    })
    this.sync = new SyncStream({
      libp2p: components.libp2p,
      logger: components.logger,
      codec: { encode: encodeSyncState, decode: decodeSyncState },
      answer: (from, state) => this.mergeScreened(from, state, null, (core, s, now) => { const r = core.onSyncRequest(s, now); return { out: r.out, value: r.reply } }),
      answerDigest: (from, digest) => this.answerDigest(digest),
      takePush: (from, state) => { this.mergeScreened(from, state, null, (core, s, now) => ({ out: core.onDigestPush(s, now), value: null })) },
      onBadInput: (from, reason) => { this.screen.badInput(from, 'sync', reason) }
    }, { maxBytes: MAX_SYNC_BYTES, timeoutMs: this.timing.syncTimeoutMs, maxInbound: this.timing.maxInboundSyncs })
    this.factsStream = new FactsStream({ libp2p: components.libp2p, logger: components.logger, current: () => this.self.encoded })
    this.memberFacts = new MemberFacts({
      fetch: async (id, addr, digest, signal) => await this.factsStream.fetch(id, addr, digest, signal),
      logger: components.logger,
      onFetched: id => { this.views.emitChange(id) },
      currentDigest: id => this.records.get(id)?.facts ?? null
    })
    this.views = new MemberViews({
      selfId: this.selfId,
      logger: components.logger,
      now: this.now,
      records: this.records,
      self: this.self,
      memberFacts: this.memberFacts,
      eligibility: this.eligibility,
      view: id => this.core?.member(id)
    })
  }

  /** Sign our record, start the core, serve push-pull, take datagrams, join the seeds. */
  async start (): Promise<void> {
    if (this.status !== 'stopped') throw new Error(`membership is ${this.status}`)
    this.status = 'starting'
    await this.self.refresh()
    const incarnation = await this.c.incarnations.load()
    const self = this.init.advertise
    const seeds = this.init.seeds.filter(s => !(s.host === self.host && s.port === self.port))
    this.core = new SwimCore({
      selfId: this.selfId,
      selfInfo: (inc, left) => this.selfInfo(inc, left),
      incarnation,
      seeds,
      timing: { ...AGENT_SWIM_TIMING, ...this.init.swim }
    }, Math.random)
    await this.sync.start()
    await this.factsStream.start()
    this.unlisten = this.c.datagrams.onDatagram((from, payload) => { this.onDatagram(from, payload) })
    this.status = 'started'
    this.perform(this.core.start(this.now()))
    this.timers.push(setInterval(() => { void this.refreshFacts() }, this.timing.factsRefreshMs))
    for (const t of this.timers) t.unref()
  }

  /**
   * Graceful leave, then stop: the core announces a signed `left` (datagrams to a few
   * members), and the leave is also pushed over streams to a few live members, bounded by
   * leaveTimeoutMs, so the cluster shows `left`, not `failed`.
   */
  async stop (): Promise<void> {
    if (this.status !== 'started' || this.core === null) return
    this.status = 'stopping'
    for (const t of this.timers) clearInterval(t)
    this.timers.length = 0
    if (this.tickTimer !== null) clearTimeout(this.tickTimer)
    this.tickTimer = null
    const core = this.core
    try {
      this.perform(core.leave(this.now()))
      const peers = core.members().filter(m => m.id !== this.selfId && m.status === 'alive')
      const picks = shuffle(peers).slice(0, this.timing.leavePushPeers)
      const deadline = AbortSignal.timeout(this.timing.leaveTimeoutMs)
      const state = this.stateForSync(false)
      // Pushed, not merged: a digest peer gets what it asks for (our `left` record among it).
      const push = { reply: () => {}, digestReply: (r: DigestReply) => pickWanted(state, r.wantMembers, r.wantUser) }
      await Promise.all(picks.map(async p => await this.sync.exchange(p.info.addr, p.id, state, push, deadline)))
    } catch (err) {
      this.c.logger.warn({ err }, 'leave announcement incomplete')
    }
    this.background.abort()
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise(resolve => setTimeout(resolve, this.timing.leaveTimeoutMs).unref())])
    this.unlisten?.()
    this.unlisten = null
    this.memberFacts.stop()
    await this.factsStream.stop()
    await this.sync.stop()
    await this.persisting
    this.status = 'stopped'
  }

  /** Where member `id` listens for libp2p (its record's endpoint), or undefined when it is not in the view. */
  dialAddress (id: string): string | undefined {
    const v = this.core?.member(id)
    return v === undefined ? undefined : endpointMultiaddr(v.info.addr)
  }

  /** The current view in API form, sorted by name. */
  members (): Member[] {
    const core = this.core
    if (core === null) return []
    const out: Member[] = []
    for (const v of core.members()) {
      const m = this.views.toMember(v)
      if (m !== null) out.push(m)
    }
    return out.sort((a, b) => a.name.localeCompare(b.name))
  }

  /**
   * The view with every reachable member's facts fetched (those not cached are fetched now, a
   * few at a time, until `signal` fires; a member whose fetch fails shows `facts: null`).
   */
  async membersWithFacts (signal: AbortSignal): Promise<Member[]> {
    const wanted = []
    for (const v of this.core?.members() ?? []) {
      const digest = this.records.get(v.id)?.facts ?? null
      if (v.id !== this.selfId && digest !== null && (v.status === 'alive' || v.status === 'suspect')) wanted.push({ id: v.id, addr: endpointMultiaddr(v.info.addr), digest })
    }
    await this.memberFacts.load(wanted, signal)
    return this.members()
  }

  /**
   * Member `id` with its facts fetched: asked again (250 ms, doubling to 2 s, apart) while the
   * fetch fails, until it succeeds or `signal` fires. A member that just restarted may gossip
   * before it serves its facts, and recent failures do not hold this ask back (they do hold
   * back membersWithFacts). Null when `id` is not in the view; `facts: null` when they did not come.
   */
  async memberWithFacts (id: string, signal: AbortSignal): Promise<Member | null> {
    for (let wait = MEMBER_FACTS_RETRY_MS; !signal.aborted; wait = Math.min(wait * 2, MEMBER_FACTS_RETRY_MAX_MS)) {
      const v = this.core?.member(id)
      const digest = this.records.get(id)?.facts ?? null
      if (v === undefined || id === this.selfId || digest === null || (v.status !== 'alive' && v.status !== 'suspect')) break
      if (await this.memberFacts.fetchNow({ id, addr: endpointMultiaddr(v.info.addr), digest }, signal)) break
      await sleep(wait, undefined, { signal }).catch(() => {})
    }
    const v = this.core?.member(id)
    return v === undefined ? null : this.views.toMember(v)
  }

  /**
   * Keep every member's facts fetched (the manager's discovery and SSH targets read them
   * synchronously) until the returned function is called; members whose facts arrive are
   * reported to onChange listeners again.
   */
  watchFacts (): () => void {
    const unwatch = this.memberFacts.watch()
    for (const v of this.core?.members() ?? []) if (v.status === 'alive') this.views.noticeFacts(v.id, v.info.addr)
    return unwatch
  }

  /** Our own peer id. */
  get peerId (): string { return this.selfId }

  /** Whether a push-pull of our own has completed (the join; the election waits for it). */
  synced (): boolean { return this.core?.synced() ?? false }

  /** Be told about every member change (alive, suspect, failed, left, or a new record). */
  onChange (listener: MemberChangeListener): () => void { return this.views.onChange(listener) }

  /** Core counters plus the wrapper's, for logs, tests and benchmarks. */
  stats (): Record<string, number> {
    return {
      ...(this.core?.stats() ?? {}),
      // Lifeguard local health (0 healthy): probe interval and timeouts run at score + 1 times.
      healthScore: this.core?.health() ?? 0,
      ...this.counters,
      syncsRefused: this.sync.refused,
      ...prefixed('records', this.records.stats),
      ...prefixed('facts', this.factsStream.stats),
      ...prefixed('factsCache', this.memberFacts.stats),
      ...prefixed('eligibility', this.eligibility.stats)
    }
  }

  /** @inheritdoc */
  broadcast (key: string, data: Uint8Array, version: number): void {
    const core = this.core
    if (core === null || this.status !== 'started') return
    this.userVersions.set(key, Math.max(version, this.userVersions.get(key) ?? 0))
    this.userLatest.set(key, { key, data, version })
    this.perform(core.broadcast(key, data, version, this.now()))
  }

  /** @inheritdoc */
  handle (prefix: string, handler: BroadcastHandler): () => void {
    return this.router.handle(prefix, handler)
  }

  /** @inheritdoc */
  latest (key: string): { data: Uint8Array, version: number } | undefined {
    return this.userLatest.get(key)
  }

  // ---- the core's effects ----

  /** Perform a core output: send datagrams, run push-pulls, act on events, reschedule. */
  private perform (out: Output): void {
    for (const s of out.send) this.sendDatagram(s.to, s.msg)
    for (const r of out.syncs) this.track(this.runSync(r))
    for (const e of out.events) this.onEvent(e)
    this.reschedule()
  }

  private sendDatagram (to: Endpoint, msg: Datagram): void {
    try {
      this.c.datagrams.send(to, encodeDatagram(msg))
    } catch (err) {
      this.c.logger.debug({ to, err: (err as Error).message }, 'datagram not sent')
    }
  }

  private async runSync (r: SyncRequest): Promise<void> {
    this.counters.syncs++
    const from = r.id ?? `${r.to.host}:${r.to.port}`
    let merged = false
    const result = await this.sync.exchange(r.to, r.id, r.state, {
      reply: state => { merged = true; this.mergeScreened(from, state, r.to, (core, s, now) => ({ out: core.onSyncReply(s, now), value: null })) },
      digestReply: reply => {
        merged = true
        return this.mergeScreened(from, reply.state, r.to, (core, s, now) => { const d = core.onDigestReply({ ...reply, state: s }, now); return { out: d.out, value: d.push } })
      }
    }, this.background.signal)
    // Exchanges with agents from before the digest push-pull (a rolling upgrade under way).
    if (result.ok && result.value === '2.0.0') this.counters.syncsFullState++
    const core = this.core
    if (core === null || this.status !== 'started' || result.ok) return
    this.counters.syncFailures++
    this.c.logger.debug({ to: r.to, reason: result.reason }, 'push-pull failed')
    // A digest exchange that failed after its reply was merged did its work (the peer only
    // misses our part, which its own push-pulls bring): the core is not told it failed.
    if (!merged) this.perform(core.onSyncFailed(r.to, this.now()))
  }

  /**
   * Screen a peer's push-pull entries (records verified, broadcasts validated), let the core
   * merge them (`merge`: a 2.0.0 request or reply, a 3.0.0 reply or last frame), then give the
   * broadcasts set aside a second look. Null when not running.
   */
  private mergeScreened<T> (from: string, state: SyncState, endpoint: Endpoint | null, merge: (core: MembershipCore, screened: SyncState, now: number) => { out: Output, value: T }): T | null {
    const core = this.core
    if (core === null || this.status !== 'started') return null
    const deferred: UserBroadcast[] = []
    const { out, value } = merge(core, this.screen.screenSync(from, state, deferred), this.now())
    this.perform(out)
    this.retryDeferred(from, endpoint ?? state.members.find(m => m.info.id === state.from)?.info.addr ?? NO_ENDPOINT, state.from, deferred)
    return value
  }

  /** 3.0.0, serving: a digest holds no records, so nothing to verify; the core answers it. */
  private answerDigest (digest: SyncDigest): DigestReply | null {
    const core = this.core
    if (core === null || this.status !== 'started') return null
    const { reply, out } = core.onDigestRequest(digest, this.now())
    this.perform(out)
    return reply
  }

  private onEvent (e: CoreEvent): void {
    switch (e.t) {
      case 'member': this.views.onMemberEvent(e); break
      case 'user':
        this.userVersions.set(e.key, Math.max(e.version, this.userVersions.get(e.key) ?? 0))
        this.userLatest.set(e.key, { key: e.key, data: e.data, version: e.version })
        try { this.router.deliver(e.key, e.data, e.version) } catch (err) { this.c.logger.error({ err, key: e.key }, 'broadcast consumer failed') }
        break
      case 'incarnation': {
        const value = e.value
        this.persisting = this.persisting.then(async () => { await this.c.incarnations.save(value) })
          .catch(err => { this.c.logger.error({ err }, 'persisting the incarnation failed') })
        break
      }
      case 'stall':
        this.c.logger.debug({ stalledMs: e.ms }, 'this agent stalled; its probes accuse nobody and suspicion deadlines moved out')
        break
    }
  }

  // ---- time ----

  private reschedule (): void {
    const core = this.core
    if (core === null || this.status !== 'started') return
    const now = this.now()
    const due = Math.min(core.nextDeadline(), now + this.timing.maxTickGapMs)
    if (this.tickTimer !== null && due >= this.tickAt) return
    if (this.tickTimer !== null) clearTimeout(this.tickTimer)
    this.tickAt = due
    this.tickTimer = setTimeout(() => { this.onTick() }, Math.max(0, due - now))
    this.tickTimer.unref()
  }

  private onTick (): void {
    this.tickTimer = null
    this.tickAt = Infinity
    const core = this.core
    if (core === null || this.status !== 'started') return
    try {
      this.perform(core.tick(this.now()))
    } catch (err) {
      this.c.logger.error({ err }, 'membership tick failed')
      this.reschedule()
    }
  }

  // ---- input: everything is checked before the core sees it ----

  private onDatagram (from: Endpoint, payload: Uint8Array): void {
    const core = this.core
    if (core === null || this.status !== 'started') return
    const d = decodeDatagram(payload)
    if (!d.ok) {
      this.counters.badDatagrams++
      this.screen.badInput(`${from.host}:${from.port}`, 'datagram', d.reason)
      return
    }
    const msg = d.value
    if (msg.from === this.selfId) return
    this.views.heard(msg.from)
    const deferred: UserBroadcast[] = []
    if ('gossip' in msg && msg.gossip.length > 0) {
      const gossip = this.screen.screenGossip(msg.from, msg.gossip, deferred)
      if (gossip !== msg.gossip) (msg as { gossip: Broadcast[] }).gossip = gossip
    }
    try {
      this.perform(core.receive(from, msg, this.now()))
    } catch (err) {
      this.c.logger.error({ err }, 'membership core refused a datagram')
    }
    this.retryDeferred(msg.from, from, msg.from, deferred)
  }

  /**
   * A broadcast can be refused only because the member it names arrived in the same message
   * (a claim right after its claimant's record, a joiner's whole state): after the core took the
   * rest, check the refused ones again and hand the ones now valid in as gossip.
   */
  private retryDeferred (from: string, endpoint: Endpoint, sender: string | null, deferred: UserBroadcast[]): void {
    const core = this.core
    if (deferred.length === 0 || core === null || this.status !== 'started') return
    const ok = this.screen.recheck(from, deferred)
    if (ok.length === 0 || sender === null || sender === this.selfId) return
    try {
      this.perform(core.receive(endpoint, { t: 'gossip', from: sender, gossip: ok }, this.now()))
    } catch (err) {
      this.c.logger.error({ err }, 'membership core refused deferred broadcasts')
    }
  }

  // ---- self ----

  /** Build and sign this node's AliveInfo (the core calls it synchronously). */
  private selfInfo (incarnation: number, left: boolean): AliveInfo {
    const { info, record } = this.self.sign(incarnation, left)
    this.records.remember(info, record)
    return info
  }

  private async refreshFacts (): Promise<void> {
    try {
      const changed = await this.self.refresh()
      if (changed && this.core !== null && this.status === 'started') this.perform(this.core.refreshSelf(this.now()))
    } catch (err) {
      this.c.logger.warn({ err }, 'facts refresh failed')
    }
  }

  /** Our whole view (a leave pushes it over streams). */
  private stateForSync (join: boolean): SyncState {
    const members = (this.core?.members() ?? []).map(v => ({ info: v.info, status: v.status, incarnation: v.incarnation }))
    return { from: this.selfId, members, user: [...this.userLatest.values()], join }
  }

  private track (p: Promise<void>): void {
    const q = p.catch(err => { this.c.logger.error({ err }, 'push-pull handling failed') }).finally(() => { this.inFlight.delete(q) })
    this.inFlight.add(q)
  }
}

function prefixed (prefix: string, o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [`${prefix}.${k}`, v]))
}

function shuffle<T> (items: T[]): T[] {
  const a = [...items]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const t = a[i] as T
    a[i] = a[j] as T
    a[j] = t
  }
  return a
}
