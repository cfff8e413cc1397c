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
 *   `isolatedSettleMs` first (a restarted node must not elect itself with a stale state).
 * - Competing claims: claimSupersedes (higher epoch, then higher revision, then lower id).
 * - Bounded epochs: < 2^32, and a claim more than `maxEpochJump` above the highest known is
 *   refused (a hostile or broken member must not push the fencing token out of reach).
 * - Own stalls: after this node's tick came late, suspicion of the manager is not judged for
 *   `stallGraceMs` (membership's own-stall rule already moved its suspicions out).
 * - Same-epoch claims: two nodes that each missed the other's claim can claim one epoch. The
 *   losing claimant (claimSupersedes) adopts the winner and stops at once; the winning one,
 *   on hearing the loser's claim, claims epoch + 1, so everything the loser did under the shared
 *   epoch (node leases, replica writes) is fenced by a strictly higher token and the loser is
 *   deposed by the rules for a higher epoch, even where the loser's claim never spread.
 * - Ranking: a member whose replica revision was never announced ranks as revision 0 (a fresh
 *   store announces nothing), like our own fresh store: ranking it below ourselves made every
 *   fresh joiner that had not heard the sitting claim yet elect itself.
 * - Stepping down: a manager that learns of a higher epoch than its own (a replica or node
 *   refusing it as stale, a lease request of a newer manager to its own node) stops being
 *   manager at once, before the newer claim reaches it, and does not claim again for
 *   `stepDownHoldMs` (time for that claim to arrive: it would otherwise depose its successor).
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
}

/** Defaults of the election core. */
export const ELECTION_DEFAULTS = { settleMs: 3000, isolatedSettleMs: 30_000, suspectSilenceMs: 2500, evaluateMs: 250, stallGraceMs: 1000, maxEpochJump: 1024, stepDownHoldMs: 10_000, reclaimHoldMs: 10_000 } as const

/** Largest epoch (exclusive). */
export const EPOCH_LIMIT = 2 ** 32

type Resolved = Required<Omit<ElectionCoreInit, 'selfRevision'>> & Pick<ElectionCoreInit, 'selfRevision'>

function empty (): ElectionOutput { return { claims: [], changes: [], persistEpoch: null } }

/** The election of one node. */
export class ElectionCore {
  private readonly init: Resolved
  /** Eligible members only: the candidates (few), not the whole cluster. */
  private readonly eligible = new Map<MemberId, ElectionMember>()
  private readonly revisions = new Map<MemberId, ReplicaRevision>()
  private current: ElectionClaim | null = null
  private highest: number
  private startedAt = -1
  private lastTick = -1
  private judgeFrom = 0
  private live = 1
  private refusedCount = 0
  private reclaimCount = 0
  private lastReclaim = -Infinity
  /** No claim of our own before this time (after stepping down for a higher epoch). */
  private holdUntil = -Infinity

