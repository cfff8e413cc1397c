/**
 * The membership view: one entry per member with its signed record, status and incarnation,
 * and the SWIM merge rules (as HashiCorp memberlist applies them) for records, suspicion and
 * death claims. Pure state: time comes in as arguments, effects go out as return values, so
 * the rules are unit-tested without a network or a clock.
 */

import type { NodeRecord, SignedRecord, SyncEntry } from '../../protocol/membership-wire.js'
import { suspicionBounds, suspicionTimeout, type SuspicionParams } from './suspicion.js'

/** Internal status; `dead` is shown as `failed` on the API. */
export type EntryStatus = 'alive' | 'suspect' | 'dead' | 'left'

/** Suspicion bookkeeping of one suspect member. */
interface Suspicion {
  startedAt: number
  /** The first accuser; its claim does not count as a confirmation. */
  accuser: string
  confirmations: Set<string>
  deadline: number
}

/** One member as this agent sees it. */
export interface MemberEntry {
  record: NodeRecord
  signed: SignedRecord
  status: EntryStatus
  /** Incarnation of the current status claim (>= record.incarnation). */
  inc: number
  /** Last time this agent had direct or signed evidence the member was alive. */
  lastSeen: number
  statusSince: number
  suspicion: Suspicion | null
}

/** A change in a member's status, for logs and listeners. */
export interface StatusChange { peerId: string, name: string, from: EntryStatus | null, to: EntryStatus, inc: number }

/** What applying a message asks the caller to do. */
export interface ApplyResult {
  /** The view changed (a new member, a new record, a new status). */
  changed: boolean
  /** For listeners: a new member, a new status, or a newer record of a member (`from === to`). */
  change?: StatusChange
  /** Our own incarnation must be raised to at least this and re-announced (refutation). */
  refute?: number
  /** The claim was a new, independent confirmation of an existing suspicion (Lifeguard). */
  confirmed?: boolean
}

const NOTHING: ApplyResult = { changed: false }

/** Timing the table needs for suspicion deadlines. */
export type TableTiming = Omit<SuspicionParams, 'members'> & { reapAfterMs: number }

/** The member view with SWIM merge rules. */
export class MemberTable {
  private readonly entries = new Map<string, MemberEntry>()
  private readonly selfId: string
  private readonly timing: TableTiming

  constructor (init: { selfPeerId: string, timing: TableTiming }) {
    this.selfId = init.selfPeerId
    this.timing = init.timing
  }

  /** Our own peer id. */
  get self (): string { return this.selfId }

  /** Our own entry, once setSelf has been called. */
  get selfEntry (): MemberEntry | undefined { return this.entries.get(this.selfId) }

  /** Replace our own record (start-up, refutation, leave, changed facts). */
  setSelf (record: NodeRecord, signed: SignedRecord, now: number): void {
    const status: EntryStatus = record.state === 'left' ? 'left' : 'alive'
    const prev = this.entries.get(this.selfId)
    this.entries.set(this.selfId, {
      record, signed, status, inc: record.incarnation, lastSeen: now,
      statusSince: prev?.status === status ? prev.statusSince : now, suspicion: null
    })
  }

  /** Every entry, self included. */
  all (): MemberEntry[] { return [...this.entries.values()] }

  /** One entry by peer id. */
  get (peerId: string): MemberEntry | undefined { return this.entries.get(peerId) }

  /** Members other than self whose status is alive or suspect: the ones worth probing. */
  probeable (): MemberEntry[] {
    return this.all().filter(e => e.record.peerId !== this.selfId && (e.status === 'alive' || e.status === 'suspect'))
  }

  /** Number of members that have not left or failed, self included (the "n" of SWIM). */
  liveCount (): number {
    let n = 0
    for (const e of this.entries.values()) if (e.status === 'alive' || e.status === 'suspect') n++
    return n
  }

  /** Record evidence that a member is alive now (an ack, a message from it). */
  touch (peerId: string, now: number): void {
    const e = this.entries.get(peerId)
    if (e !== undefined && e.status !== 'dead' && e.status !== 'left') e.lastSeen = now
  }

  /**
   * Merge a verified signed record. Only the member itself can sign one, so a higher
   * incarnation in it is an authentic refutation of any suspicion or death claim.
   */
  applyRecord (record: NodeRecord, signed: SignedRecord, now: number): ApplyResult {
    const id = record.peerId
    if (id === this.selfId) return this.claimAboutSelf(record.incarnation, record.state === 'left' || this.differsFromSelf(record))
    const cur = this.entries.get(id)
    const status: EntryStatus = record.state === 'left' ? 'left' : 'alive'
    if (cur === undefined) {
      this.entries.set(id, { record, signed, status, inc: record.incarnation, lastSeen: now, statusSince: now, suspicion: null })
      return { changed: true, change: { peerId: id, name: record.name, from: null, to: status, inc: record.incarnation } }
    }
    if (record.incarnation <= cur.inc) {
      // Same or older news. A repeat of the current alive record is still a sign of life.
      if (record.incarnation === cur.inc && cur.status === 'alive') cur.lastSeen = now
      return NOTHING
    }
    const from = cur.status
    cur.record = record
    cur.signed = signed
    cur.inc = record.incarnation
    cur.suspicion = null
    if (status === 'alive') cur.lastSeen = now
    if (from !== status) cur.statusSince = now
    cur.status = status
    // A newer record is news for listeners even when the status stays (from === to): an agent
    // restarted faster than the failure detector, or refreshed facts. The manager reads the
    // node's boot (which run of its agent) from the record; reporting status changes only left
    // a quick restart unnoticed (the on-return CI failure, issue 11 item 7).
    return { changed: true, change: { peerId: id, name: record.name, from, to: status, inc: cur.inc } }
  }

