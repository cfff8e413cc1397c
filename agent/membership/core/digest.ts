/**
 * Digest push-pull (anti-entropy in three frames, `/clusterd/sync/3.0.0`): the initiator sends
 * a digest of its state (per member id, incarnation, status; per user key its version: ~58
 * bytes a member instead of a ~300-700-byte signed record), the responder answers with the
 * full entries the initiator lacks or holds older plus the ids and keys it wants back, and the
 * initiator sends those. Both sides then merge full entries with the same code as a full-state
 * push-pull (MemberState.merge, judgeSyncMember, worthAdding), so every security and heal rule
 * keeps holding; the digest only decides which entries travel.
 *
 * Which entries travel: an entry goes to the side that does not know the member (when it is
 * worth adding: alive or suspect), or that holds an older incarnation; at the same incarnation
 * only when the merge would act on it: a suspect/failed verdict to a side holding the member
 * suspect (a Lifeguard confirmation), an alive entry to a side holding it failed, or suspect
 * with the heal rules (it tells the member its claim may not have reached it), and any
 * suspect/failed verdict to the member it is about (it refutes). In a converged cluster
 * nothing but the digest travels.
 *
 * Pure functions over SyncStates: the core calls them with its `localState`.
 */

import { worthAdding } from './push-pull.js'
import type { DigestReply, MemberId, MemberStatus, SyncDigest, SyncMember, SyncState, UserBroadcast } from './types.js'

/** The digest of a push-pull state (what the first frame carries). */
export function digestOf (state: SyncState): SyncDigest {
  return {
    from: state.from ?? '',
    members: state.members.map(m => ({ id: m.info.id, incarnation: m.incarnation, status: m.status })),
    user: state.user.map(u => ({ key: u.key, version: u.version })),
    join: state.join
  }
}

/**
 * Whether an entry at the SAME incarnation changes anything for a holder (the rules of
 * MemberState.mergeMember): `subject` = the holder is the member itself; `tellSuspects` = the
 * holder tells a member it holds suspect, not only failed, that its claim may not have
 * reached it (the heal rules, `gossipToDeadMs` > 0).
 */
export function sameIncarnationMatters (incoming: MemberStatus, holder: MemberStatus, subject: boolean, tellSuspects = false): boolean {
  const verdict = incoming === 'suspect' || incoming === 'failed'
  if (subject) return verdict
  if (verdict) return holder === 'suspect'
  return incoming === 'alive' && (holder === 'failed' || (tellSuspects && holder === 'suspect'))
}

/**
 * The responder's answer to a digest: entries of `local` (its own state) the initiator lacks,
 * holds older or would act on, and what it wants of the initiator's (same rules, the other way;
 * `tellSuspects`: see sameIncarnationMatters).
 */
export function answerDigest (local: SyncState, digest: SyncDigest, tellSuspects = false): DigestReply {
  const self = local.from
  const theirs = new Map<MemberId, { incarnation: number, status: MemberStatus }>()
  for (const d of digest.members) theirs.set(d.id, d)
  const mine = new Map<MemberId, SyncMember>()
  for (const m of local.members) mine.set(m.info.id, m)

  const members: SyncMember[] = []
  for (const m of local.members) {
    const d = theirs.get(m.info.id)
    if (d === undefined) {
      if (worthAdding(m.status, m.info.left)) members.push(m)
    } else if (m.incarnation > d.incarnation || (m.incarnation === d.incarnation && sameIncarnationMatters(m.status, d.status, m.info.id === digest.from, tellSuspects))) {
      members.push(m)
    }
  }
  const wantMembers: MemberId[] = []
  const wanted = new Set<MemberId>()
  for (const d of digest.members) {
    if (wanted.has(d.id)) continue
    const m = mine.get(d.id)
    const want = m === undefined
      ? worthAdding(d.status, d.status === 'left')
      : d.incarnation > m.incarnation || (d.incarnation === m.incarnation && sameIncarnationMatters(d.status, m.status, d.id === self, tellSuspects))
    if (want) { wanted.add(d.id); wantMembers.push(d.id) }
  }

  const theirUser = new Map<string, number>()
  for (const u of digest.user) theirUser.set(u.key, Math.max(u.version, theirUser.get(u.key) ?? 0))
  const user: UserBroadcast[] = local.user.filter(u => { const v = theirUser.get(u.key); return v === undefined || v < u.version })
  const myUser = new Map<string, number>()
  for (const u of local.user) myUser.set(u.key, u.version)
  const wantUser: string[] = []
  for (const [key, version] of theirUser) {
    const v = myUser.get(key)
    if (v === undefined || v < version) wantUser.push(key)
  }
  return { state: { from: self, members, user, join: false }, wantMembers, wantUser }
}

/** The initiator's last frame: the entries of `local` named in the reply's wants (each once). */
export function pickWanted (local: SyncState, wantMembers: readonly MemberId[], wantUser: readonly string[]): SyncState {
  const ids = new Set(wantMembers)
  const keys = new Set(wantUser)
  return {
    from: local.from,
    members: ids.size === 0 ? [] : local.members.filter(m => ids.has(m.info.id)),
    user: keys.size === 0 ? [] : local.user.filter(u => keys.has(u.key)),
    join: false
  }
}