  constructor (init: ElectionCoreInit) {
    this.init = { ...ELECTION_DEFAULTS, ...init }
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
   * A verified claim arrived (by broadcast or push-pull). A rival claim at our own epoch that
   * loses to ours makes us claim again one epoch higher (see "Same-epoch claims" above); one
   * that wins makes us stop being manager (the change names the rival).
   */
  claim (c: ElectionClaim, now: number = this.lastTick): ElectionOutput {
    const out = empty()
    if (!this.acceptable(c.epoch)) return out
    const cur = this.current
    if (cur !== null && c.epoch === cur.epoch && c.peerId === cur.peerId) return out
    const wins = cur === null ? c.epoch >= this.highest : claimSupersedes(c, cur)
    if (wins) {
      this.adopt(c, out)
      return out
    }
    this.raise(c.epoch, out)
    if (cur !== null && cur.peerId === this.init.selfId && c.peerId !== this.init.selfId && c.epoch === cur.epoch && now >= this.lastReclaim + this.init.reclaimHoldMs) this.reclaim(now, out)
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
    if (!this.acceptable(epoch) || cur === null || cur.peerId !== this.init.selfId || peerId === this.init.selfId || cur.epoch !== epoch) return out
    if (now >= this.lastReclaim + this.init.reclaimHoldMs) this.reclaim(now, out)
    return out
  }

  /** Same-epoch rivals resolved by this node re-claiming above them. */
  get reclaims (): number { return this.reclaimCount }

  /** Claim epoch highest + 1 as ourselves (a tie we won: fence the rival's epoch). */
  private reclaim (now: number, out: ElectionOutput): void {
    const epoch = this.highest + 1
    if (!isEpoch(epoch)) { this.refusedCount++; return }
    const mine: ElectionClaim = { epoch, peerId: this.init.selfId, name: this.init.name, revision: this.init.selfRevision().revision, at: now }
    this.reclaimCount++
    this.lastReclaim = now
    this.adopt(mine, out)
    out.claims.push(mine)
  }

  /**
   * Raise the highest epoch seen (a lease request from a newer manager not heard claim yet).
   * Bounded like claims.
   */
  observeEpoch (epoch: number, now: number = this.lastTick): ElectionOutput {
    const out = empty()
    if (!this.acceptable(epoch)) return out
    this.raise(epoch, out)
    this.stepDownFor(epoch, now, out)
    return out
  }

  /**
   * This node, as manager, learned of a higher epoch (a replica or node refused it as stale),
   * or that a replica's election gives our own epoch to `manager` (a same-epoch claim we
   * lost): it stops being manager now and holds its own claims back (see the rules above).
   * Bounded like claims; a no-op unless we are manager with an epoch below `epoch`, or at
   * `epoch` with another manager named.
   */
  stepDown (epoch: number, now: number, manager: MemberId | null = null): ElectionOutput {
    const cur = this.current
    if (manager !== null && manager !== this.init.selfId && cur !== null && cur.peerId === this.init.selfId && cur.epoch === epoch) {
      // A replica's election gives our epoch to another claimant: we lost a same-epoch claim.
      const out = empty()
      this.current = null
      this.holdUntil = now + this.init.stepDownHoldMs
      out.changes.push({ manager: null, previous: cur })
      return out
    }
    return this.observeEpoch(epoch, now)
  }

  private stepDownFor (epoch: number, now: number, out: ElectionOutput): void {
    const cur = this.current
    if (cur === null || cur.peerId !== this.init.selfId || cur.epoch >= epoch) return
    this.current = null
    this.holdUntil = now + this.init.stepDownHoldMs
    out.changes.push({ manager: null, previous: cur })
  }

  /** Evaluate: depose a gone manager, claim when we are the winner. `liveMembers` = membership size. */
  tick (now: number, liveMembers: number): ElectionOutput {
    const out = empty()
    if (this.startedAt < 0) return out
    this.live = liveMembers
    if (now - this.lastTick > this.init.evaluateMs + this.init.stallGraceMs) this.judgeFrom = now + this.init.stallGraceMs
    this.lastTick = now
    const cur = this.current
    if (cur !== null) {
      if (!this.gone(cur, now)) return out
      this.current = null
      out.changes.push({ manager: null, previous: cur })
    }
    const age = now - this.startedAt
    if (!this.init.eligible || age < this.init.settleMs || now < this.holdUntil) return out
    if (this.live <= 1 && this.init.hasSeeds && age < this.init.isolatedSettleMs) return out
    if (this.winner() !== this.init.selfId) return out
    const epoch = this.highest + 1
    if (!isEpoch(epoch)) { this.refusedCount++; return out }
    const mine: ElectionClaim = { epoch, peerId: this.init.selfId, name: this.init.name, revision: this.init.selfRevision().revision, at: now }
    this.adopt(mine, out)
    out.claims.push(mine)
    return out
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

  /** A manager that left, failed, was forgotten, or has been suspect too long. We never depose ourselves. */
  private gone (cur: ElectionClaim, now: number): boolean {
    if (cur.peerId === this.init.selfId) return false
    const m = this.eligible.get(cur.peerId)
    if (m === undefined || m.status === 'left' || m.status === 'failed') return true
    return m.status === 'suspect' && now - m.lastChange >= this.init.suspectSilenceMs && now >= this.judgeFrom
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
      const s = this.init.selfRevision()
      return s.awaiting ? -2 : s.revision
    }
    const r = this.revisions.get(id)
    return r === undefined ? 0 : r.awaiting ? -2 : r.revision
  }

  private acceptable (epoch: number): boolean {
    if (!isEpoch(epoch) || epoch > this.highest + this.init.maxEpochJump) { this.refusedCount++; return false }
    return true
  }

  private raise (epoch: number, out: ElectionOutput): void {
    if (epoch <= this.highest) return
    this.highest = epoch
    out.persistEpoch = epoch
  }

  private adopt (c: ElectionClaim, out: ElectionOutput): void {
    const prev = this.current
    this.raise(c.epoch, out)
    this.current = c
    out.changes.push({ manager: c, previous: prev })
  }
}

function isEpoch (n: number): boolean { return Number.isInteger(n) && n >= 0 && n < EPOCH_LIMIT }
