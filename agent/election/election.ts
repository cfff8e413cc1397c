/**
 * Manager election on top of membership: a thin wrapper around the pure election core
 * (election-core.ts, which holds the rules and is what the simulator drives). The wrapper
 * feeds it the membership view (status changes of members, with this agent's clock; only the
 * members that changed since the last evaluation), replica revisions (likewise), verified
 * claims and ticks every 250 ms; it signs the claims the core asks for and
 * broadcasts them ONCE through membership (key `mgr/<peerId>`, version = epoch: the broadcast
 * queue and push-pull spread them, a joiner learns them in its join push-pull), persists the
 * highest epoch before acting on it (the fencing token nodes check before work), and tells
 * listeners when the manager changes. A received claim is checked before membership stores or
 * relays it: signed by its claimant, a known manager-eligible member under its own name, key
 * and version naming claimant and epoch, the epoch not absurdly far ahead.
 */

import type { PrivateKey } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Member } from '../../protocol/members.js'
import { MANAGER_KEY_PREFIX, MAX_EPOCH_JUMP, decodeClaim, type ManagerClaim, type ManagerInfo } from '../../protocol/manager-wire.js'
import { openEnvelope, sealEnvelope, verifiedBy } from '../identity/signed-envelope.js'
import type { UserBroadcasts } from '../membership/user-broadcasts.js'
import { ElectionCore, type ElectionClaim, type ElectionOutput } from './election-core.js'

/**
 * The whole membership view is read at least this often (ms), a backstop beside the pokes
 * that name changed members: O(N) per 30 s, not per 250 ms tick.
 */
const FULL_READ_MS = 30_000

/** Collaborators of the election. */
export interface ElectionComponents {
  /** Membership dissemination for claims. */
  broadcasts: UserBroadcasts
  /** This agent's key: its claims are signed with it. */
  privateKey: PrivateKey
  logger: Logger
  /** Current membership view, self included (self listed ineligible while it must not claim). */
  members: () => Member[]
  /**
   * One member of that view by peer id, as `members()` would list it (an index lookup: the
   * election reads only the members that changed). Default: a search of `members()`.
   */
  member?: (peerId: string) => Member | undefined
  /** Durable highest-epoch-seen. */
  epochs: { load: () => Promise<number>, save: (epoch: number) => Promise<void> }
  /** Replica revisions (ours live): the core ranks candidates by them. Default: all unknown, ours 0. */
  revisions?: {
    revisionOf: (peerId: string) => number | undefined
    isAwaiting: (peerId: string) => boolean
    /** Our revision as the others know it (the last we announced); without it, our live one. */
    announcedRevision?: () => number
    /** Be told whose announced revision or awaiting flag changed (without it, every evaluation reads them all). */
    onChange?: (listener: (peerId: string) => void) => () => void
  }
  /** Whether membership completed a push-pull of its own (the join); default: yes. */
  synced?: () => boolean
  /** Clock (ms since the epoch); tests pass a fake one. */
  now?: () => number
}

/** Who we are. */
export interface ElectionInit {
  peerId: string
  name: string
  eligible: boolean
  /** After start, wait this long before claiming (enough for the join push-pull to bring a sitting manager's claim). */
  settleMs?: number
  /** A node with seeds that knows no other member waits this long before claiming alone. */
  isolatedSettleMs?: number
  /** Whether the agent was started with seeds to join (a first node has none). */
  hasSeeds?: boolean
  /** A manager membership has suspected this long without a refutation is replaced. */
  suspectSilenceMs?: number
  /** How often the election is evaluated. */
  evaluateMs?: number
  /** After this agent's own stall, suspicion of the manager is not judged for this long. */
  stallGraceMs?: number
}

/** Called when the manager changes. `self` is true when this agent is the new manager. */
export type ManagerChangeListener = (info: ManagerInfo | null, previous: ManagerInfo | null) => void

/** Tracks who the manager is and claims the role when this agent wins. */
export class Election {
  private readonly c: ElectionComponents
  private readonly init: ElectionInit & { evaluateMs: number }
  private core: ElectionCore | null = null
  /** What the core was last told about each member: status and eligibility. */
  private readonly fed = new Map<string, { status: Member['status'], eligible: boolean }>()
  /** Members fed as alive or suspect (SWIM's live count), kept with `fed`. */
  private liveCount = 0
  /** Members changed since the last evaluation: only they are read and fed (see `poke`). */
  private readonly dirty = new Set<string>()
  /** The next evaluation reads the whole view; and when the last one that did ran. */
  private fullReadDue = true
  private lastFullReadAt = -Infinity
  private unwatchRevisions: (() => void) | null = null
  private timer: NodeJS.Timeout | null = null
  private readonly now: () => number
  private readonly listeners = new Set<ManagerChangeListener>()
  private evaluating = Promise.resolve()
  /** A poke's evaluation is queued and has not started yet. */
  private pokeQueued = false
  private unhandle: (() => void) | null = null

