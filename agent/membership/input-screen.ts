/**
 * What membership checks before its core sees anything from the network: every `alive` record
 * must verify and agree with the fields the core trusts (verified-records.ts), every application
 * broadcast must pass its consumer's validator and be newer than what is held. Refusals are
 * counted, and logged at most once per source and kind per 10 s, so a hostile peer cannot flood
 * the log. A broadcast refused only because the member it names came in the same message is
 * kept aside for a second look (`recheck`) after the core took the rest.
 */

import type { Logger } from 'pino'
import type { AliveInfo, Broadcast, SyncState, UserBroadcast } from './core/types.js'
import type { BroadcastRouter } from './user-broadcasts.js'
import type { VerifiedRecords } from './verified-records.js'

/** A broadcast no newer than one already held (dropped quietly: the core would ignore it). */
export const STALE = 'stale'

/** What the screen reads and counts into. */
export interface InputScreenComponents {
  selfId: string
  records: VerifiedRecords
  router: BroadcastRouter
  /** Highest version seen per user key (the membership wrapper keeps it up to date). */
  userVersions: ReadonlyMap<string, number>
  logger: Logger
  now: () => number
  /** Counters shared with the wrapper's stats. */
  counters: { refusedRecords: number, refusedBroadcasts: number }
}

/** The membership wrapper's input checks. */
export class InputScreen {
  private readonly c: InputScreenComponents
  private readonly badInputLogAt = new Map<string, number>()

  constructor (components: InputScreenComponents) {
    this.c = components
  }

  /** The broadcasts worth handing to the core now; the same array when all are. */
  screenGossip (from: string, gossip: Broadcast[], deferred: UserBroadcast[]): Broadcast[] {
    let kept: Broadcast[] | null = null
    for (let i = 0; i < gossip.length; i++) {
      const b = gossip[i] as Broadcast
      const ok = b.t === 'alive' ? this.acceptInfo(from, b.info) : b.t === 'user' ? this.acceptUser(b, deferred) : true
      if (!ok && kept === null) kept = gossip.slice(0, i)
      else if (ok && kept !== null) kept.push(b)
    }
    return kept ?? gossip
  }

  /** A push-pull state with what fails the checks taken out. */
  screenSync (from: string, state: SyncState, deferred: UserBroadcast[]): SyncState {
    return {
      from: state.from,
      join: state.join,
      members: state.members.filter(m => this.acceptInfo(from, m.info)),
      user: state.user.filter(u => this.acceptUser(u, deferred))
    }
  }

  /** Of the broadcasts set aside, the ones valid now (as gossip); the rest are dropped and logged. */
  recheck (from: string, deferred: UserBroadcast[]): Broadcast[] {
    const ok: Broadcast[] = []
    for (const u of deferred) {
      const reason = this.checkUser(u)
      if (reason === null) ok.push({ t: 'user', ...u })
      else if (reason !== STALE) this.refuseUser(from, reason)
    }
    return ok
  }

  /** Log bad input at most once per source and kind per 10 s: hostile peers must not flood the log. */
  badInput (from: string, kind: string, reason: string): void {
    const key = `${from}|${kind}`
    const now = this.c.now()
    if ((this.badInputLogAt.get(key) ?? 0) > now - 10_000) return
    if (this.badInputLogAt.size > 1024) this.badInputLogAt.clear()
    this.badInputLogAt.set(key, now)
    this.c.logger.warn({ peer: from, kind, reason }, 'dropped a malformed or unverifiable membership message')
  }

  private acceptInfo (from: string, info: AliveInfo): boolean {
    if (info.id === this.c.selfId) return true // the core refutes what others say about us
    const r = this.c.records.check(info)
    if (r.ok) return true
    this.c.counters.refusedRecords++
    this.badInput(from, 'record', r.reason)
    return false
  }

  /** True when the core may take `u` now; a refused one goes to `deferred` for a second look. */
  private acceptUser (u: UserBroadcast, deferred: UserBroadcast[]): boolean {
    const reason = this.checkUser(u)
    if (reason === null) return true
    if (reason !== STALE) deferred.push(u)
    return false
  }

  /** Null when valid and newer than what we hold; STALE when not newer; else why it is invalid. */
  private checkUser (u: UserBroadcast): string | null {
    const known = this.c.userVersions.get(u.key)
    if (known !== undefined && u.version <= known) return STALE // the core would ignore it anyway
    return this.c.router.validate(u.key, u.data, u.version)
  }

  private refuseUser (from: string, reason: string): void {
    this.c.counters.refusedBroadcasts++
    // A broadcast about a member we have not heard of yet is an ordering race (its record comes
    // in another datagram, and the broadcast is retransmitted), not hostile input: no warning.
    if (reason.includes('not a known member')) this.c.logger.debug({ peer: from, reason }, 'broadcast about an unknown member dropped for now')
    else this.badInput(from, 'broadcast', reason)
  }
}
