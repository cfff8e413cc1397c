import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MemberTable } from '../../../../agent/membership/member-table.js'
import { suspicionBounds, suspicionTimeout } from '../../../../agent/membership/suspicion.js'
import type { NodeRecord, SignedRecord } from '../../../../protocol/membership-wire.js'

const timing = { probeIntervalMs: 500, suspicionMult: 2, suspicionMinMs: 1200, suspicionMaxMult: 4, reapAfterMs: 60_000 }
const SELF = 'self-peer'

function rec (peerId: string, incarnation: number, state: 'alive' | 'left' = 'alive'): [NodeRecord, SignedRecord] {
  const r: NodeRecord = { v: 1, name: `n-${peerId}`, peerId, incarnation, state, addrs: [], labels: {}, managerEligible: true, facts: null, signedAt: 0 }
  return [r, { payload: JSON.stringify(r), sig: 'x' }]
}

function table (): MemberTable {
  const t = new MemberTable({ selfPeerId: SELF, timing })
  t.setSelf(...rec(SELF, 1), 0)
  return t
}

describe('MemberTable SWIM merge rules', () => {
  it('adds an unknown member as alive and reports the change', () => {
    const t = table()
    const r = t.applyRecord(...rec('a', 1), 0)
    assert.equal(r.changed, true)
    assert.deepEqual(r.change, { peerId: 'a', name: 'n-a', from: null, to: 'alive', inc: 1 })
    assert.equal(t.get('a')?.status, 'alive')
  })

  it('ignores a record that is not newer than what it has', () => {
    const t = table()
    t.applyRecord(...rec('a', 5), 0)
    assert.equal(t.applyRecord(...rec('a', 5), 1).changed, false)
    assert.equal(t.applyRecord(...rec('a', 4), 1).changed, false)
    assert.equal(t.get('a')?.inc, 5)
  })

  it('reports a newer record of a live member as a change with the same status (a restart faster than failure detection)', () => {
    // The manager learns which run of a node's agent is up from the record's facts: a restart
    // that no probe noticed must still reach it (CI: the on-return suite's worker never "returned").
    const t = table()
    t.applyRecord(...rec('a', 3), 0)
    const r = t.applyRecord(...rec('a', 4), 10)
    assert.equal(r.changed, true)
    assert.deepEqual(r.change, { peerId: 'a', name: 'n-a', from: 'alive', to: 'alive', inc: 4 })
    assert.equal(t.get('a')?.inc, 4)
  })

  it('marks a member suspect, ignores stale suspicion, and lets a higher incarnation refute it', () => {
    const t = table()
    t.applyRecord(...rec('a', 3), 0)
    assert.equal(t.applySuspect('a', 2, 'b', 10).changed, false, 'older incarnation is stale')
    const s = t.applySuspect('a', 3, 'b', 10)
    assert.equal(s.change?.to, 'suspect')
    assert.equal(t.applyRecord(...rec('a', 3), 20).changed, false, 'same incarnation does not refute')
    assert.equal(t.get('a')?.status, 'suspect')
    const refuted = t.applyRecord(...rec('a', 4), 30)
    assert.equal(refuted.change?.to, 'alive')
    assert.equal(t.get('a')?.suspicion, null)
  })

  it('declares a suspect dead when its suspicion deadline passes, and not before', () => {
    const t = table()
    t.applyRecord(...rec('a', 1), 0)
    t.applySuspect('a', 1, 'b', 1000)
    const deadline = t.get('a')?.suspicion?.deadline ?? 0
    assert.ok(deadline > 1000)
    assert.deepEqual(t.tick(deadline - 1), [])
    const expired = t.tick(deadline)
    assert.equal(expired.length, 1)
    assert.equal(expired[0]?.to, 'dead')
    assert.equal(t.get('a')?.status, 'dead')
  })

  it('shortens the suspicion deadline with independent confirmations (Lifeguard)', () => {
    const t = table()
    for (const p of ['a', 'b', 'c', 'd', 'e']) t.applyRecord(...rec(p, 1), 0)
    t.applySuspect('a', 1, 'b', 0)
    const first = t.get('a')?.suspicion?.deadline ?? 0
    t.applySuspect('a', 1, 'b', 0) // the accuser again: no confirmation
    assert.equal(t.get('a')?.suspicion?.deadline, first)
    assert.equal(t.applySuspect('a', 1, 'c', 0).confirmed, true, 'a new accuser is an independent confirmation')
    const second = t.get('a')?.suspicion?.deadline ?? 0
    assert.ok(second < first, `${second} < ${first}`)
    assert.equal(t.applySuspect('a', 1, 'c', 0).confirmed, undefined, 'the same confirmer counts once')
  })

  it('asks to refute a suspicion or death claim about itself with a higher incarnation', () => {
    const t = table()
    assert.equal(t.applySuspect(SELF, 1, 'b', 0).refute, 2)
    assert.equal(t.applyDead(SELF, 7, 0).refute, 8)
    assert.equal(t.applySuspect(SELF, 0, 'b', 0).refute, undefined, 'an old claim needs no refutation')
  })

  it('refutes an old record of itself with a higher incarnation (restart after data loss)', () => {
    const t = table()
    assert.equal(t.applyRecord(...rec(SELF, 9), 0).refute, 10)
  })

  it('turns a remote death claim received by push-pull into a suspicion only', () => {
    const t = table()
    const [r, signed] = rec('a', 2)
    t.applySyncEntry(r, { rec: signed, status: 'dead', inc: 2 }, 'b', 0)
    assert.equal(t.get('a')?.status, 'suspect')
  })

  it('records a graceful leave and does not resurrect it with an older record', () => {
    const t = table()
    t.applyRecord(...rec('a', 1), 0)
    assert.equal(t.applyRecord(...rec('a', 2, 'left'), 1).change?.to, 'left')
    assert.equal(t.applyRecord(...rec('a', 1), 2).changed, false)
    assert.equal(t.applySuspect('a', 2, 'b', 3).changed, false, 'a left member is not suspected')
    assert.equal(t.applyRecord(...rec('a', 3), 4).change?.to, 'alive', 'a restart with a higher incarnation rejoins')
  })

  it('forgets dead and left members after the reap period', () => {
    const t = table()
    t.applyRecord(...rec('a', 1), 0)
    t.applyDead('a', 1, 0)
    t.tick(timing.reapAfterMs)
    assert.ok(t.get('a') !== undefined)
    t.tick(timing.reapAfterMs + 1)
    assert.equal(t.get('a'), undefined)
  })
})

describe('Lifeguard suspicion timeout', () => {
  it('has the floor as its minimum and max = min * maxMult', () => {
    const b = suspicionBounds({ ...timing, members: 5 })
    assert.equal(b.minMs, 1200)
    assert.equal(b.maxMs, 4800)
    assert.equal(suspicionTimeout(b, 0), 4800)
    assert.equal(suspicionTimeout(b, b.expected), 1200)
  })

  it('grows with log10 of the cluster size past the floor', () => {
    const small = suspicionBounds({ ...timing, members: 10 })
    const large = suspicionBounds({ ...timing, members: 1000 })
    assert.ok(large.minMs > small.minMs)
    assert.equal(large.minMs, 2 * 3 * 500)
  })

  it('is the minimum when no one could confirm (two-node cluster)', () => {
    const b = suspicionBounds({ ...timing, members: 2 })
    assert.equal(b.expected, 0)
    assert.equal(suspicionTimeout(b, 0), b.minMs)
  })
})
