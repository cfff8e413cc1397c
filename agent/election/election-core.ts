/**
 * The manager election as a pure state machine (sans-I/O, like the membership core): the
 * wrapper feeds membership changes of eligible members, verified manager claims, replica
 * revisions and ticks with `now`; the core returns claims to broadcast (the wrapper signs
 * them and hands them to the membership core's `broadcast`, one key per claimant with the
 * epoch as version), manager changes, and the highest epoch to persist.
 *
 * Rules (those of agent/election/election.ts, except liveness):
 * - A sitting manager stays (no flapping when a better-ranked node joins). It is replaced when
 *   membership says `left` or `failed` (or forgot it), or when it has been `suspect` without
 *   refutation for `suspectSilenceMs`. There is no periodic re-announcement: a claim is
 *   broadcast once per new epoch and spreads by the broadcast queue and push-pull.
 * - With no manager, after `settleMs` (enough to hear a sitting manager's claim by push-pull),
 *   every eligible node computes the same winner among alive eligible members: highest replica
 *   revision (a store awaiting a snapshot last), then lowest peer id. The winner claims
 *   epoch = highest seen + 1. A node with seeds that knows no other member waits
 *   `isolatedSettleMs` first (a restarted node must not elect itself with a stale state); one
 *   that knows members but has not completed a push-pull of its own (its join) waits for one
 *   (it knows them only by gossip, which may not have carried the sitting manager's claim),
 *   and one that has never named a manager waits until its view has not grown for
 *   `claimSettleMs` (that push-pull may have gone to another fresh joiner: `unsettled`).
 * - Competing claims: the manager is the best claim of the highest epoch (claimSupersedes:
 *   higher epoch, then higher revision, then lower id) among all claims heard, whose claimant
 *   is not gone. It depends on the set of claims heard, not on the order they arrived in, so
 *   nodes that heard the same claims name the same manager (choosing by arrival order once
 *   left a claimant that had stepped down named by one node while it named another: no
 *   manager acted for minutes).
 * - A gone manager takes its epoch with it: no other claim of that epoch is named after it
 *   (the gone one may be frozen and wake acting under it); the next manager claims above it.
 * - Bounded epochs: < 2^32, and a claim more than `maxEpochJump` above the highest known is
 *   refused (a hostile or broken member must not push the fencing token out of reach).
 * - Own stalls: after this node's tick came late, suspicion of the manager is not judged for
 *   `stallGraceMs` (membership's own-stall rule already moved its suspicions out).
 * - Same-epoch claims: two nodes that each missed the other's claim can claim one epoch. The
 *   losing claimant (claimSupersedes) names the winner and stops at once; the winning one, on
 *   hearing the loser's claim (or its replication request, or a replica naming it for our
 *   epoch), claims epoch + 1, so everything the loser did under the shared epoch (node leases,
 *   replica writes) is fenced by a strictly higher token and the loser is deposed by the rules
 *   for a higher epoch, even where the loser's claim never spread. Re-claims are at most one
 *   per `reclaimHoldMs`; a rival heard within the hold is fenced when it ends.
 * - Ranking: a member whose replica revision was never announced ranks as revision 0 (a fresh
 *   store announces nothing), like our own fresh store: ranking it below ourselves made every
 *   fresh joiner that had not heard the sitting claim yet elect itself. Likewise we rank
 *   ourselves by the revision we last announced (`selfRank`), not our live one: under writes
 *   every acknowledging replica is a little ahead of its last announcement, and each ranked
 *   itself above the others, so two claimed at every failover of a busy manager.
 * - Stepping down: a manager that learns of a higher epoch than its own (a replica or node
 *   refusing it as stale, a lease request of a newer manager to its own node) stops being
 *   manager at once, before the newer claim reaches it, and does not claim again for
 *   `stepDownHoldMs` (time for that claim to arrive: it would otherwise depose its successor).
 *   Any node that learns of an epoch before its claim names no manager and holds likewise.
 */

import { claimSupersedes } from '../../protocol/manager-wire.js'
import type { MemberId, MemberStatus } from '../membership/core/types.js'