  constructor (components: ElectionComponents, init: ElectionInit) {
    this.c = components
    this.init = { evaluateMs: 250, ...init }
    this.now = components.now ?? Date.now
  }

  /** Take claims from membership and start evaluating. */
  async start (): Promise<void> {
    const highestEpoch = await this.c.epochs.load()
    const { peerId, name, eligible, hasSeeds, settleMs, isolatedSettleMs, suspectSilenceMs, evaluateMs, stallGraceMs } = this.init
    this.core = new ElectionCore({
      selfId: peerId,
      name,
      eligible,
      hasSeeds: hasSeeds ?? false,
      highestEpoch,
      selfRevision: () => ({ revision: this.c.revisions?.revisionOf(peerId) ?? 0, awaiting: this.c.revisions?.isAwaiting(peerId) ?? false }),
      // Ranked as the others rank us; a store awaiting a snapshot ranks last at once all the same.
      selfRank: () => ({ revision: this.c.revisions?.announcedRevision?.() ?? this.c.revisions?.revisionOf(peerId) ?? 0, awaiting: this.c.revisions?.isAwaiting(peerId) ?? false }),
      evaluateMs,
      ...(settleMs !== undefined ? { settleMs } : {}),
      ...(isolatedSettleMs !== undefined ? { isolatedSettleMs } : {}),
      ...(suspectSilenceMs !== undefined ? { suspectSilenceMs } : {}),
      ...(stallGraceMs !== undefined ? { stallGraceMs } : {}),
      maxEpochJump: MAX_EPOCH_JUMP
    })
    this.core.start(this.now())
    this.unhandle = this.c.broadcasts.handle(MANAGER_KEY_PREFIX, {
      validate: (key, data, version) => this.validate(key, data, version),
      deliver: (_key, data) => {
        const claim = this.decode(data)
        if (claim !== null) this.serially(async () => { await this.onClaim(claim) })
      }
    })
    this.unwatchRevisions = this.c.revisions?.onChange?.(id => { this.poke(id) }) ?? null
    this.timer = setInterval(() => { this.queueEvaluation() }, this.init.evaluateMs)
    this.timer.unref()
  }

