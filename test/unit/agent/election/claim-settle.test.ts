import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ElectionCore, type ElectionClaim, type ElectionCoreInit } from '../../../../agent/election/election-core.js'

const T0 = 5_000_000

/** A fresh eligible node with seeds that knows `ids` alive (itself included). */
function node (self: string, ids: string[], opts: Partial<ElectionCoreInit> = {}): ElectionCore {
  const c = new ElectionCore({ selfId: self, name: self, eligible: true, hasSeeds: true, highestEpoch: 0, selfRevision: () => ({ revision: 0, awaiting: false }), ...opts })
  c.start(T0)
  for (const id of ids) c.member({ id, status: 'alive', eligible: true, lastChange: T0 })
  return c
}

/** Tick every 250 ms over [from, to], the live count given by `live(now)`; the claims made, with their time. */
function ticks (c: ElectionCore, from: number, to: number, live: (now: number) => number, synced = true): Array<{ at: number, claim: ElectionClaim }> {
  const made: Array<{ at: number, claim: ElectionClaim }> = []
  for (let now = from; now <= to; now += 250) for (const claim of c.tick(now, live(now), synced).claims) made.push({ at: now, claim })
  return made
}

describe('ElectionCore: claim settle (a fresh joiner beside a sitting manager)', () => {
  it('a synced joiner whose view still grows does not claim; the sitting claim that arrives meanwhile is named', () => {
    // The real 64-host run: bm0-h40 completed a push-pull with another fresh joiner, knew
    // members, heard no claim, and claimed epoch 1 beside bm0-h1 12 s after its start.
    const c = node('a0', ['a0', 'b1', 'c2'])
    // Its view grows by a member a second (a burst of joins still being learned).
    const live = (now: number): number => 3 + Math.floor((now - T0) / 1000)
    assert.deepEqual(ticks(c, T0 + 250, T0 + 8_000, live), [], 'no claim while members are still being learned')
    // The sitting manager's claim reaches it by a settle push-pull.
    c.claim({ epoch: 1, peerId: 'm9', name: 'm9', revision: 0, at: T0 - 60_000 }, T0 + 8_100)
    c.member({ id: 'm9', status: 'alive', eligible: true, lastChange: T0 + 8_100 })
    assert.deepEqual(ticks(c, T0 + 8_250, T0 + 20_000, () => 12), [])
    assert.equal(c.manager()?.peerId, 'm9')
  })

  it('claims claimSettleMs after its view stopped growing when it is the winner and heard no claim', () => {
    const c = node('a0', ['a0', 'b1', 'c2'])
    const live = (now: number): number => Math.min(10, 3 + Math.floor((now - T0) / 1000))
    const made = ticks(c, T0 + 250, T0 + 20_000, live)
    assert.equal(made.length, 1)
    // The view reached 10 at T0 + 7 s: the claim comes 3 s later (not at settleMs, 3 s after start).
    assert.ok(made[0]!.at >= T0 + 10_000 && made[0]!.at <= T0 + 10_250, `claimed at +${made[0]!.at - T0} ms`)
    assert.equal(made[0]!.claim.epoch, 1)
  })

  it('without the rule (claimSettleMs 0) the same joiner claims at settleMs: what the rule fixes', () => {
    const c = node('a0', ['a0', 'b1', 'c2'], { claimSettleMs: 0 })
    const made = ticks(c, T0 + 250, T0 + 8_000, (now: number) => 3 + Math.floor((now - T0) / 1000))
    assert.equal(made[0]?.at, T0 + 3_000)
  })

  it('a view that never stops growing delays the claim at most isolatedSettleMs from start', () => {
    const c = node('a0', ['a0', 'b1'])
    const made = ticks(c, T0 + 250, T0 + 40_000, (now: number) => 2 + Math.floor((now - T0) / 500))
    assert.equal(made.length, 1)
    assert.equal(made[0]!.at, T0 + 30_000)
  })

  it('a node that has named a manager is not held back: a failover while members join takes one tick', () => {
    const c = node('a0', ['a0', 'b1', 'm9'])
    c.claim({ epoch: 3, peerId: 'm9', name: 'm9', revision: 0, at: T0 }, T0 + 100)
    assert.deepEqual(ticks(c, T0 + 250, T0 + 5_000, () => 3), [])
    c.member({ id: 'm9', status: 'failed', eligible: true, lastChange: T0 + 5_100 })
    const made = ticks(c, T0 + 5_250, T0 + 6_000, (now: number) => 3 + Math.floor((now - T0) / 250))
    assert.deepEqual(made.map(m => [m.at, m.claim.epoch]), [[T0 + 5_250, 4]])
  })

  it('the first node (no seeds) claims at settleMs, and a node alone with seeds after isolatedSettleMs, as before', () => {
    const first = node('a0', ['a0'], { hasSeeds: false })
    assert.equal(ticks(first, T0 + 250, T0 + 5_000, () => 1)[0]?.at, T0 + 3_000)
    const alone = node('a0', ['a0'])
    assert.equal(ticks(alone, T0 + 250, T0 + 40_000, () => 1)[0]?.at, T0 + 30_000)
  })

  it('a cluster started all at once (every node with seeds, views growing) elects one manager, once', () => {
    const ids = ['a0', 'b1', 'c2', 'd3', 'e4', 'f5']
    const cores = ids.map(id => node(id, [id]))
    const claims: ElectionClaim[] = []
    for (let now = T0 + 250; now <= T0 + 40_000; now += 250) {
      // Each node learns one more member every 700 ms (its own order), all within 4 s.
      const known = (i: number): number => Math.min(ids.length, 1 + Math.floor((now - T0) / 700) + (i % 2))
      cores.forEach((c, i) => {
        for (let k = 0; k < known(i); k++) c.member({ id: ids[(i + k) % ids.length]!, status: 'alive', eligible: true, lastChange: now })
        for (const claim of c.tick(now, known(i)).claims) {
          claims.push(claim)
          cores.forEach((o, j) => { if (j !== i) o.claim(claim, now) })
        }
      })
    }
    assert.deepEqual(claims.map(c => [c.peerId, c.epoch]), [['a0', 1]])
    assert.deepEqual(cores.map(c => c.manager()?.peerId), ids.map(() => 'a0'))
  })
})