/** A manager claim as the core sees it (verified by the wrapper). */
export interface ElectionClaim {
  epoch: number
  peerId: MemberId
  name: string
  /** The claimant's replica revision when it claimed. */
  revision: number
  /** When the claimant became manager (ms since the epoch, informational). */
  at: number
}

/** A membership change about a member (the wrapper forwards the core's member events). */
export interface ElectionMember {
  id: MemberId
  status: MemberStatus
  eligible: boolean
  /** When its status last changed (this node's clock). */
  lastChange: number
}

/** A member's replica revision (from its replica announcement broadcast). */
export interface ReplicaRevision { peerId: MemberId, revision: number, awaiting: boolean }

/** A change of manager. */
export interface ManagerChange { manager: ElectionClaim | null, previous: ElectionClaim | null }

/** What every call returns. */
export interface ElectionOutput {
  /** Claims to sign and broadcast (at most one: our own, new epoch). */
  claims: ElectionClaim[]
  changes: ManagerChange[]
  /** A new highest epoch to persist before acting on it, or null. */
  persistEpoch: number | null
}

/** Construction parameters. */
export interface ElectionCoreInit {
  selfId: MemberId
  name: string
  eligible: boolean
  /** Whether the node was started with seeds (a first node has none). */
  hasSeeds: boolean
  /** Persisted highest epoch seen. */
  highestEpoch: number
  /** Our own replica revision and whether our store awaits a snapshot (read at claim time). */
  selfRevision: () => { revision: number, awaiting: boolean }
  /**
   * Our revision as the others rank us: the last one we announced (default: `selfRevision`).
   * Ranking ourselves by our live revision against the others' announced ones made every
   * acknowledging replica of a busy manager rank itself first: two claimed each failover.
   */
  selfRank?: () => { revision: number, awaiting: boolean }
  settleMs?: number
  isolatedSettleMs?: number
  suspectSilenceMs?: number
  /** The wrapper's tick cadence; a tick later than this + stallGraceMs is our own stall. */
  evaluateMs?: number
  stallGraceMs?: number
  maxEpochJump?: number
  /** After stepping down for a higher epoch, claim nothing for this long. */
  stepDownHoldMs?: number
  /** After re-claiming above a same-epoch rival, do not re-claim again for this long. */
  reclaimHoldMs?: number
  /**
   * A node with seeds that has never named a manager claims only once its member count has not
   * grown for this long (at most until `isolatedSettleMs` after its start; default: settleMs):
   * see `unsettled`.
   */
  claimSettleMs?: number
}

/** Defaults of the election core. */
export const ELECTION_DEFAULTS = { settleMs: 3000, isolatedSettleMs: 30_000, suspectSilenceMs: 2500, evaluateMs: 250, stallGraceMs: 1000, maxEpochJump: 1024, stepDownHoldMs: 10_000, reclaimHoldMs: 10_000, claimSettleMs: 3000 } as const

/** Largest epoch (exclusive). */
export const EPOCH_LIMIT = 2 ** 32

type Resolved = Required<Omit<ElectionCoreInit, 'selfRevision' | 'selfRank'>> & Pick<ElectionCoreInit, 'selfRevision' | 'selfRank'>

function empty (): ElectionOutput { return { claims: [], changes: [], persistEpoch: null } }

/** The election of one node. */
export class ElectionCore {
  private readonly init: Resolved
  /** Eligible members only: the candidates (few), not the whole cluster. */
  private readonly eligible = new Map<MemberId, ElectionMember>()
  private readonly revisions = new Map<MemberId, ReplicaRevision>()
  /**
   * Every claim heard at the highest epoch, ours included, one per claimant (claims of lower
   * epochs are dropped when the epoch rises). The manager is the best of them by
   * claimSupersedes whose claimant is not gone: a function of the claims heard, so nodes that
   * heard the same claims name the same manager whatever the order they arrived in.
   */
  private readonly claims = new Map<MemberId, ElectionClaim>()
  private current: ElectionClaim | null = null
  private highest: number
  /** The manager of `epoch` this node judged gone: no other claim of that epoch may replace it. */
  private fallen: { epoch: number, peerId: MemberId } | null = null
  /** A rival acted under our epoch (a replication request of it, a replica naming it): re-claim when the hold allows. */
  private rivalEpoch = -1
  private startedAt = -1
  private lastTick = -1
  private judgeFrom = 0
  private live = 1
  private refusedCount = 0
  private reclaimCount = 0
  private lastReclaim = -Infinity
  /** No claim of our own before this time (after stepping down for a higher epoch). */
  private holdUntil = -Infinity
  /** Most live members seen, and when that count last grew (claim settle). */
  private maxLive = 0
  private grewAt = -Infinity
  /** A manager was named at some point since start (we have heard claims). */
  private named = false

