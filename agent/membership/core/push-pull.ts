/**
 * Push-pull (anti-entropy) helpers: how often a node exchanges its whole state, scaled with
 * the cluster size so the push-pull traffic stays flat per node (above 32 members the
 * interval grows with N, at least as memberlist's log2 N pushPullScale), and how one remote
 * member entry is judged before it is merged.
 */

import type { MemberStatus, SyncMember } from './types.js'

/** Members up to which a full-state push-pull interval is not scaled (sync 2.0.0's rule). */
export const PUSH_PULL_SCALE_THRESHOLD = 32

/**
 * Members up to which the interval is not scaled when exchanges are digests (sync 3.0.0): a
 * converged exchange moves ~58 bytes a member one way instead of ~2 x 300-700, so the same
 * per-node bytes allow a ~16x shorter interval (see docs/architecture.md, "Digest push-pull").
 */
export const DIGEST_PUSH_PULL_SCALE = 512

/**
 * Push-pull interval for `n` live members: memberlist's log2 scale, but at least linear in
 * `n` above `scaleAbove` members. An exchange grows with N (a digest too: ~58 bytes a member),
 * so only an interval growing with N keeps each node's push-pull bytes flat. With full states
 * and `scaleAbove` 32 that is ~2 x 32 members' state per base interval: about 3 KB/s with
 * 600-byte records at any N, instead of 91 KB/s at 10,000 with log2 scaling; with digests
 * and 512, at most ~2 KB/s (2 x 512 digest entries per base interval). The cluster as a whole
 * still runs N / interval exchanges a second, so anti-entropy (a user key new to a node is
 * re-disseminated), the reconnect to failed members and the catch-up of a node that was held
 * failed keep working.
 */
export function pushPullInterval (baseMs: number, n: number, scaleAbove = PUSH_PULL_SCALE_THRESHOLD): number {
  if (n <= scaleAbove) return baseMs
  return Math.round(Math.max(reconnectInterval(baseMs, n), baseMs * n / scaleAbove))
}

/**
 * How often a node considers a push-pull with one member it holds failed (Serf's reconnect;
 * taken with probability failed/live, so a crash costs little): memberlist's log2 scale, on
 * its own timer, so that a healed partition is found within about a base interval.
 */
export function reconnectInterval (baseMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return baseMs
  return baseMs * (Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1)
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
