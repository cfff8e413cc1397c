/**
 * Manager election on top of membership. A manager stays manager while membership keeps it
 * (no flapping when a node with a "better" rank joins). It is replaced when membership says it
 * left or failed, or when membership has suspected it for `suspectSilenceMs` (2.5 s) without a
 * refutation: a powered-off manager is replaced before SWIM declares it dead. When there is
 * none, every eligible agent computes the same winner from its membership view (rank function:
 * by default the lowest peer id; the HA layer ranks by replica freshness), and the winner claims
 * epoch = highest epoch it has seen + 1 with its replica revision. The claim is signed by its
 * claimant and broadcast ONCE per epoch through membership dissemination (key `mgr/<peerId>`,
 * version = epoch): the broadcast queue and push-pull spread it, a joiner learns it from its
 * join push-pull. There is no periodic re-announce (it was O(N) traffic per agent). Competing
 * claims are settled by `claimSupersedes`: higher epoch, then higher revision, then lower peer
 * id. Every agent persists the highest epoch it has seen: it is the fencing token that nodes
 * check before work.
 */

import type { PrivateKey } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Member } from '../../protocol/members.js'
import { MANAGER_KEY_PREFIX, MAX_EPOCH_JUMP, claimSupersedes, decodeClaim, type ManagerClaim, type ManagerInfo } from '../../protocol/manager-wire.js'
import { openEnvelope, sealEnvelope, verifiedBy } from '../identity/signed-envelope.js'
import type { UserBroadcasts } from '../membership/user-broadcasts.js'

/** Collaborators of the election. */
export interface ElectionComponents {
  /** Membership dissemination for claims. */
  broadcasts: UserBroadcasts
  /** This agent's key: its claims are signed with it. */
  privateKey: PrivateKey
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
  /**
   * After start, wait this long before claiming: enough for the join push-pull to bring a
   * sitting manager's claim, so a joining or restarted agent never deposes a healthy manager.
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
   * A manager membership has suspected this long without a refutation is replaced, before
   * SWIM's suspicion timeout declares it failed.
   */
  suspectSilenceMs?: number
  /** How often the manager is checked. */
  evaluateMs?: number
  /**
   * After this agent's own event loop stalled (two evaluations further apart than `evaluateMs`
   * + this), suspicion is not judged for this long: a refutation that arrived during the stall
   * is still queued behind the timer that noticed it.
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
  private lastEvaluated = 0
  /** Suspicion is not judged before this time (see `stallGraceMs`). */
  private judgeFrom = 0
  /** Since when (our clock) membership has shown the current manager suspect; 0 when not. */
  private suspectSince = 0
  private readonly now: () => number
  private readonly listeners = new Set<ManagerChangeListener>()
  private evaluating = Promise.resolve()
  private unhandle: (() => void) | null = null

  constructor (components: ElectionComponents, init: ElectionInit) {
    this.c = components
    this.init = { settleMs: 3000, isolatedSettleMs: 30_000, hasSeeds: false, suspectSilenceMs: 2500, evaluateMs: 250, stallGraceMs: 1000, ...init }
    this.now = components.now ?? Date.now
  }

  /** Take claims from membership and start evaluating. */
  async start (): Promise<void> {
    this.highestEpoch = await this.c.epochs.load()
    this.startedAt = this.now()
    this.unhandle = this.c.broadcasts.handle(MANAGER_KEY_PREFIX, {
      validate: (key, data, version) => this.validate(key, data, version),
      deliver: (_key, data) => {
        const claim = this.decode(data)
        if (claim !== null) this.serially(async () => { await this.onClaim(claim) })
      }
    })
    this.timer = setInterval(() => { this.serially(async () => { await this.evaluate() }) }, this.init.evaluateMs)
    this.timer.unref()
  }

  /** Stop taking part (a leaving manager simply stops; membership's leave triggers re-election). */
  async stop (): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.unhandle?.()
    this.unhandle = null
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