  constructor (init: ElectionCoreInit) {
    // The claim settle follows a shortened settle (tests, small clusters) unless set itself.
    this.init = { ...ELECTION_DEFAULTS, ...init, claimSettleMs: init.claimSettleMs ?? init.settleMs ?? ELECTION_DEFAULTS.claimSettleMs }
    this.highest = isEpoch(init.highestEpoch) ? init.highestEpoch : 0
  }

  /** Begin: the settle periods count from here. */
  start (now: number): ElectionOutput {
    this.startedAt = now
    this.lastTick = now
    return empty()
  }

  /** The manager as this node knows it, or null. */
  manager (): ElectionClaim | null { return this.current }
  /** Highest epoch seen (the fencing token). */
  get epoch (): number { return this.highest }
  /** True when this node is the manager. */
  get isManager (): boolean { return this.current?.peerId === this.init.selfId }
  /** Claims and epochs refused as out of bounds. */
  get refused (): number { return this.refusedCount }

  /** A membership change. Only eligible members are kept. */
  member (m: ElectionMember): void {
    if (m.eligible) this.eligible.set(m.id, m)
    else this.eligible.delete(m.id)
  }

  /** A member's replica revision. */
  revision (r: ReplicaRevision): void {
    if (Number.isSafeInteger(r.revision) && r.revision >= 0) this.revisions.set(r.peerId, r)
  }

  /**
   * A verified claim arrived (by broadcast or push-pull). It joins the claims of its epoch and
   * the manager is chosen again among them. A rival claim at our own epoch that loses to ours
   * makes us claim again one epoch higher (see "Same-epoch claims" above); one that wins makes
   * us stop being manager (the change names the rival).
   */
  claim (c: ElectionClaim, now: number = this.lastTick): ElectionOutput {
    const out = empty()
    if (!this.acceptable(c.epoch) || c.epoch < this.highest) return out
    const known = this.claims.get(c.peerId)
    if (known !== undefined && known.epoch >= c.epoch) return out
    this.raise(c.epoch, out)
    this.claims.set(c.peerId, c)
    this.choose(now, out)
    if (this.isManager && c.peerId !== this.init.selfId && c.epoch === this.current?.epoch) this.rivalAt(c.epoch, now, out)
    return out
  }

  /**
   * Another peer acts as manager of `epoch` (a replication request of it reached our agent):
   * when that is our own epoch, it claimed it too and lost to us (our election would have
   * adopted it otherwise), so we re-claim above it exactly as on hearing its claim.
   */
  rival (epoch: number, peerId: MemberId, now: number): ElectionOutput {
    const out = empty()
    const cur = this.current
    if (!this.acceptable(epoch) || cur === null || !this.isManager || peerId === this.init.selfId || cur.epoch !== epoch) return out
    this.rivalAt(epoch, now, out)
    return out
  }

  /** Same-epoch rivals resolved by this node re-claiming above them. */
  get reclaims (): number { return this.reclaimCount }

  /** A rival acted under our epoch: re-claim above it now, or once the re-claim hold ends (tick). */
  private rivalAt (epoch: number, now: number, out: ElectionOutput): void {
    this.rivalEpoch = epoch
    if (now >= this.lastReclaim + this.init.reclaimHoldMs) this.reclaim(now, out)
  }

  /** Claim epoch highest + 1 as ourselves (a tie we won: fence the rival's epoch). */
  private reclaim (now: number, out: ElectionOutput): void {
    const epoch = this.highest + 1
    if (!isEpoch(epoch)) { this.refusedCount++; return }
    this.reclaimCount++
    this.lastReclaim = now
    this.claimOwn(epoch, now, out)
  }