  /** Merge a suspicion claim by `accuser` about `peerId` at incarnation `inc`. */
  applySuspect (peerId: string, inc: number, accuser: string, now: number): ApplyResult {
    if (peerId === this.selfId) return this.claimAboutSelf(inc, true)
    const cur = this.entries.get(peerId)
    if (cur === undefined || inc < cur.inc || cur.status === 'dead' || cur.status === 'left') return NOTHING
    if (cur.status === 'suspect') {
      const s = cur.suspicion
      if (s === null || accuser === s.accuser || s.confirmations.has(accuser)) return NOTHING
      s.confirmations.add(accuser)
      s.deadline = s.startedAt + suspicionTimeout(this.bounds(), s.confirmations.size)
      return { changed: false, confirmed: true }
    }
    cur.status = 'suspect'
    cur.inc = inc
    cur.statusSince = now
    cur.suspicion = { startedAt: now, accuser, confirmations: new Set(), deadline: now + suspicionTimeout(this.bounds(), 0) }
    return { changed: true, change: { peerId, name: cur.record.name, from: 'alive', to: 'suspect', inc } }
  }

  /** Merge a death claim about `peerId` at incarnation `inc`. */
  applyDead (peerId: string, inc: number, now: number): ApplyResult {
    if (peerId === this.selfId) return this.claimAboutSelf(inc, true)
    const cur = this.entries.get(peerId)
    if (cur === undefined || inc < cur.inc || cur.status === 'dead' || cur.status === 'left') return NOTHING
    const from = cur.status
    cur.status = 'dead'
    cur.inc = inc
    cur.statusSince = now
    cur.suspicion = null
    return { changed: true, change: { peerId, name: cur.record.name, from, to: 'dead', inc } }
  }

  /**
   * Merge one entry of a peer's push-pull state. As memberlist does, a remote "dead" is only
   * taken as a suspicion: the accused gets its chance to refute before we declare it.
   */
  applySyncEntry (record: NodeRecord, entry: SyncEntry, from: string, now: number): ApplyResult[] {
    const out = [this.applyRecord(record, entry.rec, now)]
    if (entry.status === 'suspect' || entry.status === 'dead') out.push(this.applySuspect(record.peerId, entry.inc, from, now))
    return out
  }

  /**
   * Advance time: suspicions past their deadline become deaths (returned so the caller can
   * announce them), and long-dead or left members are forgotten.
   */
  tick (now: number): StatusChange[] {
    const expired: StatusChange[] = []
    for (const [id, e] of this.entries) {
      if (e.status === 'suspect' && e.suspicion !== null && e.suspicion.deadline <= now) {
        e.status = 'dead'
        e.statusSince = now
        e.suspicion = null
        expired.push({ peerId: id, name: e.record.name, from: 'suspect', to: 'dead', inc: e.inc })
      } else if ((e.status === 'dead' || e.status === 'left') && id !== this.selfId && now - e.statusSince > this.timing.reapAfterMs) {
        this.entries.delete(id)
      }
    }
    return expired
  }

  /**
   * Move every running suspicion's deadline `ms` later: this agent was stalled that long and
   * could not have heard a refutation.
   */
  postponeSuspicions (ms: number): void {
    for (const e of this.entries.values()) if (e.suspicion !== null) e.suspicion.deadline += ms
  }

  /** Our whole view for a push-pull exchange. */
  syncEntries (): SyncEntry[] {
    return this.all().map(e => ({ rec: e.signed, status: e.status, inc: e.inc }))
  }

  private bounds (): ReturnType<typeof suspicionBounds> {
    return suspicionBounds({ ...this.timing, members: this.liveCount() })
  }

  /** A claim or record about us: refute it when it could make others think us gone or older. */
  private claimAboutSelf (inc: number, hostile: boolean): ApplyResult {
    const self = this.entries.get(this.selfId)
    if (self === undefined || self.status === 'left') return NOTHING
    if (inc > self.inc || (hostile && inc === self.inc)) return { changed: false, refute: inc + 1 }
    return NOTHING
  }

  /** True when a record claiming to be ours at our incarnation is not the one we signed. */
  private differsFromSelf (record: NodeRecord): boolean {
    const self = this.entries.get(this.selfId)
    return self !== undefined && record.incarnation === self.inc && self.signed.payload !== JSON.stringify(record)
  }
}
