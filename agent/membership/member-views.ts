/**
 * The core's member views in API form, and member changes told to listeners (membership.ts
 * owns the core; this turns what it says into `Member`s). A member is shown only once its
 * signed record was verified (verified-records.ts); its facts come from its own record (self)
 * or the facts cache (member-facts.ts), its eligibility from the attestation gate, and its
 * `lastSeen` from when a datagram last came from it.
 */

import type { Member } from '../../protocol/members.js'
import type { CoreEvent, Endpoint, MemberView } from './core/types.js'
import type { EligibilityGate } from './eligibility-gate.js'
import type { MemberFacts } from './member-facts.js'
import type { MemberChangeListener, MembershipComponents, StatusChange } from './membership-contract.js'
import type { SelfRecord } from './self-record.js'
import { endpointMultiaddr, type VerifiedRecords } from './verified-records.js'

/** What the member views read (the parts of membership.ts's collaborators they use). */
export interface MemberViewsComponents {
  selfId: string
  logger: MembershipComponents['logger']
  now: () => number
  records: Pick<VerifiedRecords, 'get'>
  self: Pick<SelfRecord, 'facts'>
  memberFacts: Pick<MemberFacts, 'get' | 'noticed'>
  eligibility: Pick<EligibilityGate, 'eligible'>
  /** The core's view of one member (undefined when unknown or not running). */
  view: (id: string) => MemberView | undefined
}

/** Members in API form, and their change listeners. */
export class MemberViews {
  private readonly c: MemberViewsComponents
  /** When a datagram last came from each member (its own clock). */
  private readonly lastHeard = new Map<string, number>()
  private readonly listeners = new Set<MemberChangeListener>()

  constructor (components: MemberViewsComponents) {
    this.c = components
  }

  /** Be told about every member change (alive, suspect, failed, left, or a new record). */
  onChange (listener: MemberChangeListener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** A datagram came from `id` just now. */
  heard (id: string): void { this.lastHeard.set(id, this.c.now()) }

  /** The core reported a member change: fetch its facts, tell listeners (libp2p learns addresses at dial time: agent/libp2p/member-dialer.ts). */
  onMemberEvent (e: Extract<CoreEvent, { t: 'member' }>): void {
    const selfId = this.c.selfId
    if (e.id !== selfId && e.status === 'alive') this.lastHeard.set(e.id, this.c.now())
    if (e.id !== selfId && e.status === 'alive') this.noticeFacts(e.id, e.info.addr)
    const view = this.c.view(e.id)
    const member = view === undefined ? null : this.toMember(view)
    if (member === null) return
    const change: StatusChange = { peerId: e.id, name: e.info.name, from: e.previous, to: e.status, inc: e.info.incarnation }
    if (e.previous !== e.status) {
      this.c.logger.info({ member: change.name, peer: change.peerId, from: change.from, to: change.to, incarnation: change.inc }, 'member status changed')
    }
    this.tell(change, member)
  }

  /** Tell listeners about `id` again (its facts arrived), its status unchanged. */
  emitChange (id: string): void {
    const view = this.c.view(id)
    const member = view === undefined ? null : this.toMember(view)
    if (view === undefined || member === null) return
    this.tell({ peerId: id, name: view.name, from: view.status, to: view.status, inc: view.incarnation }, member)
  }

  /** The member's record names facts we may not hold: fetch them if someone watches. */
  noticeFacts (id: string, addr: Endpoint): void {
    const digest = this.c.records.get(id)?.facts ?? null
    if (digest !== null) this.c.memberFacts.noticed({ id, addr: endpointMultiaddr(addr), digest })
  }

  /** A core view in API form; null until the member's record was verified. */
  toMember (v: MemberView): Member | null {
    const record = this.c.records.get(v.id)
    if (record === undefined) return null
    const self = v.id === this.c.selfId
    const heard = this.lastHeard.get(v.id) ?? 0
    const lastSeen = self ? this.c.now() : v.status === 'alive' ? Math.max(heard, v.lastChange) : heard > 0 ? heard : v.lastChange
    return {
      name: v.name,
      peerId: v.id,
      addresses: record.addrs,
      status: v.status,
      incarnation: v.incarnation,
      labels: record.labels,
      facts: self ? this.c.self.facts : this.c.memberFacts.get(v.id, record.facts),
      boot: record.boot,
      managerEligible: this.c.eligibility.eligible(record),
      lastSeen: new Date(lastSeen).toISOString()
    }
  }

  private tell (change: StatusChange, member: Member): void {
    for (const l of this.listeners) {
      try { l(change, member) } catch (err) { this.c.logger.error({ err }, 'member listener failed') }
    }
  }
}