  /**
   * Raise the highest epoch seen (a lease request from a newer manager not heard claim yet).
   * Bounded like claims. A manager steps down; until the newer claim arrives no one is named,
   * and this node claims nothing for `stepDownHoldMs` (it would depose the newer manager).
   */
  observeEpoch (epoch: number, now: number = this.lastTick): ElectionOutput {
    const out = empty()
    if (!this.acceptable(epoch) || epoch <= this.highest) return out
    this.raise(epoch, out)
    this.holdUntil = Math.max(this.holdUntil, now + this.init.stepDownHoldMs)
    this.choose(now, out)
    return out
  }

  /**
   * This node, as manager, learned of a higher epoch (a replica or node refused it as stale):
   * it stops being manager now and holds its own claims back (see the rules above). Or a
   * replica's election gives our own epoch to `manager`: that replica did not hear our claim
   * (the one we hold beats every claim of the epoch we heard), and `manager` acted under our
   * epoch, so we re-claim above it (at once, or when the re-claim hold ends). Bounded like
   * claims; a no-op unless we are manager with an epoch below `epoch`, or at `epoch` with
   * another manager named.
   */
  stepDown (epoch: number, now: number, manager: MemberId | null = null): ElectionOutput {
    const cur = this.current
    if (manager !== null && manager !== this.init.selfId && cur !== null && this.isManager && cur.epoch === epoch) {
      const out = empty()
      if (this.acceptable(epoch)) this.rivalAt(epoch, now, out)
      return out
    }
    return this.observeEpoch(epoch, now)
  }

  /**
   * Evaluate: depose a gone manager, re-claim above a rival, claim when we are the winner.
   * `liveMembers` = membership size; `synced` = a push-pull of our own has completed (the join).
   */
  tick (now: number, liveMembers: number, synced = true): ElectionOutput {
    const out = empty()
    if (this.startedAt < 0) return out
    this.live = liveMembers
    if (liveMembers > this.maxLive) { this.maxLive = liveMembers; this.grewAt = now }
    if (now - this.lastTick > this.init.evaluateMs + this.init.stallGraceMs) this.judgeFrom = now + this.init.stallGraceMs
    this.lastTick = now
    const cur = this.current
    // The manager of an epoch takes the epoch with it: a loser of the same epoch must not act
    // under it (a frozen manager of that epoch may wake), so the next manager claims above it.
    if (cur !== null && cur.peerId !== this.init.selfId && this.gone(cur.peerId, now)) this.fallen = { epoch: cur.epoch, peerId: cur.peerId }
    this.choose(now, out)
    const mgr = this.current
    if (mgr !== null) {
      if (this.isManager && this.rivalEpoch === mgr.epoch && now >= this.lastReclaim + this.init.reclaimHoldMs) this.reclaim(now, out)
      return out
    }
    const age = now - this.startedAt
    if (!this.init.eligible || age < this.init.settleMs || now < this.holdUntil) return out
    if (this.live <= 1 && this.init.hasSeeds && age < this.init.isolatedSettleMs) return out
    // Knowing members only by gossip is not enough: a sitting manager's claim is broadcast once
    // per epoch, so a joiner whose join push-pull failed (63 at once at one seed on a saturated
    // machine) may never hear it by gossip. On the real 64-host run 30-odd agents elected
    // themselves at epoch 1 that way. Members talk to it, so its join retries reach one.
    if (this.live > 1 && this.init.hasSeeds && !synced) return out
    if (this.unsettled(now, age)) return out
    if (this.winner() !== this.init.selfId) return out
    const epoch = this.highest + 1
    if (!isEpoch(epoch)) { this.refusedCount++; return out }
    this.claimOwn(epoch, now, out)
    return out
  }

