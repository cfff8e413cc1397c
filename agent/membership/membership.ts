/**
 * Cluster membership: SWIM failure detection (prober.ts) over libp2p streams, dissemination
 * over gossipsub, push-pull anti-entropy (swim-transport.ts), reconnection (connectivity.ts),
 * and the merge rules (member-table.ts). Every member converges on one view, including about
 * members it has no direct connection to, because records are signed by their subject and
 * relayed by anyone.
 */

import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import type { Member, NodeFacts } from '../../protocol/members.js'
import {
  MEMBERSHIP_TOPIC, decodeGossip, encodeWire,
  type GossipMessage, type NodeRecord, type SyncMessage, type UserEntry
} from '../../protocol/membership-wire.js'
import type { HostPort } from '../config/agent-config.js'
import { Awareness } from './awareness.js'
import { Connectivity } from './connectivity.js'
import { MEMBERSHIP_DEFAULTS, type MembershipTiming } from './constants.js'
import { MemberTable, type ApplyResult, type MemberEntry, type StatusChange } from './member-table.js'
import { signRecord, verifyRecord } from './node-record.js'
import { Prober } from './prober.js'
import { SwimTransport } from './swim-transport.js'
import { BroadcastRouter, type BroadcastHandler, type UserBroadcasts } from './user-broadcasts.js'

/** Suspicion deadlines are checked this often. */
const TICK_MS = 100

/** Collaborators of the membership service. */
export interface MembershipComponents {
  libp2p: Libp2p<{ pubsub: GossipSub }>
  privateKey: PrivateKey
  logger: Logger
  /** Collects this node's facts (hostname, OS, host keys, ...). */
  collectFacts: () => Promise<NodeFacts>
  /** Durable incarnation counter, so a restarted agent's news supersedes its old records. */
  incarnations: { load: () => Promise<number>, save: (inc: number) => Promise<void> }
}

/** Settings of the membership service. */
export interface MembershipInit {
  nodeName: string
  labels: Record<string, string>
  managerEligible: boolean
  /** Multiaddrs others should dial, without /p2p. */
  advertise: string[]
  seeds: HostPort[]
  timing?: Partial<MembershipTiming>
}

/** Listener of member status changes. */
export type MemberChangeListener = (change: StatusChange, member: Member) => void

