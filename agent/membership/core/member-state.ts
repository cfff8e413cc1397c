/**
 * The member view with SWIM's merge rules (as memberlist applies them, plus bounded numbers):
 * alive/suspect/dead claims, refutation of claims about self, Lifeguard suspicions with
 * confirmations, application broadcasts, push-pull merge, and the broadcast queue that
 * re-disseminates whatever was news. Pure: every effect goes into the `Output` passed in.
 *
 * Bounded numbers: a member's status incarnation is always its signed info's. A suspect or
 * dead claim above it is refused (only the subject can sign a higher one), below it is stale.
 * A claim about self above our own incarnation is refused too, so no peer can make us jump
 * our incarnation toward 2^32; only our own signed info (seen again after a lost restart
 * counter) may raise it.
 */

import { aliveInfoSize, broadcastSize } from '../../../protocol/swim-wire.js'
import { Awareness } from './awareness.js'
import { BroadcastQueue } from './broadcast-queue.js'
import { U32_LIMIT } from './constants.js'
import { Code, MemberTable, isLive, statusName } from './member-table.js'
import { judgeSyncMember, worthAdding } from './push-pull.js'
import { confirm, newSuspicion, suspicionBounds, type Suspicion } from './suspicion.js'
import type {
  AliveInfo, Broadcast, MemberId, MemberView, Output, SwimStats, SwimTiming, SyncMember, SyncState, UserBroadcast
} from './types.js'

/** Most distinct user broadcast keys kept (a bound against a flood of keys). */
export const MAX_USER_KEYS = 65_536
/** Most stale accusers answered directly per call (the rest get our info by gossip). */
export const MAX_STALE_ACCUSERS = 8
/** Most members remembered as recently revived (a bound; beyond it new ones are not quieted). */
export const MAX_REVIVED = 65_536

/** Queue key of broadcasts about a member (alive, suspect and dead supersede each other). */
export function memberKey (id: MemberId): string { return 'm:' + id }
/** Queue key of a user broadcast. */
export function userKey (key: string): string { return 'u:' + key }

/** A fresh, empty output. */
export function emptyOutput (): Output { return { send: [], syncs: [], events: [] } }

/** Zeroed counters. */
export function zeroStats (): SwimStats {
  return { probes: 0, acks: 0, nacks: 0, indirectProbes: 0, suspicions: 0, refutations: 0, deaths: 0, broadcastsQueued: 0, broadcastsSent: 0, syncs: 0, settles: 0, refused: 0, ignored: 0, stalls: 0, deferred: 0 }
}

/** Collaborators of the member state. */
export interface MemberStateComponents {
  timing: SwimTiming
  stats: SwimStats
  awareness: Awareness
  selfInfo: (incarnation: number, left: boolean) => AliveInfo
}

/** The view, its merge rules and the dissemination queue. */
export class MemberState {
  readonly table = new MemberTable()
  readonly queue = new BroadcastQueue()
  /** Running suspicions by slot: state exists only for suspects. */
  readonly suspicions = new Map<number, Suspicion>()
  private readonly user = new Map<string, UserBroadcast>()
  /**
   * Somebody held us failed (we stalled, or were cut off): what we hold may be stale too (a
   * manager claim made meanwhile is no longer gossiped), so the caller resyncs by push-pull.
   */
  declaredDead = false
  /**
   * Somebody suspected us or held us failed (we refuted, or learned of a verdict) since the
   * caller last drained this: the suspicions we made meanwhile are suspect themselves, and
   * their subjects may never have heard of them (see `tellAccused`).
   */
  accused = false
  /** Makers of stale claims about us since the caller last drained this (see `reannounce`). */
  readonly staleAccusers: MemberId[] = []
  /**
   * Members a push-pull peer holds alive at the very incarnation we hold failed (or suspect,
   * with the heal rules), since the caller last drained this: they may not know our claim
   * (see `mergeMember`).
   */
  readonly unaware: MemberId[] = []
  /** Members added to the view since start (the caller tells whether the view still grows). */
  added = 0
  /** Members that came back from failed since start (a heal still being learned). */
  revivals = 0
  /** When a member last became failed in our view (gossip to the recently dead: `gossipToDeadMs`). */
  lastFailedAt = -Infinity
  /** When members became failed, oldest first from `failedHead` (pruned by `failedSince`). */
  private readonly failedAt: number[] = []
  private failedHead = 0
  /** When members we held failed came back (see `revivedQuietMs`); pruned as they age. */
  private readonly revived = new Map<MemberId, number>()
  private readonly c: MemberStateComponents
  private self: AliveInfo
  private selfSlot = -1