  /**
   * Claim settle: a joiner that has never named a manager and whose view still grows has not
   * necessarily heard the sitting manager's claim even after its own push-pull completed: that
   * push-pull may have gone to another fresh joiner that had not heard it either (the real
   * 64-host run: an agent claimed epoch 1 beside the sitting manager 12 s after its start; the
   * simulator's burst: 2 claimants of epoch 1 in 5 of 18 seeds). While members are still being
   * learned, the settle push-pulls and gossip that teach them also carry the claim; once the
   * view has not grown for `claimSettleMs`, the node has heard what the members it reached
   * knew. Bounded by `isolatedSettleMs` from start (a view that never stops growing). A node
   * without seeds (the first one) and a node that has named a manager (a failover in a
   * settled cluster) do not wait; a cluster started all at once elects once views settle.
   */
  private unsettled (now: number, age: number): boolean {
    if (!this.init.hasSeeds || this.named || this.live <= 1 || age >= this.init.isolatedSettleMs) return false
    return now - this.grewAt < this.init.claimSettleMs
  }

  /** When `tick` may next have something to do (the wrapper also ticks every evaluateMs). */
  nextDeadline (): number {
    if (this.startedAt < 0) return Infinity
    let d = this.lastTick + this.init.evaluateMs
    const cur = this.current
    if (cur !== null) {
      const m = this.eligible.get(cur.peerId)
      if (m?.status === 'suspect') d = Math.min(d, Math.max(m.lastChange + this.init.suspectSilenceMs, this.judgeFrom))
    }
    return d
  }

  /** A claimant that left, failed, was forgotten, or has been suspect too long. Never ourselves. */
  private gone (id: MemberId, now: number): boolean {
    if (id === this.init.selfId) return false
    const m = this.eligible.get(id)
    if (m === undefined || m.status === 'left' || m.status === 'failed') return true
    return m.status === 'suspect' && now - m.lastChange >= this.init.suspectSilenceMs && now >= this.judgeFrom
  }

  /** Name the best claim of the highest epoch whose claimant is not gone (or none), reporting a change. */
  private choose (now: number, out: ElectionOutput): void {
    let best: ElectionClaim | null = null
    for (const c of this.claims.values()) {
      if (c.epoch !== this.highest || this.gone(c.peerId, now)) continue
      const f = this.fallen
      if (f !== null && f.epoch === c.epoch && f.peerId !== c.peerId) continue
      if (best === null || claimSupersedes(c, best)) best = c
    }
    const prev = this.current
    if (best === prev || (best !== null && prev !== null && best.peerId === prev.peerId && best.epoch === prev.epoch)) return
    this.current = best
    if (best !== null) this.named = true
    out.changes.push({ manager: best, previous: prev })
  }

  /** Claim `epoch` as ourselves. */
  private claimOwn (epoch: number, now: number, out: ElectionOutput): void {
    const mine: ElectionClaim = { epoch, peerId: this.init.selfId, name: this.init.name, revision: this.init.selfRevision().revision, at: now }
    this.raise(epoch, out)
    this.claims.set(mine.peerId, mine)
    this.choose(now, out)
    out.claims.push(mine)
  }

  /** The best alive eligible member: highest revision (awaiting last), then lowest id. */
  private winner (): MemberId | undefined {
    let best: MemberId | undefined
    let bestRank = -Infinity
    for (const m of this.eligible.values()) {
      if (m.status !== 'alive') continue
      const r = this.rankOf(m.id)
      if (best === undefined || r > bestRank || (r === bestRank && m.id < best)) { best = m.id; bestRank = r }
    }
    return best
  }

  private rankOf (id: MemberId): number {
    if (id === this.init.selfId) {
      const s = (this.init.selfRank ?? this.init.selfRevision)()
      return s.awaiting ? -2 : s.revision
    }
    const r = this.revisions.get(id)
    return r === undefined ? 0 : r.awaiting ? -2 : r.revision
  }

  private acceptable (epoch: number): boolean {
    if (!isEpoch(epoch) || epoch > this.highest + this.init.maxEpochJump) { this.refusedCount++; return false }
    return true
  }

  /** Raise the highest epoch seen: claims of lower epochs are history, and ours among them is withdrawn. */
  private raise (epoch: number, out: ElectionOutput): void {
    if (epoch <= this.highest) return
    this.highest = epoch
    out.persistEpoch = epoch
    for (const [id, c] of this.claims) if (c.epoch < epoch) this.claims.delete(id)
  }
}

function isEpoch (n: number): boolean { return Number.isInteger(n) && n >= 0 && n < EPOCH_LIMIT }
