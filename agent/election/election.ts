/**
 * Manager election on top of membership. A manager stays manager while its claims keep arriving
 * (no flapping when a node with a "better" rank joins). It is replaced when membership sees it
 * leave, or when its claims (re-announced every second) have been silent for `silenceMs` (6 s),
 * or for `suspectSilenceMs` (2.5 s) while membership suspects it or has declared it failed: a
 * powered-off manager is replaced before SWIM declares it dead, and a live manager that a
 * starved SWIM declares failed is not replaced while its claims still arrive. When there is none, every eligible agent computes the same winner from
 * its membership view (rank function: by default the lowest peer id; the HA layer ranks by
 * replica freshness), and the winner claims epoch = highest epoch it has seen + 1 with its
 * replica revision and gossips the claim. Competing claims are settled by `claimSupersedes`:
 * higher epoch, then higher revision, then lower peer id. Every agent persists the highest epoch
 * it has seen: it is the fencing token that nodes check before work.
 */

import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger } from 'pino'
import type { Member } from '../../protocol/members.js'
import { MANAGER_TOPIC, claimSupersedes, decodeClaim, type ManagerClaim, type ManagerInfo } from '../../protocol/manager-wire.js'

/** Collaborators of the election. */
export interface ElectionComponents {
  pubsub: GossipSub
  logger: Logger
  /** Current membership view, self included. */
  members: () => Member[]
  /** Durable highest-epoch-seen. */
  epochs: { load: () => Promise<number>, save: (epoch: number) => Promise<void> }
  /**
   * Orders candidates: negative when `a` should be preferred over `b`. Default: lower peer id.
   */
  rank?: (a: Member, b: Member) => number
  /** This agent's replica revision, carried in its claims (default 0). */
  revision?: () => number
  /** Clock (ms since the epoch); tests pass a fake one. */
  now?: () => number
}

/** Who we are. */
export interface ElectionInit {
  peerId: string
  name: string
  eligible: boolean
  /** How often the manager re-announces its claim, and the evaluation period. */
  heartbeatMs?: number
  /**
   * After start, wait this long before claiming: enough to hear a sitting manager's heartbeat,
   * so a joining or restarted agent never deposes a healthy manager.
   */
  settleMs?: number
  /**
   * An agent that has seeds but has not reached any other member may not claim for this long
   * after start: a restarted agent that cannot reach its cluster yet must not elect itself
   * with a stale state (and possibly an epoch equal to the one the others moved to). After it,
   * a lone agent does claim: the manager stays available as long as one node is up.
   */
  isolatedSettleMs?: number
  /** Whether the agent was started with seeds to join (a first node has none). */
  hasSeeds?: boolean
  /**
   * A manager whose claims have not arrived for this long is replaced even while membership
   * still shows it alive or suspect (a powered-off host takes SWIM longer to declare dead).
   * Several heartbeats, so a late gossip message or a short stall does not depose a manager.
   */
  silenceMs?: number
  /**
   * The same for a manager membership already suspects (its probes fail): two and a half
   * heartbeats. Both signs together are what a dead or powered-off host looks like, minutes of
   * SWIM's suspicion timeout earlier than its `failed`.
   */
  suspectSilenceMs?: number
  /** How often the manager is checked (its claims' silence); the claim goes out every heartbeat. */
  evaluateMs?: number
  /**
   * After this agent's own event loop stalled (two evaluations further apart than `evaluateMs`
   * + this), silence is not judged for this long: claims that arrived during the stall are still
   * queued behind the timer that noticed it. Without it an overloaded agent deposed live managers.
   */
  stallGraceMs?: number
}

/** Called when the manager changes. `self` is true when this agent is the new manager. */
export type ManagerChangeListener = (info: ManagerInfo | null, previous: ManagerInfo | null) => void

const byPeerId = (a: Member, b: Member): number => a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0

