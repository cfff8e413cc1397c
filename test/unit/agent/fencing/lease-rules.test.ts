import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { applyClaim, isLive, type LeaseState } from '../../../../agent/fencing/lease-rules.js'
import type { LeaseClaim, LeaseOp } from '../../../../protocol/fencing-wire.js'

// Pure rules: a fixed clock, claims built by hand (signatures are the keeper's business).
const A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const B = '12D3KooWBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
const ID1 = 'a'.repeat(32)
const ID2 = 'b'.repeat(32)
const T0 = 1_800_000_000_000
const TTL = 15_000
const ctx = (now: number, managerOf?: (e: number) => string | undefined): Parameters<typeof applyClaim>[2] =>
  ({ now, nodeName: 'web1', ttlMs: TTL, ...(managerOf !== undefined ? { managerOf } : {}) })
const claim = (op: LeaseOp, epoch: number, holder: string, leaseId: string, at = T0, node = 'web1'): LeaseClaim =>
  ({ op, epoch, holder, node, leaseId, at })
const empty: LeaseState = { highestEpoch: 3, lease: null }

describe('lease rules', () => {
  it('grants a free node to the current epoch and records expiry = now + TTL', () => {
    const s = applyClaim(empty, claim('acquire', 3, A, ID1), ctx(T0))
    assert.deepEqual(s.decision, { t: 'granted', lease: { epoch: 3, holder: A, leaseId: ID1, grantedAt: T0, expiresAt: T0 + TTL } })
    assert.equal(s.leaseChanged, true)
    assert.equal(s.raisedEpoch, null)
  })

  it('refuses a stale epoch with CLUSTERD_ERR_STALE_EPOCH and changes nothing', () => {
    const s = applyClaim(empty, claim('acquire', 2, A, ID1), ctx(T0))
    assert.equal(s.decision.t, 'refused')
    assert.equal(s.decision.t === 'refused' && s.decision.code, 'CLUSTERD_ERR_STALE_EPOCH')
    assert.equal(s.leaseChanged, false)
    assert.deepEqual(s.next, empty)
  })

  it('a higher epoch raises the highest-seen epoch at once but waits for the live older lease to expire', () => {
    const held = applyClaim(empty, claim('acquire', 3, A, ID1), ctx(T0)).next
    const busy = applyClaim(held, claim('acquire', 4, B, ID2, T0 + 1000), ctx(T0 + 1000))
    assert.equal(busy.decision.t === 'refused' && busy.decision.code, 'CLUSTERD_ERR_LEASE_BUSY')
    assert.equal(busy.decision.t === 'refused' && busy.decision.retryAfterMs, TTL - 1000)
    assert.equal(busy.raisedEpoch, 4)
    assert.equal(busy.next.highestEpoch, 4)
    assert.deepEqual(busy.next.lease, held.lease, 'the older lease is not taken back before its expiry')
    // The older manager is now stale: its renewal is refused...
    const renew = applyClaim(busy.next, claim('renew', 3, A, ID1, T0 + 2000), ctx(T0 + 2000))
    assert.equal(renew.decision.t === 'refused' && renew.decision.code, 'CLUSTERD_ERR_STALE_EPOCH')
    // ...and after the expiry the newer one gets the node.
    const later = applyClaim(busy.next, claim('acquire', 4, B, ID2, T0 + TTL), ctx(T0 + TTL))
    assert.equal(later.decision.t, 'granted')
    assert.equal(later.next.lease?.holder, B)
  })

  it('a release by the holder frees the node for the next manager before the expiry, even from a stale epoch', () => {
    const held = applyClaim(empty, claim('acquire', 3, A, ID1), ctx(T0)).next
    const raised = applyClaim(held, claim('acquire', 4, B, ID2), ctx(T0)).next
    const rel = applyClaim(raised, claim('release', 3, A, ID1), ctx(T0 + 10))
    assert.deepEqual(rel.decision, { t: 'released' })
    assert.equal(rel.next.lease, null)
    assert.equal(applyClaim(rel.next, claim('acquire', 4, B, ID2), ctx(T0 + 20)).decision.t, 'granted')
  })

  it('a release by anyone else (other holder or other lease id) answers released but keeps the lease', () => {
    const held = applyClaim(empty, claim('acquire', 3, A, ID1), ctx(T0)).next
    for (const c of [claim('release', 3, B, ID1), claim('release', 3, A, ID2)]) {
      const s = applyClaim(held, c, ctx(T0))
      assert.deepEqual(s.decision, { t: 'released' })
      assert.deepEqual(s.next, held)
      assert.equal(s.leaseChanged, false)
    }
  })

  it('renew: only the holder, same id, same epoch, while live; it extends the expiry', () => {
    const held = applyClaim(empty, claim('acquire', 3, A, ID1), ctx(T0)).next
    const ok = applyClaim(held, claim('renew', 3, A, ID1, T0 + 5000), ctx(T0 + 5000))
    assert.equal(ok.decision.t === 'granted' && ok.decision.lease.expiresAt, T0 + 5000 + TTL)
    assert.equal(ok.decision.t === 'granted' && ok.decision.lease.grantedAt, T0)
    for (const [c, now] of [[claim('renew', 3, B, ID1), T0], [claim('renew', 3, A, ID2), T0], [claim('renew', 3, A, ID1, T0 + TTL), T0 + TTL]] as const) {
      const s = applyClaim(held, c, ctx(now))
      assert.equal(s.decision.t === 'refused' && s.decision.code, 'CLUSTERD_ERR_LEASE_LOST', JSON.stringify(c))
    }
    assert.equal(applyClaim(empty, claim('renew', 3, A, ID1), ctx(T0)).decision.t, 'refused', 'nothing to renew')
  })

  it('the same manager and epoch may re-acquire (same id extends, a new id replaces); another holder of the same epoch is busy', () => {
    const held = applyClaim(empty, claim('acquire', 3, A, ID1), ctx(T0)).next
    const again = applyClaim(held, claim('acquire', 3, A, ID1, T0 + 100), ctx(T0 + 100))
    assert.equal(again.decision.t === 'granted' && again.decision.lease.grantedAt, T0)
    const replaced = applyClaim(held, claim('acquire', 3, A, ID2, T0 + 100), ctx(T0 + 100))
    assert.equal(replaced.decision.t === 'granted' && replaced.decision.lease.leaseId, ID2)
    const other = applyClaim(held, claim('acquire', 3, B, ID2), ctx(T0))
    assert.equal(other.decision.t === 'refused' && other.decision.code, 'CLUSTERD_ERR_LEASE_BUSY')
  })

  it('refuses claims for another node, with a far-off clock, or for an epoch the election gives to another peer', () => {
    const wrongNode = applyClaim(empty, claim('acquire', 3, A, ID1, T0, 'web2'), ctx(T0))
    assert.equal(wrongNode.decision.t === 'refused' && wrongNode.decision.code, 'CLUSTERD_ERR_LEASE_REFUSED')
    const skewed = applyClaim(empty, claim('acquire', 3, A, ID1, T0 - 10 * 60_000), ctx(T0))
    assert.equal(skewed.decision.t === 'refused' && skewed.decision.code, 'CLUSTERD_ERR_LEASE_REFUSED')
    const usurper = applyClaim(empty, claim('acquire', 3, B, ID1), ctx(T0, e => e === 3 ? A : undefined))
    assert.equal(usurper.decision.t === 'refused' && usurper.decision.code, 'CLUSTERD_ERR_LEASE_REFUSED')
    assert.match(usurper.decision.t === 'refused' ? usurper.decision.reason : '', /belongs to manager/)
    assert.equal(usurper.decision.t === 'refused' && usurper.decision.manager, A, 'the refusal names the manager, for the keeper to attach its claim')
    assert.equal(wrongNode.decision.t === 'refused' && wrongNode.decision.manager, undefined, 'other refusals name none')
  })

  it('an unreadable lease file at start (quarantine) refuses every acquire for one TTL', () => {
    const q: LeaseState = { highestEpoch: 3, lease: null, quarantineUntil: T0 + TTL }
    const s = applyClaim(q, claim('acquire', 3, A, ID1), ctx(T0 + 1))
    assert.equal(s.decision.t === 'refused' && s.decision.code, 'CLUSTERD_ERR_LEASE_BUSY')
    assert.equal(applyClaim(q, claim('acquire', 3, A, ID1, T0 + TTL), ctx(T0 + TTL)).decision.t, 'granted')
  })

  it('isLive: a lease is live strictly before its expiry', () => {
    const l = { epoch: 1, holder: A, leaseId: ID1, grantedAt: T0, expiresAt: T0 + 10 }
    assert.equal(isLive(l, T0 + 9), true)
    assert.equal(isLive(l, T0 + 10), false)
    assert.equal(isLive(null, T0), false)
  })
})