  constructor (components: MemberStateComponents, readonly selfId: MemberId, incarnation: number) {
    this.c = components
    this.self = components.selfInfo(incarnation, false)
  }

  /** Our own current info. */
  get selfInfo (): AliveInfo { return this.self }
  /** Our own incarnation. */
  get incarnation (): number { return this.self.incarnation }
  /** True once we left. */
  get left (): boolean { return this.self.left }
  /** Our own slot. */
  get slotOfSelf (): number { return this.selfSlot }

  /** Put ourselves in the view and announce us. */
  start (now: number, out: Output): void {
    this.selfSlot = this.table.add(this.self, Code.Alive, now)
    out.events.push({ t: 'incarnation', value: this.self.incarnation })
    out.events.push({ t: 'member', id: this.selfId, status: 'alive', previous: null, info: this.self })
    this.enqueue(memberKey(this.selfId), { t: 'alive', info: this.self })
  }

  /** Sign a new self info at a higher incarnation (refutation, changed facts, leave). */
  bumpSelf (at: number, left: boolean, now: number, out: Output, urgent = false): boolean {
    if (at >= U32_LIMIT) { this.c.stats.refused++; return false }
    const prev = this.self.left ? 'left' : 'alive'
    this.self = this.c.selfInfo(at, left)
    this.table.setInfo(this.selfSlot, this.self)
    this.table.setCode(this.selfSlot, left ? Code.Left : Code.Alive, now)
    out.events.push({ t: 'incarnation', value: at })
    out.events.push({ t: 'member', id: this.selfId, status: left ? 'left' : 'alive', previous: prev, info: this.self })
    this.enqueue(memberKey(this.selfId), { t: 'alive', info: this.self }, urgent)
    return true
  }

  /** Somebody claims we are suspect/dead/stale at `inc`: outdo it (Lifeguard: we may be the slow one). */
  private refute (inc: number, now: number, out: Output, accuser?: MemberId): void {
    if (this.self.left) return
    if (this.bumpSelf(Math.max(inc, this.self.incarnation) + 1, false, now, out, true)) {
      this.c.stats.refutations++
      this.accused = true
      this.c.awareness.apply(1)
      // The accuser gets the refutation straight away (answerStaleClaims), besides gossip:
      // its suspicion timer runs, and on a saturated machine gossip may take longer.
      if (accuser !== undefined) this.noteAccuser(accuser)
    }
  }

  /** Remember a maker of a claim about us, for the caller to send it our info directly (bounded). */
  private noteAccuser (accuser: MemberId): void {
    if (accuser !== this.selfId && !this.staleAccusers.includes(accuser) && this.staleAccusers.length < MAX_STALE_ACCUSERS) this.staleAccusers.push(accuser)
  }

  /**
   * A claim about an incarnation we already refuted: its maker missed our refutation (gossip
   * is retransmit-limited, or we refuted inside a partition it was cut off from), so spread
   * our current info again, without a new incarnation (only when the queue no longer carries
   * it, so a stream of stale claims costs one entry), and note the maker for the caller to
   * send it our info directly.
   */
  private reannounce (accuser: MemberId): void {
    this.noteAccuser(accuser)
    const key = memberKey(this.selfId)
    if (this.queue.get(key) !== undefined) return
    this.enqueue(key, { t: 'alive', info: this.self })
  }