/** Tracks who the manager is and claims the role when this agent wins. */
export class Election {
  private readonly c: ElectionComponents
  private readonly init: Required<ElectionInit>
  private current: ManagerClaim | null = null
  private highestEpoch = 0
  private timer: NodeJS.Timeout | null = null
  private startedAt = 0
  private lastPublished = 0
  private lastEvaluated = 0
  /** Silence is not judged before this time (see `stallGraceMs`). */
  private judgeSilenceFrom = 0
  /** When the current manager's claim last arrived (our own clock). */
  private lastHeard = 0
  /** Managers replaced because their claims went silent: not candidates until they speak again. */
  private readonly silent = new Set<string>()
  private readonly now: () => number
  private readonly listeners = new Set<ManagerChangeListener>()
  private evaluating = Promise.resolve()
  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.topic !== MANAGER_TOPIC || msg.type !== 'signed') return
    const claim = decodeClaim(msg.data)
    if (claim.ok) this.serially(async () => { await this.onClaim(claim.value) })
  }

  constructor (components: ElectionComponents, init: ElectionInit) {
    this.c = components
    this.init = { heartbeatMs: 1000, settleMs: 3000, isolatedSettleMs: 30_000, hasSeeds: false, silenceMs: 6000, suspectSilenceMs: 2500, evaluateMs: 250, stallGraceMs: 1000, ...init }
    this.now = components.now ?? Date.now
  }

  /** Subscribe to claims and start evaluating. */
  async start (): Promise<void> {
    this.highestEpoch = await this.c.epochs.load()
    this.startedAt = this.now()
    this.c.pubsub.topicValidators.set(MANAGER_TOPIC, (peer, msg) => this.validate(peer.toString(), msg))
    this.c.pubsub.addEventListener('message', this.onMessage)
    this.c.pubsub.subscribe(MANAGER_TOPIC)
    this.timer = setInterval(() => { this.serially(async () => { await this.tick() }) }, Math.min(this.init.evaluateMs, this.init.heartbeatMs))
    this.timer.unref()
  }

  /** Stop taking part (a leaving manager simply stops; membership's leave triggers re-election). */
  async stop (): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.c.pubsub.removeEventListener('message', this.onMessage)
    this.c.pubsub.topicValidators.delete(MANAGER_TOPIC)
    await this.evaluating
  }

  /** The manager as this agent knows it, or null while there is none. */
  manager (): ManagerInfo | null {
    return this.current === null ? null : this.toInfo(this.current)
  }

  /** Highest manager epoch this agent has seen (the node's fencing token). */
  get epoch (): number { return this.highestEpoch }

  /**
   * Raise the highest epoch seen to `epoch` (a lease request from a newer manager that this
   * agent has not heard claim yet); resolves once it is persisted. Lower epochs are ignored.
   */
  async observeEpoch (epoch: number): Promise<void> {
    const run = this.evaluating.then(async () => {
      if (epoch <= this.highestEpoch) return
      this.highestEpoch = epoch
      await this.c.epochs.save(epoch)
    })
    this.evaluating = run.catch(err => { this.c.logger.error({ err }, 'persisting an observed epoch failed') })
    await run
  }

  /** True when this agent is the manager. */
  get isManager (): boolean { return this.current?.peerId === this.init.peerId }

  /** Re-evaluate now (membership changed). */
  poke (): void {
    this.serially(async () => { await this.evaluate() })
  }

  /** Be told when the manager changes. */
  onChange (listener: ManagerChangeListener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  private validate (from: string, msg: Message): TopicValidatorResult {
    if (msg.type !== 'signed') return TopicValidatorResult.Reject
    const claim = decodeClaim(msg.data)
    if (!claim.ok) {
      this.c.logger.warn({ peer: from, reason: claim.reason }, 'dropped a malformed manager claim')
      return TopicValidatorResult.Reject
    }
    // Only the claimant itself may announce its claim; relays keep the author's signature.
    if (claim.value.peerId !== msg.from.toString()) {
      this.c.logger.warn({ peer: from, claimant: claim.value.peerId }, 'dropped a manager claim not signed by its claimant')
      return TopicValidatorResult.Reject
    }
    // Only a known, manager-eligible member may claim, under the name its signed record gives.
    // An unknown claimant is ignored, not rejected: a joiner may hear a claim before the
    // claimant's record, and gossipsub would penalise the honest relay; the claim is repeated.
    const member = this.c.members().find(m => m.peerId === claim.value.peerId)
    if (member === undefined) {
      this.c.logger.warn({ peer: from, claimant: claim.value.peerId }, 'ignored a manager claim from a peer that is not a known member')
      return TopicValidatorResult.Ignore
    }
    if (!member.managerEligible || member.name !== claim.value.name) {
      this.c.logger.warn({ peer: from, claimant: claim.value.peerId, eligible: member.managerEligible }, 'dropped a manager claim from an ineligible member or under another name')
      return TopicValidatorResult.Reject
    }
    return TopicValidatorResult.Accept
  }

  private serially (fn: () => Promise<void>): void {
    this.evaluating = this.evaluating.then(fn).catch(err => { this.c.logger.error({ err }, 'election step failed') })
  }

  private async tick (): Promise<void> {
    await this.evaluate()
    if (this.isManager && this.current !== null && this.now() - this.lastPublished >= this.init.heartbeatMs) await this.publish(this.current)
  }

  private async onClaim (claim: ManagerClaim): Promise<void> {
    // A manager we took for gone speaks again: it may be a candidate again.
    this.silent.delete(claim.peerId)
    const cur = this.current
    if (cur !== null && claim.epoch === cur.epoch && claim.peerId === cur.peerId) {
      this.lastHeard = this.now()
      return
    }
    const wins = cur === null ? claim.epoch >= this.highestEpoch : claimSupersedes(claim, cur)
    if (!wins) {
      // A stale manager is still talking: remind it (and everyone) of the current claim.
      if (this.isManager && cur !== null) await this.publish(cur)
      return
    }
    await this.adopt(claim)
  }

  private async evaluate (): Promise<void> {
    const members = this.c.members()
    const now = this.now()
    if (this.lastEvaluated > 0 && now - this.lastEvaluated > this.init.evaluateMs + this.init.stallGraceMs) {
      this.judgeSilenceFrom = now + this.init.stallGraceMs
      this.c.logger.info({ stalledMs: now - this.lastEvaluated }, 'this agent stalled; not judging manager silence for a moment')
    }
    this.lastEvaluated = now
    // A silent manager that membership has since declared failed or left is no longer special:
    // when it comes back (a new incarnation) it is an ordinary candidate again.
    for (const id of this.silent) {
      const m = members.find(x => x.peerId === id)
      if (m === undefined || (m.status !== 'alive' && m.status !== 'suspect')) this.silent.delete(id)
    }
    const cur = this.current
    if (cur !== null) {
      const m = members.find(x => x.peerId === cur.peerId)
      const listed = m !== undefined && (m.status === 'alive' || m.status === 'suspect')
      const silentMs = this.now() - this.lastHeard
      const self = cur.peerId === this.init.peerId
      // A manager that left (or that membership forgot) goes at once. One membership declares
      // failed goes once its claims are silent too, as a suspect one does: its signed claims are
      // direct evidence it lives, SWIM's verdict is indirect, and on a starved machine SWIM
      // declares live members failed (they refute a moment later); deposing on that alone
      // restarted the jobs of a healthy manager (the fault suite, kill -9 mid-commission).
      const present = m !== undefined && m.status !== 'left'
      const limit = m?.status === 'alive' ? this.init.silenceMs : this.init.suspectSilenceMs
      if (present && (self || silentMs < limit || now < this.judgeSilenceFrom)) return
      if (listed) {
        this.silent.add(cur.peerId)
        this.c.logger.info({ manager: cur.name, epoch: cur.epoch, status: m.status, silentMs }, 'manager claims went silent; electing a new one')
      } else {
        this.c.logger.info({ manager: cur.name, epoch: cur.epoch, status: m?.status ?? 'unknown' }, 'manager is gone; electing a new one')
      }
      const prev = this.manager()
      this.current = null
      this.emit(null, prev)
    }
    const age = this.now() - this.startedAt
    if (!this.init.eligible || age < this.init.settleMs) return
    const isolated = !members.some(m => m.peerId !== this.init.peerId && m.status === 'alive')
    if (isolated && this.init.hasSeeds && age < this.init.isolatedSettleMs) return
    const candidates = members.filter(m => m.status === 'alive' && m.managerEligible && !this.silent.has(m.peerId)).sort(this.c.rank ?? byPeerId)
    if (candidates[0]?.peerId !== this.init.peerId) return
    const claim: ManagerClaim = {
      t: 'claim',
      epoch: this.highestEpoch + 1,
      peerId: this.init.peerId,
      name: this.init.name,
      since: new Date(this.now()).toISOString(),
      revision: this.c.revision?.() ?? 0
    }
    await this.adopt(claim)
    await this.publish(claim)
  }

  private async adopt (claim: ManagerClaim): Promise<void> {
    const prev = this.manager()
    if (claim.epoch > this.highestEpoch) {
      this.highestEpoch = claim.epoch
      await this.c.epochs.save(claim.epoch)
    }
    this.current = claim
    this.lastHeard = this.now()
    this.silent.delete(claim.peerId)
    this.c.logger.info({ manager: claim.name, peer: claim.peerId, epoch: claim.epoch, revision: claim.revision, self: claim.peerId === this.init.peerId }, 'manager elected')
    this.emit(this.manager(), prev)
  }

  private async publish (claim: ManagerClaim): Promise<void> {
    this.lastPublished = this.now()
    try {
      await this.c.pubsub.publish(MANAGER_TOPIC, new TextEncoder().encode(JSON.stringify(claim)))
    } catch (err) {
      this.c.logger.debug({ err: (err as Error).message }, 'claim publish failed')
    }
  }

  private toInfo (c: ManagerClaim): ManagerInfo {
    return { name: c.name, peerId: c.peerId, epoch: c.epoch, since: c.since, local: c.peerId === this.init.peerId }
  }

  private emit (info: ManagerInfo | null, prev: ManagerInfo | null): void {
    for (const l of this.listeners) {
      try { l(info, prev) } catch (err) { this.c.logger.error({ err }, 'manager listener failed') }
    }
  }
}