/** The membership service of one agent. */
export class Membership implements UserBroadcasts {
  private readonly c: MembershipComponents
  private readonly init: MembershipInit
  private readonly timing: MembershipTiming
  private readonly table: MemberTable
  private readonly awareness: Awareness
  private readonly transport: SwimTransport
  private readonly prober: Prober
  private readonly connectivity: Connectivity
  private readonly listeners = new Set<MemberChangeListener>()
  private readonly router = new BroadcastRouter()
  /** Latest application broadcast per key (validated), for push-pull. */
  private readonly user = new Map<string, UserEntry>()
  private readonly timers: NodeJS.Timeout[] = []
  /** When the deadline check last ran (to notice this agent's own stalls). */
  private lastTick = 0
  private readonly badInputLogAt = new Map<string, number>()
  private status: 'stopped' | 'starting' | 'started' | 'stopping' = 'stopped'
  private facts: NodeFacts | null = null
  private readonly background = new AbortController()
  private readonly onConnectionOpen = (evt: CustomEvent): void => {
    const conn = evt.detail as { direction: string, remotePeer: { toString: () => string } }
    // The dialer runs push-pull at once: this is how a joining node learns the cluster and
    // the cluster learns it, without waiting for gossipsub's mesh to form.
    if (conn.direction === 'outbound') void this.transport.sync(conn.remotePeer.toString(), 5_000, this.background.signal)
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.topic !== MEMBERSHIP_TOPIC || msg.type !== 'signed') return
    void this.handleGossip(msg.from.toString(), msg.data).catch(err => this.c.logger.error({ err }, 'gossip handler failed'))
  }

  constructor (components: MembershipComponents, init: MembershipInit) {
    this.c = components
    this.init = init
    this.timing = { ...MEMBERSHIP_DEFAULTS, ...init.timing }
    this.table = new MemberTable({ selfPeerId: components.libp2p.peerId.toString(), timing: this.timing })
    this.awareness = new Awareness({ max: this.timing.awarenessMax })
    this.transport = new SwimTransport({
      libp2p: components.libp2p,
      logger: components.logger,
      localState: () => ({ t: 'sync', entries: this.table.syncEntries(), user: [...this.user.values()] }),
      mergeRemoteState: async (from, msg) => { await this.mergeRemoteState(from, msg) },
      onBadInput: (from, protocol, reason) => { this.badInput(from, protocol, reason) }
    })
    this.prober = new Prober({
      logger: components.logger,
      transport: this.transport,
      awareness: this.awareness,
      probeable: () => this.table.probeable(),
      onAlive: peerId => { this.table.touch(peerId, Date.now()) },
      onUnreachable: entry => { void this.suspect(entry) }
    }, this.timing)
    this.connectivity = new Connectivity({
      libp2p: components.libp2p,
      logger: components.logger,
      members: () => this.table.all().filter(e => e.record.peerId !== this.table.self)
    }, { ...this.timing, seeds: init.seeds, selfAddrs: init.advertise })
  }

  /** Subscribe, announce ourselves, start probing and dialing. */
  async start (): Promise<void> {
    if (this.status !== 'stopped') throw new Error(`membership is ${this.status}`)
    this.status = 'starting'
    const pubsub = this.c.libp2p.services.pubsub
    this.facts = await this.c.collectFacts()
    const inc = (await this.c.incarnations.load()) + 1
    await this.announceSelf(inc, 'alive')
    pubsub.topicValidators.set(MEMBERSHIP_TOPIC, async (peer, msg) => await this.validate(peer.toString(), msg))
    pubsub.addEventListener('message', this.onMessage)
    pubsub.subscribe(MEMBERSHIP_TOPIC)
    await this.transport.start()
    this.c.libp2p.addEventListener('connection:open', this.onConnectionOpen)
    this.connectivity.start()
    this.connectivity.pass(this.background.signal)
    this.prober.start()
    this.timers.push(setInterval(() => { this.tick() }, TICK_MS))
    this.timers.push(setInterval(() => { void this.syncWithRandomMember() }, this.timing.syncIntervalMs))
    this.timers.push(setInterval(() => { void this.refreshFacts() }, this.timing.factsRefreshMs))
    for (const t of this.timers) t.unref()
    this.status = 'started'
  }

  /**
   * Graceful leave, then stop: sign a `left` record, publish it and push it directly to a few
   * peers (bounded by leaveTimeoutMs) so the cluster shows `left`, not `failed`.
   */
  async stop (): Promise<void> {
    if (this.status !== 'started') return
    this.status = 'stopping'
    for (const t of this.timers) clearInterval(t)
    this.timers.length = 0
    await this.prober.stop()
    await this.connectivity.stop()
    try {
      const self = this.table.selfEntry
      await this.announceSelf((self?.inc ?? 0) + 1, 'left')
      const peers = this.table.probeable().filter(e => e.status === 'alive').slice(0, 3)
      const deadline = AbortSignal.timeout(this.timing.leaveTimeoutMs)
      await Promise.all(peers.map(async p => await this.transport.sync(p.record.peerId, this.timing.leaveTimeoutMs, deadline)))
    } catch (err) {
      this.c.logger.warn({ err }, 'leave announcement incomplete')
    }
    this.background.abort()
    this.c.libp2p.removeEventListener('connection:open', this.onConnectionOpen)
    const pubsub = this.c.libp2p.services.pubsub
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.topicValidators.delete(MEMBERSHIP_TOPIC)
    await this.transport.stop().catch(() => {})
    this.status = 'stopped'
  }

  /** The current view in API form, sorted by name. */
  members (): Member[] {
    return this.table.all().map(e => toMember(e)).sort((a, b) => a.name.localeCompare(b.name))
  }

  /** Our own peer id. */
  get peerId (): string { return this.table.self }

  /** Be told about every status change (alive, suspect, failed, left). */
  onChange (listener: MemberChangeListener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** @inheritdoc */
  broadcast (key: string, data: Uint8Array, version: number): void {
    const entry: UserEntry = { key, data: Buffer.from(data).toString('base64'), version }
    this.user.set(key, entry)
    void this.publish({ t: 'user', ...entry })
  }

  /** @inheritdoc */
  handle (prefix: string, handler: BroadcastHandler): () => void {
    return this.router.handle(prefix, handler)
  }

  /** Take a received application broadcast when it is newer than what we hold and valid. */
  private acceptUser (from: string, e: UserEntry): void {
    const cur = this.user.get(e.key)
    if (cur !== undefined && cur.version >= e.version) return
    const data = Buffer.from(e.data, 'base64')
    const bad = this.router.validate(e.key, data, e.version)
    if (bad !== null) {
      this.badInput(from, 'user', bad)
      return
    }
    this.user.set(e.key, e)
    this.router.deliver(e.key, data, e.version)
  }

  /** Gossipsub validator: decode, check the sender, verify signatures; bad input is rejected and logged. */
  private async validate (from: string, msg: Message): Promise<TopicValidatorResult> {
    if (msg.type !== 'signed') return TopicValidatorResult.Reject
    const decoded = decodeGossip(msg.data)
    if (!decoded.ok) {
      this.badInput(from, MEMBERSHIP_TOPIC, decoded.reason)
      return TopicValidatorResult.Reject
    }
    const m = decoded.value
    if (m.t === 'record') {
      const rec = await verifyRecord(m.rec)
      if (!rec.ok) {
        this.badInput(from, MEMBERSHIP_TOPIC, rec.reason)
        return TopicValidatorResult.Reject
      }
    } else if (m.t === 'user') {
      return TopicValidatorResult.Accept
    } else if (m.from !== msg.from.toString()) {
      // A claim must come from its author; gossipsub has verified msg.from's signature.
      this.badInput(from, MEMBERSHIP_TOPIC, `${m.t} claim names ${m.from} but was signed by ${msg.from.toString()}`)
      return TopicValidatorResult.Reject
    }
    return TopicValidatorResult.Accept
  }

  private async handleGossip (author: string, data: Uint8Array): Promise<void> {
    if (this.status !== 'started' && this.status !== 'stopping') return
    const decoded = decodeGossip(data)
    if (!decoded.ok) return
    const m = decoded.value
    const now = Date.now()
    this.table.touch(author, now)
    if (m.t === 'record') {
      const rec = await verifyRecord(m.rec)
      if (rec.ok) await this.applied(this.table.applyRecord(rec.value, m.rec, now), rec.value)
    } else if (m.t === 'user') {
      this.acceptUser(author, m)
    } else if (m.t === 'suspect') {
      await this.applied(this.table.applySuspect(m.peer, m.inc, m.from, now))
    } else {
      await this.applied(this.table.applyDead(m.peer, m.inc, now))
    }
  }

  private async mergeRemoteState (from: string, msg: SyncMessage): Promise<void> {
    const now = Date.now()
    this.table.touch(from, now)
    for (const entry of msg.entries) {
      const rec = await verifyRecord(entry.rec)
      if (!rec.ok) {
        this.badInput(from, 'sync', rec.reason)
        continue
      }
      for (const result of this.table.applySyncEntry(rec.value, entry, from, now)) {
        // A record we learned by push-pull is news others may lack too: relay it on gossip.
        await this.applied(result, rec.value, result.changed ? { t: 'record', rec: entry.rec } : undefined)
      }
    }
    for (const u of msg.user ?? []) this.acceptUser(from, u)
  }

  /** Act on what applying a message asks for: refute, remember addresses, tell listeners. */
  private async applied (result: ApplyResult, record?: NodeRecord, relay?: GossipMessage): Promise<void> {
    if (result.refute !== undefined) {
      this.awareness.apply(1)
      this.c.logger.info({ incarnation: result.refute }, 'refuting a claim that this node is suspect, failed or stale')
      await this.announceSelf(result.refute, 'alive')
      return
    }
    if (record !== undefined && result.changed && record.peerId !== this.table.self) {
      await this.c.libp2p.peerStore.merge(peerIdFromString(record.peerId), {
        multiaddrs: record.addrs.map(a => multiaddr(a))
      }).catch(err => this.c.logger.debug({ err }, 'peer store merge failed'))
    }
    if (relay !== undefined) await this.publish(relay)
    if (result.change !== undefined) this.emit(result.change)
  }

  /**
   * Our probes failed: suspect the member and tell everyone. If it is already suspect, our
   * failed probe is an independent confirmation (as memberlist's suspectNode does): gossip it
   * too, so every member's Lifeguard suspicion timer shortens toward its minimum.
   */
  private async suspect (entry: MemberEntry): Promise<void> {
    if (entry.status !== 'alive' && entry.status !== 'suspect') return
    const now = Date.now()
    const result = this.table.applySuspect(entry.record.peerId, entry.inc, this.table.self, now)
    if (!result.changed && result.confirmed !== true) return
    await this.publish({ t: 'suspect', peer: entry.record.peerId, inc: entry.inc, from: this.table.self })
    if (result.change !== undefined) this.emit(result.change)
  }

  private tick (): void {
    const now = Date.now()
    const late = this.lastTick === 0 ? 0 : now - this.lastTick - TICK_MS
    this.lastTick = now
    if (late > this.timing.stallGraceMs) {
      this.table.postponeSuspicions(late)
      this.c.logger.debug({ stalledMs: late }, 'this agent stalled; suspicion deadlines moved out')
    }
    for (const change of this.table.tick(now)) {
      void this.publish({ t: 'dead', peer: change.peerId, inc: change.inc, from: this.table.self })
      this.emit(change)
    }
  }

  private async syncWithRandomMember (): Promise<void> {
    const alive = this.table.probeable().filter(e => e.status === 'alive')
    const pick = alive[Math.floor(Math.random() * alive.length)]
    if (pick !== undefined) await this.transport.sync(pick.record.peerId, 5_000, this.background.signal)
  }

  private async refreshFacts (): Promise<void> {
    try {
      const facts = await this.c.collectFacts()
      if (JSON.stringify(facts) === JSON.stringify(this.facts)) return
      this.facts = facts
      await this.announceSelf((this.table.selfEntry?.inc ?? 0) + 1, 'alive')
    } catch (err) {
      this.c.logger.warn({ err }, 'facts refresh failed')
    }
  }

  /** Sign a new self record at `inc`, persist the incarnation, and publish it. */
  private async announceSelf (inc: number, state: 'alive' | 'left'): Promise<void> {
    const record: NodeRecord = {
      v: 1,
      name: this.init.nodeName,
      peerId: this.table.self,
      incarnation: inc,
      state,
      addrs: this.init.advertise,
      labels: this.init.labels,
      managerEligible: this.init.managerEligible,
      facts: this.facts,
      signedAt: Date.now()
    }
    await this.c.incarnations.save(inc)
    const signed = await signRecord(record, this.c.privateKey)
    const prev = this.table.selfEntry?.status
    this.table.setSelf(record, signed, Date.now())
    await this.publish({ t: 'record', rec: signed })
    const to = state === 'left' ? 'left' : 'alive'
    if (prev !== to) this.emit({ peerId: this.table.self, name: record.name, from: prev ?? null, to, inc })
  }

  private async publish (msg: GossipMessage): Promise<void> {
    try {
      await this.c.libp2p.services.pubsub.publish(MEMBERSHIP_TOPIC, encodeWire(msg))
    } catch (err) {
      this.c.logger.debug({ err: (err as Error).message }, 'gossip publish failed')
    }
  }

  private emit (change: StatusChange): void {
    const entry = this.table.get(change.peerId)
    if (entry === undefined) return
    this.c.logger.info({ member: change.name, peer: change.peerId, from: change.from, to: change.to, incarnation: change.inc }, 'member status changed')
    const member = toMember(entry)
    for (const l of this.listeners) {
      try { l(change, member) } catch (err) { this.c.logger.error({ err }, 'member listener failed') }
    }
  }

  /** Log bad input at most once per peer and protocol per 10 s: hostile peers must not flood the log. */
  private badInput (from: string, protocol: string, reason: string): void {
    const key = `${from}|${protocol}`
    const now = Date.now()
    if ((this.badInputLogAt.get(key) ?? 0) > now - 10_000) return
    this.badInputLogAt.set(key, now)
    this.c.logger.warn({ peer: from, protocol, reason }, 'dropped a malformed or unverifiable membership message')
  }
}

/** API form of a table entry. */
export function toMember (e: MemberEntry): Member {
  return {
    name: e.record.name,
    peerId: e.record.peerId,
    addresses: e.record.addrs,
    status: e.status === 'dead' ? 'failed' : e.status,
    incarnation: e.inc,
    labels: e.record.labels,
    facts: e.record.facts,
    managerEligible: e.record.managerEligible,
    lastSeen: new Date(e.lastSeen).toISOString()
  }
}