  /**
   * Merge a (verified) alive info; `relay` queues it for re-dissemination when it was news.
   * Returns whether it was news (a member we did not know, or a newer incarnation).
   */
  applyAlive (info: AliveInfo, relay: boolean, now: number, out: Output): boolean {
    if (info.id === this.selfId) {
      if (this.self.left) return false
      if (info.incarnation > this.self.incarnation || (info.incarnation === this.self.incarnation && !sameInfo(info, this.self))) {
        this.refute(info.incarnation, now, out)
      }
      return false
    }
    const slot = this.table.slot(info.id)
    if (slot < 0) {
      const code = info.left ? Code.Left : Code.Alive
      this.table.add(info, code, now)
      this.added++
      out.events.push({ t: 'member', id: info.id, status: statusName(code), previous: null, info })
      if (relay) this.enqueue(memberKey(info.id), { t: 'alive', info })
      return true
    }
    const cur = this.table.info(slot)
    if (info.incarnation <= cur.incarnation) return false
    const prev = this.table.code(slot)
    const code = info.left ? Code.Left : Code.Alive
    if (prev === Code.Failed && code === Code.Alive) { this.revivals++; this.noteRevived(info.id, now) }
    this.table.setInfo(slot, info)
    this.table.setCode(slot, code, now)
    this.suspicions.delete(slot)
    // status === previous: the member re-signed its info (facts, eligibility) without a status change.
    out.events.push({ t: 'member', id: info.id, status: statusName(code), previous: statusName(prev), info })
    if (relay) this.enqueue(memberKey(info.id), { t: 'alive', info })
    return true
  }

  /**
   * Merge a suspicion by `from` at `inc`. Returns the slot's suspicion state change:
   * 'new' (now suspect), 'confirmed' (an independent confirmation), or 'none'.
   */
  applySuspect (id: MemberId, inc: number, from: MemberId, now: number, out: Output): 'new' | 'confirmed' | 'none' {
    const slot = this.claimSlot(id, inc, from, now, out)
    if (slot < 0) return 'none'
    const code = this.table.code(slot)
    const b: Broadcast = { t: 'suspect', id, incarnation: inc, from }
    if (code === Code.Suspect) {
      const s = this.suspicions.get(slot)
      if (s === undefined || !confirm(s, from)) return 'none'
      this.enqueue(memberKey(id), b)
      return 'confirmed'
    }
    if (code !== Code.Alive) return 'none'
    const bounds = suspicionBounds({ ...this.c.timing, members: this.table.live })
    // Lifeguard stretches a slow node's probes; its suspicions too: when THIS node's timers
    // and inputs run late (a saturated machine), a refutation needs longer to reach it.
    const slow = this.c.awareness.scale(1)
    bounds.minMs *= slow
    bounds.maxMs *= slow
    this.suspicions.set(slot, newSuspicion(from, bounds, now))
    this.table.setCode(slot, Code.Suspect, now)
    this.c.stats.suspicions++
    out.events.push({ t: 'member', id, status: 'suspect', previous: 'alive', info: this.table.info(slot) })
    this.enqueue(memberKey(id), b)
    return 'new'
  }

  /** Merge a death claim by `from` at `inc`. */
  applyDead (id: MemberId, inc: number, from: MemberId, now: number, out: Output): void {
    if (id === this.selfId && inc <= this.self.incarnation && !this.self.left) { this.declaredDead = true; this.accused = true }
    const slot = this.claimSlot(id, inc, from, now, out)
    if (slot < 0) return
    const code = this.table.code(slot)
    if (!isLive(code)) return
    this.declareFailed(slot, from, now, out)
  }

