/**
 * Push-pull (anti-entropy) helpers: how often a node exchanges its whole state, scaled with
 * the cluster size so the total push-pull traffic stays flat per node (memberlist's
 * pushPullScale: above 32 members the interval grows with log2 N), and how one remote
 * member entry is judged before it is merged.
 */

import type { MemberStatus, SyncMember } from './types.js'

/** Members up to which the push-pull interval is not scaled. */
export const PUSH_PULL_SCALE_THRESHOLD = 32

/** Push-pull interval for `n` live members. */
export function pushPullInterval (baseMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return baseMs
  const mult = Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1
  return baseMs * mult
}

/** What to do with one remote entry of a push-pull state. */
export type SyncVerdict =
  /** Its status incarnation is above the signed one: a hostile or broken peer; refuse. */
  | 'refuse'
  /** Merge the info; the remote's status adds nothing (alive, or left by signed info). */
  | 'info'
  /** Merge the info, then take the remote's suspect/failed as a suspicion by the sender. */
  | 'suspect'

/**
 * Judge one remote entry. A remote `failed` is only ever taken as a suspicion (the accused
 * gets its chance to refute before we declare it), and a `left` status counts only when the
 * member's own signed info says so.
 */
export function judgeSyncMember (m: SyncMember): SyncVerdict {
  if (m.incarnation > m.info.incarnation) return 'refuse'
  if ((m.status === 'suspect' || m.status === 'failed') && m.incarnation === m.info.incarnation && !m.info.left) return 'suspect'
  return 'info'
}

/**
 * Whether an entry about a member this node does not know is worth adding. As memberlist
 * does, only live members are: adding remote history (failed, left) would have nodes teach
 * each other reaped members forever, each with a fresh reap timer.
 */
export function worthAdding (status: MemberStatus, left: boolean): boolean {
  return !left && (status === 'alive' || status === 'suspect')
}