  /**
   * Check a claim before membership stores or relays it: signed by its claimant, the key and
   * version name the claimant and epoch, the claimant is a known manager-eligible member under
   * the name its signed record gives, and the epoch is not absurdly far ahead. Null when valid.
   */
  validate (key: string, data: Uint8Array, version: number): string | null {
    const env = openEnvelope(data)
    if (env === null) return 'manager claim is too short to be signed'
    const claim = decodeClaim(env.payload)
    if (!claim.ok) return `malformed manager claim: ${claim.reason}`
    const c = claim.value
    if (key !== `${MANAGER_KEY_PREFIX}${c.peerId}` || version !== c.epoch) return `manager claim of ${c.peerId} epoch ${c.epoch} under key ${key} version ${version}`
    if (!verifiedBy(c.peerId, env.payload, env.sig)) return `manager claim not signed by its claimant ${c.peerId}`
    const member = this.c.members().find(m => m.peerId === c.peerId)
    if (member === undefined) return `manager claim from ${c.peerId}, not a known member`
    if (!member.managerEligible || member.name !== c.name) return `manager claim from ${c.peerId}: ineligible or under another name`
    if (c.epoch > this.highestEpoch + MAX_EPOCH_JUMP) return `manager claim epoch ${c.epoch} is more than ${MAX_EPOCH_JUMP} above ${this.highestEpoch}`
    return null
  }

  private decode (data: Uint8Array): ManagerClaim | null {
    const env = openEnvelope(data)
    if (env === null) return null
    const claim = decodeClaim(env.payload)
    return claim.ok ? claim.value : null
  }

  private serially (fn: () => Promise<void>): void {
    this.evaluating = this.evaluating.then(fn).catch(err => { this.c.logger.error({ err }, 'election step failed') })
  }

  private async onClaim (claim: ManagerClaim): Promise<void> {
    const cur = this.current
    if (cur !== null && claim.epoch === cur.epoch && claim.peerId === cur.peerId) return
    const wins = cur === null ? claim.epoch >= this.highestEpoch : claimSupersedes(claim, cur)
    if (wins) await this.adopt(claim)
  }

  private async evaluate (): Promise<void> {
    const members = this.c.members()
    const now = this.now()
    if (this.lastEvaluated > 0 && now - this.lastEvaluated > this.init.evaluateMs + this.init.stallGraceMs) {
      this.judgeFrom = now + this.init.stallGraceMs
      this.c.logger.info({ stalledMs: now - this.lastEvaluated }, 'this agent stalled; not judging the manager for a moment')
    }
    this.lastEvaluated = now
    const cur = this.current
    if (cur !== null) {
      const m = members.find(x => x.peerId === cur.peerId)
      if (m?.status === 'suspect') {
        if (this.suspectSince === 0) this.suspectSince = now
      } else {
        this.suspectSince = 0
      }
      if (cur.peerId === this.init.peerId && m?.status !== 'left') return
      if (m !== undefined && m.status === 'alive') return
      if (m?.status === 'suspect' && (now - this.suspectSince < this.init.suspectSilenceMs || now < this.judgeFrom)) return
      this.c.logger.info({ manager: cur.name, epoch: cur.epoch, status: m?.status ?? 'unknown' }, 'manager is gone; electing a new one')
      const prev = this.manager()
      this.current = null
      this.suspectSince = 0
      this.emit(null, prev)
    }
    const age = now - this.startedAt
    if (!this.init.eligible || age < this.init.settleMs) return
    const isolated = !members.some(m => m.peerId !== this.init.peerId && m.status === 'alive')
    if (isolated && this.init.hasSeeds && age < this.init.isolatedSettleMs) return
    const candidates = members.filter(m => m.status === 'alive' && m.managerEligible).sort(this.c.rank ?? byPeerId)
    if (candidates[0]?.peerId !== this.init.peerId) return
    const claim: ManagerClaim = {
      t: 'claim',
      epoch: this.highestEpoch + 1,
      peerId: this.init.peerId,
      name: this.init.name,
      since: new Date(now).toISOString(),
      revision: this.c.revision?.() ?? 0
    }
    await this.adopt(claim)
    this.publish(claim)
  }

  private async adopt (claim: ManagerClaim): Promise<void> {
    const prev = this.manager()
    if (claim.epoch > this.highestEpoch) {
      this.highestEpoch = claim.epoch
      await this.c.epochs.save(claim.epoch)
    }
    this.current = claim
    this.suspectSince = 0
    this.c.logger.info({ manager: claim.name, peer: claim.peerId, epoch: claim.epoch, revision: claim.revision, self: claim.peerId === this.init.peerId }, 'manager elected')
    this.emit(this.manager(), prev)
  }

  private publish (claim: ManagerClaim): void {
    try {
      const data = sealEnvelope(this.c.privateKey, new TextEncoder().encode(JSON.stringify(claim)))
      this.c.broadcasts.broadcast(`${MANAGER_KEY_PREFIX}${claim.peerId}`, data, claim.epoch)
    } catch (err) {
      this.c.logger.warn({ err: (err as Error).message }, 'claim broadcast failed')
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