  /** Mark a live member failed and tell everyone. */
  declareFailed (slot: number, from: MemberId, now: number, out: Output): void {
    const info = this.table.info(slot)
    const prev = this.table.code(slot)
    this.suspicions.delete(slot)
    this.table.setCode(slot, Code.Failed, now)
    this.lastFailedAt = now
    if (this.failedAt.length - this.failedHead < MAX_REVIVED) this.failedAt.push(now)
    this.c.stats.deaths++
    out.events.push({ t: 'member', id: info.id, status: 'failed', previous: statusName(prev), info })
    this.enqueue(memberKey(info.id), { t: 'dead', id: info.id, incarnation: info.incarnation, from })
  }

  /**
   * Common part of suspect/dead claims: refute one about us, refuse one above the signed
   * incarnation, ignore stale ones and unknown subjects. The slot to act on, or -1.
   *
   * A claim about a third party made by an accuser we hold failed or left is ignored: that
   * accuser was cut off from us, so its verdicts are evidence of a partition, not of the
   * subject's death (after a heal, the other side's queued `dead` claims would otherwise
   * kill live members of our own side). The same holds for `revivedQuietMs` after such an
   * accuser came back: its partition-era claims are relayed for tens of seconds after the
   * heal, faster than the refutations of their subjects (small claims against ~650-byte
   * records, every member refuting at once), and taking them killed reachable members (the
   * simulator's partition heal at 1,000 nodes: 102 false deaths more than 30 s after the heal,
   * thousands within). A real death it reports meanwhile is found by our own side's probes
   * (each member is probed about twice a second cluster-wide). A claim about us is refuted
   * whoever made it: the accuser's side must learn we are alive.
   */
  private claimSlot (id: MemberId, inc: number, from: MemberId, now: number, out: Output): number {
    if (id === this.selfId) {
      if (inc > this.self.incarnation) this.c.stats.refused++
      else if (inc === this.self.incarnation) this.refute(inc, now, out, from)
      else if (!this.self.left) this.reannounce(from)
      return -1
    }
    const slot = this.table.slot(id)
    if (slot < 0) { this.c.stats.ignored++; return -1 }
    if (from !== this.selfId) {
      const accuser = this.table.slot(from)
      if (accuser >= 0 && !isLive(this.table.code(accuser))) { this.c.stats.ignored++; return -1 }
      if (this.revived.size > 0 && this.recentlyRevived(from, now)) { this.c.stats.ignored++; return -1 }
    }
    const signed = this.table.info(slot).incarnation
    if (inc > signed) { this.c.stats.refused++; return -1 }
    if (inc < signed) return -1
    return slot
  }

  /** Merge an application broadcast; a new key or a higher version is delivered once. */
  applyUser (u: UserBroadcast, relay: boolean, from: MemberId | undefined, out: Output): boolean {
    const cur = this.user.get(u.key)
    if (cur !== undefined && u.version <= cur.version) return false
    if (cur === undefined && this.user.size >= MAX_USER_KEYS) { this.c.stats.refused++; return false }
    const value: UserBroadcast = { key: u.key, data: u.data, version: u.version }
    this.user.set(u.key, value)
    out.events.push(from === undefined ? { t: 'user', ...value } : { t: 'user', from, ...value })
    if (relay) this.enqueue(userKey(u.key), { t: 'user', ...value })
    return true
  }

  /** Apply a datagram's piggybacked broadcasts from member `from`. */
  applyGossip (gossip: Broadcast[], from: MemberId, now: number, out: Output): void {
    for (const b of gossip) {
      switch (b.t) {
        case 'alive': this.applyAlive(b.info, true, now, out); break
        case 'suspect': this.applySuspect(b.id, b.incarnation, b.from, now, out); break
        case 'dead': this.applyDead(b.id, b.incarnation, b.from, now, out); break
        case 'user': this.applyUser(b, true, from, out); break
      }
    }
  }

