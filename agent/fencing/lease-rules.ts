/**
 * The lease rules of a node, pure: given what the node holds and a verified claim, what it
 * answers and what it holds next. No I/O and no clock of its own (`now` comes in), so every
 * rule is a unit test.
 *
 * - A claim from an epoch below the highest the node has seen is refused (stale manager).
 * - An acquire from a higher epoch raises the highest-seen epoch at once (the caller persists
 *   it before answering), so the older manager's next renewal is refused; the newer manager
 *   is granted the lease only once the older lease has expired (or been released). The node
 *   never takes back a lease before its expiry: the holder may still be working, and its
 *   self-fence deadline is what the expiry protects.
 * - While a lease is live only its holder in the same epoch may acquire (idempotent: same id
 *   extends it; a new id replaces it, since one manager runs one job per node at a time) or
 *   renew (same id).
 * - Release by the holder (same id) clears the lease whatever the epoch: giving up rights
 *   needs no rights.
 * - A claim of an epoch the node's election gives to another manager is refused, naming that
 *   manager: two agents claimed one epoch and the requester has not heard the other's claim
 *   (the keeper attaches the named manager's signed claim for it to verify).
 */

import type { Lease, LeaseClaim, LeaseRefusalCode } from '../../protocol/fencing-wire.js'
import { LEASE_TTL_MS, MAX_CLAIM_SKEW_MS } from '../../protocol/fencing-wire.js'

/** What a node holds. */
export interface LeaseState {
  /** Highest manager epoch the node has seen. */
  highestEpoch: number
  /** The lease on record (possibly expired), or null. */
  lease: Lease | null
  /**
   * No grant to anyone before this time (ms): set when a lease file could not be read at start,
   * so an unreadable file never lets a second manager in while the first may hold a lease.
   */
  quarantineUntil?: number
}

/** Facts the rules need besides the claim. */
export interface LeaseContext {
  now: number
  /** This node's name; a claim for another node is refused. */
  nodeName: string
  ttlMs?: number
  /** The peer this node's election names as manager for `epoch`, if it knows that epoch. */
  managerOf?: (epoch: number) => string | undefined
}

/** What the node answers (the keeper adds the lease file path to a grant). */
export type LeaseDecision =
  | { t: 'granted', lease: Lease }
  | { t: 'released' }
  /** `manager`: the peer this node's election names for the claim's epoch, when that refused it. */
  | { t: 'refused', code: LeaseRefusalCode, reason: string, retryAfterMs?: number, manager?: string }

/** The outcome of one claim. */
export interface LeaseStep {
  decision: LeaseDecision
  next: LeaseState
  /** The lease on record changed: write the lease file before answering. */
  leaseChanged: boolean
  /** The highest-seen epoch rose to this: persist it before answering. */
  raisedEpoch: number | null
}

/** True when `lease` is held at `now`. */
export function isLive (lease: Lease | null, now: number): lease is Lease {
  return lease !== null && lease.expiresAt > now
}

/** Apply one verified claim to the node's state. */
export function applyClaim (state: LeaseState, claim: LeaseClaim, ctx: LeaseContext): LeaseStep {
  const ttl = ctx.ttlMs ?? LEASE_TTL_MS
  const now = ctx.now
  const same = (next: LeaseState, decision: LeaseDecision, leaseChanged = false, raisedEpoch: number | null = null): LeaseStep =>
    ({ decision, next, leaseChanged, raisedEpoch })
  const refuse = (code: LeaseRefusalCode, reason: string, retryAfterMs?: number, next: LeaseState = state, raised: number | null = null): LeaseStep =>
    same(next, { t: 'refused', code, reason, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }, false, raised)

  if (claim.node !== ctx.nodeName) return refuse('CLUSTERD_ERR_LEASE_REFUSED', `the claim is for node ${claim.node}, this is ${ctx.nodeName}`)
  if (Math.abs(now - claim.at) > MAX_CLAIM_SKEW_MS) {
    return refuse('CLUSTERD_ERR_LEASE_REFUSED', `the claim's time is ${Math.round((claim.at - now) / 1000)} s off this node's clock (more than ${MAX_CLAIM_SKEW_MS / 1000} s)`)
  }
  const lease = state.lease
  const own = lease !== null && lease.holder === claim.holder && lease.leaseId === claim.leaseId

  if (claim.op === 'release') {
    if (!own) return same(state, { t: 'released' })
    return same({ ...state, lease: null }, { t: 'released' }, true)
  }

  const known = ctx.managerOf?.(claim.epoch)
  if (known !== undefined && known !== claim.holder) {
    return same(state, { t: 'refused', code: 'CLUSTERD_ERR_LEASE_REFUSED', reason: `epoch ${claim.epoch} belongs to manager ${known}, not ${claim.holder}`, manager: known })
  }
  if (claim.epoch < state.highestEpoch) {
    return refuse('CLUSTERD_ERR_STALE_EPOCH', `epoch ${claim.epoch} is stale: this node has seen epoch ${state.highestEpoch}`)
  }
  const raised = claim.epoch > state.highestEpoch ? claim.epoch : null
  const raisedState: LeaseState = raised === null ? state : { ...state, highestEpoch: raised }
  const live = isLive(lease, now)

  if (claim.op === 'renew') {
    if (!live || !own || lease.epoch !== claim.epoch) {
      const why = !own
        ? lease === null ? 'no lease is held' : `the lease is held by ${lease.holder} (epoch ${lease.epoch}, id ${lease.leaseId})`
        : lease.epoch !== claim.epoch ? `the lease was granted for epoch ${lease.epoch}` : `the lease expired ${now - lease.expiresAt} ms ago`
      return refuse('CLUSTERD_ERR_LEASE_LOST', `cannot renew: ${why}`, undefined, raisedState, raised)
    }
    const renewed: Lease = { ...lease, expiresAt: now + ttl }
    return same({ ...raisedState, lease: renewed }, { t: 'granted', lease: renewed }, true, raised)
  }

  // acquire
  if (state.quarantineUntil !== undefined && now < state.quarantineUntil) {
    return refuse('CLUSTERD_ERR_LEASE_BUSY', 'the lease file could not be read at agent start; no lease is granted until a lease it may have held has expired',
      state.quarantineUntil - now, raisedState, raised)
  }
  if (live && !(lease.holder === claim.holder && lease.epoch === claim.epoch)) {
    return refuse('CLUSTERD_ERR_LEASE_BUSY', `the node is leased to ${lease.holder} (epoch ${lease.epoch}) for ${lease.expiresAt - now} ms more`,
      lease.expiresAt - now, raisedState, raised)
  }
  const granted: Lease = {
    epoch: claim.epoch,
    holder: claim.holder,
    leaseId: claim.leaseId,
    grantedAt: live && own ? lease.grantedAt : now,
    expiresAt: now + ttl
  }
  return same({ ...raisedState, lease: granted }, { t: 'granted', lease: granted }, true, raised)
}