  /** Stop taking part (a leaving manager simply stops; membership's leave triggers re-election). */
  async stop (): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.unhandle?.()
    this.unhandle = null
    this.unwatchRevisions?.()
    this.unwatchRevisions = null
    await this.evaluating
  }

  /** The manager as this agent knows it, or null while there is none. */
  manager (): ManagerInfo | null {
    const m = this.core?.manager() ?? null
    return m === null ? null : this.toInfo(m)
  }

  /** Highest manager epoch this agent has seen (the node's fencing token). */
  get epoch (): number { return this.core?.epoch ?? 0 }

  /**
   * Raise the highest epoch seen to `epoch` (a lease request from a newer manager that this
   * agent has not heard claim yet); resolves once it is persisted. Lower epochs are ignored.
   */
  async observeEpoch (epoch: number): Promise<void> {
    const run = this.evaluating.then(async () => {
      if (this.core !== null) await this.apply(this.core.observeEpoch(epoch, this.now()))
    })
    this.evaluating = run.catch(err => { this.c.logger.error({ err }, 'persisting an observed epoch failed') })
    await run
  }

  /**
   * This agent's manager role learned of a higher epoch (a replica or node refused it as
   * stale): stop being manager now, before the newer claim arrives (the ManagerHost then stops
   * the role), and accept the newer manager's claim when it comes. Or a replica's election
   * gives this agent's own epoch to `manager`, a rival that acted under it: claim the next
   * epoch (the ManagerHost restarts the role under it). Resolves once persisted.
   */
  async stepDown (epoch: number, manager: string | null = null): Promise<void> {
    const run = this.evaluating.then(async () => {
      if (this.core === null) return
      const wasManager = this.core.isManager
      const out = this.core.stepDown(epoch, this.now(), manager)
      if (out.claims.length > 0) {
        this.c.logger.warn({ epoch, rival: manager }, `a replica names ${manager ?? 'another agent'} manager of epoch ${epoch}, which this agent holds; claiming epoch ${epoch + 1} so its actions are fenced`)
      }
      await this.apply(out)
      if (wasManager && !this.core.isManager) this.c.logger.warn({ epoch, manager }, 'stepped down: a newer manager epoch exists; waiting for its claim')
    })
    this.evaluating = run.catch(err => { this.c.logger.error({ err }, 'stepping down failed') })
    await run
  }

  /**
   * `peerId` acts as manager of `epoch` (its replication request reached this agent's replica
   * handler): a rival claimant of our own epoch makes us re-claim above it (election-core.ts).
   */
  rival (epoch: number, peerId: string): void {
    this.serially(async () => {
      if (this.core === null) return
      const out = this.core.rival(epoch, peerId, this.now())
      if (out.claims.length > 0) this.c.logger.warn({ rival: peerId, epoch }, `${peerId} acts as manager of epoch ${epoch}, which this agent holds; claiming epoch ${epoch + 1} so its actions are fenced`)
      await this.apply(out)
    })
  }

  /** True when this agent is the manager. */
  get isManager (): boolean { return this.core?.isManager ?? false }

  /**
   * Re-evaluate now: `peerId` changed (membership or its replica revision), or, without one,
   * anything may have. Pokes that come while an evaluation is still queued are answered by it
   * (it reads the members named meanwhile when it runs): a join push-pull brings every member
   * at once, and one evaluation per member walking the whole view was O(N^2) per join. The
   * periodic evaluation (every `evaluateMs`) reads only what changed, so an idle agent's
   * election costs the same at 10,000 members as at 3.
   */
  poke (peerId?: string): void {
    if (peerId === undefined) this.fullReadDue = true
    else this.dirty.add(peerId)
    this.queueEvaluation()
  }

  private queueEvaluation (): void {
    if (this.pokeQueued) return
    this.pokeQueued = true
    this.serially(async () => {
      this.pokeQueued = false
      await this.evaluate()
    })
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
    const member = this.lookup(c.peerId)
    if (member === undefined) return `manager claim from ${c.peerId}, not a known member`
    if (!member.managerEligible || member.name !== c.name) return `manager claim from ${c.peerId}: ineligible or under another name`
    if (c.epoch > this.epoch + MAX_EPOCH_JUMP) return `manager claim epoch ${c.epoch} is more than ${MAX_EPOCH_JUMP} above ${this.epoch}`
    return null
  }

  /**
   * A claim relayed by someone other than membership (a node refusing our lease names the manager
   * its election gives our epoch, `rivalClaim`): the claim if it passes every check a broadcast
   * claim passes, else why not. Synchronous, so a manager can stop acknowledging before its next write.
   */
  checkClaim (data: Uint8Array): { ok: true, claim: ManagerClaim } | { ok: false, reason: string } {
    const claim = this.decode(data)
    if (claim === null) return { ok: false, reason: 'not a signed manager claim' }
    const why = this.validate(`${MANAGER_KEY_PREFIX}${claim.peerId}`, data, claim.epoch)
    return why === null ? { ok: true, claim } : { ok: false, reason: why }
  }

  /**
   * Take a relayed claim as if membership had delivered it (after `checkClaim`): the core names
   * the better of it and ours, or re-claims above it (election-core.ts, "Same-epoch claims").
   * Resolves once the outcome is applied. A claim that fails the checks is ignored.
   */
  async hearClaim (data: Uint8Array): Promise<void> {
    const checked = this.checkClaim(data)
    if (!checked.ok) {
      this.c.logger.warn({ reason: checked.reason }, 'a relayed manager claim failed its checks; ignored')
      return
    }
    const run = this.evaluating.then(async () => { await this.onClaim(checked.claim) })
    this.evaluating = run.catch(err => { this.c.logger.error({ err }, 'taking a relayed claim failed') })
    await run
  }

  /**
   * The signed claim of `peerId` for `epoch` as membership holds it (the latest under its key,
   * heard or, for ours, sent; the version is the epoch): a node's lease keeper hands it to a rival
   * claimant of that epoch, which verifies it for itself (lease-keeper.ts, `rivalClaim`).
   */
  claimEnvelope (peerId: string, epoch: number): Uint8Array | undefined {
    const b = this.c.broadcasts.latest(`${MANAGER_KEY_PREFIX}${peerId}`)
    return b !== undefined && b.version === epoch ? b.data : undefined
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
    if (this.core === null) return
    this.feedMembers()
    const at = Date.parse(claim.since)
    const out = this.core.claim({ epoch: claim.epoch, peerId: claim.peerId, name: claim.name, revision: claim.revision, at: Number.isFinite(at) ? at : 0 }, this.now())
    if (out.claims.length > 0) this.c.logger.warn({ rival: claim.name, peer: claim.peerId, epoch: claim.epoch }, `${claim.name} also claimed epoch ${claim.epoch} and loses to this agent; claiming epoch ${claim.epoch + 1} so its actions are fenced`)
    await this.apply(out)
  }

  private async evaluate (): Promise<void> {
    if (this.core === null) return
    const live = this.feedMembers()
    await this.apply(this.core.tick(this.now(), live, this.c.synced?.() ?? true))
  }

  /**
   * Tell the core what changed in the membership view since last time; returns the live count.
   * Reads only the members poked since the last evaluation, plus this agent itself (its
   * eligibility follows local state no member event announces: a store awaiting a snapshot).
   * The whole view is read after a poke without a member, and every `FULL_READ_MS` as a
   * backstop for a change nobody poked about (a member membership forgot).
   */
  private feedMembers (): number {
    const core = this.core
    if (core === null) return 0
    const now = this.now()
    const watchesRevisions = this.c.revisions?.onChange !== undefined
    if (this.fullReadDue || !watchesRevisions || now - this.lastFullReadAt >= FULL_READ_MS) {
      this.fullReadDue = false
      this.lastFullReadAt = now
      this.dirty.clear()
      const seen = new Set<string>()
      for (const m of this.c.members()) {
        seen.add(m.peerId)
        this.feedOne(core, m.peerId, m, now)
      }
      for (const id of [...this.fed.keys()]) if (!seen.has(id)) this.feedOne(core, id, undefined, now)
      return this.liveCount
    }
    this.dirty.add(this.init.peerId)
    for (const id of this.dirty) this.feedOne(core, id, this.lookup(id), now)
    this.dirty.clear()
    return this.liveCount
  }

  /** `peerId` as `members()` lists it. */
  private lookup (peerId: string): Member | undefined {
    return this.c.member !== undefined ? this.c.member(peerId) : this.c.members().find(m => m.peerId === peerId)
  }

  /** Feed one member (undefined: membership no longer lists it) and its replica revision. */
  private feedOne (core: ElectionCore, id: string, m: Member | undefined, now: number): void {
    const prev = this.fed.get(id)
    const isLive = (status: Member['status']): boolean => status === 'alive' || status === 'suspect'
    if (m === undefined) {
      if (prev === undefined) return
      // Forgotten by membership: no longer a candidate, and gone if it was the manager.
      this.fed.delete(id)
      if (isLive(prev.status)) this.liveCount--
      core.member({ id, status: prev.status, eligible: false, lastChange: now })
      return
    }
    if (m.managerEligible && this.c.revisions !== undefined && id !== this.init.peerId) {
      const revision = this.c.revisions.revisionOf(id)
      if (revision !== undefined) core.revision({ peerId: id, revision, awaiting: this.c.revisions.isAwaiting(id) })
    }
    if (prev !== undefined && prev.status === m.status && prev.eligible === m.managerEligible) return
    this.liveCount += (isLive(m.status) ? 1 : 0) - (prev !== undefined && isLive(prev.status) ? 1 : 0)
    this.fed.set(id, { status: m.status, eligible: m.managerEligible })
    core.member({ id, status: m.status, eligible: m.managerEligible, lastChange: now })
  }

  /** Persist a raised epoch before acting on it, then broadcast our claim and tell listeners. */
  private async apply (out: ElectionOutput): Promise<void> {
    if (out.persistEpoch !== null) await this.c.epochs.save(out.persistEpoch)
    for (const claim of out.claims) this.publish(claim)
    for (const ch of out.changes) {
      const info = ch.manager === null ? null : this.toInfo(ch.manager)
      const prev = ch.previous === null ? null : this.toInfo(ch.previous)
      if (ch.manager !== null) {
        this.c.logger.info({ manager: ch.manager.name, peer: ch.manager.peerId, epoch: ch.manager.epoch, revision: ch.manager.revision, self: info?.local }, 'manager elected')
      } else if (ch.previous !== null) {
        this.c.logger.info({ manager: ch.previous.name, epoch: ch.previous.epoch }, 'manager is gone; electing a new one')
      }
      this.emit(info, prev)
    }
  }

  private publish (c: ElectionClaim): void {
    const claim: ManagerClaim = { t: 'claim', epoch: c.epoch, peerId: c.peerId, name: c.name, since: new Date(c.at).toISOString(), revision: c.revision }
    try {
      const data = sealEnvelope(this.c.privateKey, new TextEncoder().encode(JSON.stringify(claim)))
      this.c.broadcasts.broadcast(`${MANAGER_KEY_PREFIX}${claim.peerId}`, data, claim.epoch)
    } catch (err) {
      this.c.logger.warn({ err: (err as Error).message }, 'claim broadcast failed')
    }
  }

  private toInfo (c: ElectionClaim): ManagerInfo {
    return { name: c.name, peerId: c.peerId, epoch: c.epoch, since: new Date(c.at).toISOString(), local: c.peerId === this.init.peerId }
  }

  private emit (info: ManagerInfo | null, prev: ManagerInfo | null): void {
    for (const l of this.listeners) {
      try { l(info, prev) } catch (err) { this.c.logger.error({ err }, 'manager listener failed') }
    }
  }
}