  /**
   * Merge a peer's push-pull state. What is news to us (a member we did not know, a newer
   * incarnation, a newer version of a user key) is re-disseminated, as memberlist does: when
   * many nodes join at once, most members learn a joiner from a push-pull (their own join, or
   * a settle exchange), so relays by gossip receivers alone die out before reaching the
   * members that joined before it (the test network: 32 simultaneous joiners took 18-20 s).
   * At most `pushPullRelayMax` member entries per merge are queued, so merging a whole view
   * (after a partition heals, or a node that was away) adds a bounded burst; the sender's own
   * info does not count against it. `joining`: this merge is our own join: the cluster's
   * state is not news to the cluster, so only the sender's info and user keys we already had
   * are relayed (a join would otherwise queue N broadcasts); otherwise a user key new to us is
   * news (a claim made on the other side of a partition that just healed must reach our whole
   * side, not wait for each one's push-pull).
   */
  merge (state: SyncState, joining: boolean, now: number, out: Output): void {
    this.c.stats.syncs++
    const from = state.from
    let budget = joining ? 0 : this.c.timing.pushPullRelayMax
    for (const m of state.members) {
      if (this.mergeMember(m, from, budget > 0, now, out)) budget--
    }
    for (const u of state.user) this.applyUser(u, !joining || this.user.has(u.key), from ?? undefined, out)
  }

  /** Merge one remote entry; true when it was news relayed under the merge's budget. */
  private mergeMember (m: SyncMember, from: MemberId | null, mayRelay: boolean, now: number, out: Output): boolean {
    const verdict = judgeSyncMember(m)
    if (verdict === 'refuse') { this.c.stats.refused++; return false }
    const id = m.info.id
    if (id === this.selfId) {
      this.applyAlive(m.info, false, now, out)
      if (m.status === 'failed' && m.incarnation <= this.self.incarnation && !this.self.left) { this.declaredDead = true; this.accused = true }
      if (verdict === 'suspect' && m.incarnation === this.self.incarnation) this.refute(m.incarnation, now, out, from ?? undefined)
      return false
    }
    const slot = this.table.slot(id)
    const known = slot >= 0
    if (!known && !worthAdding(m.status, m.info.left)) return false
    if (known && m.status === 'alive' && !m.info.left && this.heldClaim(this.table.code(slot)) &&
      m.info.incarnation === this.table.info(slot).incarnation && this.unaware.length < MAX_STALE_ACCUSERS) {
      // The peer holds alive what we hold failed at the same incarnation: our verdict may never
      // reach the member (after a heal the others ignore our claims for a while, and we no
      // longer probe or gossip to it), so it would never refute. The caller tells it directly.
      // The same for a suspicion (with the heal rules): ours made while we were cut off was
      // told to its subject once at the heal (`tellAccused`); when that datagram was lost,
      // nothing else told it until our next periodic push-pull (the simulator, 1,000 nodes:
      // 64 s, and the suspicion became a false death meanwhile). Our catch-up push-pull at the
      // heal and the settle rounds after it are the retries.
      this.unaware.push(id)
    }
    const own = id === from
    const news = this.applyAlive(m.info, own || mayRelay, now, out)
    // A remote verdict only confirms a suspicion we already hold. Against a member we hold
    // alive it is not evidence of anything we can check: after a partition heals, every
    // push-pull carries the other side's verdicts about all of our side, and taking them as
    // suspicions would have every member of both sides refute at once, the refutations
    // starve in the broadcast queues and the suspicion timeouts kill live members. The
    // member learns of the verdict itself (it is in the push-pull it makes, and a member we
    // hold failed that pings us gets a `dead` back) and refutes; a death that gossip missed
    // is found by our own probes.
    if (verdict === 'suspect' && from !== null && !own && known && this.table.code(slot) === Code.Suspect) {
      this.applySuspect(id, m.incarnation, from, now, out)
    }
    return news && !own && mayRelay
  }

  /** Whether a member in `code` is one we tell our claim when a push-pull peer holds it alive (see `mergeMember`). */
  private heldClaim (code: Code): boolean {
    return code === Code.Failed || (code === Code.Suspect && this.c.timing.gossipToDeadMs > 0)
  }

  /** Our whole state for push-pull. */
  localState (join: boolean): SyncState {
    const members: SyncMember[] = []
    const t = this.table
    for (let slot = 0; slot < t.capacity; slot++) {
      const code = t.code(slot)
      if (code === Code.Free) continue
      const info = t.info(slot)
      members.push({ info, status: statusName(code), incarnation: info.incarnation })
    }
    return { from: this.selfId, members, user: [...this.user.values()], join }
  }

  /** Read-only view of one slot. */
  view (slot: number): MemberView {
    const info = this.table.info(slot)
    return { id: info.id, name: info.name, status: statusName(this.table.code(slot)), incarnation: info.incarnation, info, lastChange: this.table.lastChange(slot) }
  }

  /** A member we held failed came back: quiet its claims for `revivedQuietMs` (bounded map). */
  private noteRevived (id: MemberId, now: number): void {
    const quiet = this.c.timing.revivedQuietMs
    if (quiet <= 0) return
    if (this.revived.size >= MAX_REVIVED) this.pruneRevived(now)
    if (this.revived.size >= MAX_REVIVED) return
    this.revived.delete(id)
    this.revived.set(id, now)
  }

  /** Whether `id` came back from failed within `revivedQuietMs` (forgets it once it did not). */
  private recentlyRevived (id: MemberId, now: number): boolean {
    const at = this.revived.get(id)
    if (at === undefined) return false
    if (now - at < this.c.timing.revivedQuietMs) return true
    this.revived.delete(id)
    return false
  }

  /** Drop revived entries older than `revivedQuietMs` (insertion order is time order). */
  pruneRevived (now: number): void {
    for (const [id, at] of this.revived) {
      if (now - at < this.c.timing.revivedQuietMs) break
      this.revived.delete(id)
    }
  }

  /** How many members became failed after `since` (revived ones included: an upper bound). */
  failedSince (since: number): number {
    while (this.failedHead < this.failedAt.length && (this.failedAt[this.failedHead] as number) <= since) this.failedHead++
    if (this.failedHead > 1024 && this.failedHead * 2 > this.failedAt.length) {
      this.failedAt.splice(0, this.failedHead)
      this.failedHead = 0
    }
    return this.failedAt.length - this.failedHead
  }

  /** Forget failed and left members older than `reapAfterMs`. */
  reap (now: number): void {
    this.pruneRevived(now)
    const t = this.table
    for (let slot = 0; slot < t.capacity; slot++) {
      const code = t.code(slot)
      if ((code !== Code.Failed && code !== Code.Left) || slot === this.selfSlot) continue
      if (now - t.lastChange(slot) <= this.c.timing.reapAfterMs) continue
      this.queue.drop(memberKey(t.info(slot).id))
      t.remove(slot)
    }
  }

  /** Queue a broadcast for piggybacking. */
  enqueue (key: string, b: Broadcast, urgent = false): void {
    this.queue.push(key, b, broadcastSize(b), urgent)
    this.c.stats.broadcastsQueued++
  }
}

/** Whether two infos say the same (our own echoed back vs a forged or stale variant). */
function sameInfo (a: AliveInfo, b: AliveInfo): boolean {
  if (a === b) return true
  if (a.left !== b.left || a.eligible !== b.eligible || a.name !== b.name || a.addr.host !== b.addr.host || a.addr.port !== b.addr.port) return false
  if (a.record.byteLength !== b.record.byteLength || aliveInfoSize(a) !== aliveInfoSize(b)) return false
  for (let i = 0; i < a.record.byteLength; i++) if (a.record[i] !== b.record[i]) return false
  return true
}
