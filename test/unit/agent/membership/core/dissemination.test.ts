import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TestNet, allSee } from './test-net.js'
import type { AliveInfo, SwimTiming, SyncState } from '../../../../../agent/membership/core/types.js'

/** A seed started alone, then `count` joiners started at the same instant, all through it. */
function burst (seed: number, count: number, timing: Partial<SwimTiming> = {}): { net: TestNet, ids: string[], t0: number } {
  const net = new TestNet(seed, timing)
  net.add('n0')
  net.start('n0')
  net.run(1000)
  const ids = ['n0']
  for (let i = 1; i <= count; i++) ids.push(net.add(`n${i}`, { seeds: ['n0'] }).id)
  for (const id of ids.slice(1)) net.start(id)
  return { net, ids, t0: net.now }
}

function info (i: number): AliveInfo {
  return { id: `x${i}`, name: `x${i}`, incarnation: 1, addr: { host: `10.9.${i >> 8}.${i & 255}`, port: 7946 }, eligible: false, record: new Uint8Array(8), left: false }
}

function stateOf (from: string, count: number): SyncState {
  const members = [{ info: { ...info(0), id: from, name: from }, status: 'alive' as const, incarnation: 1 }]
  for (let i = 1; i < count; i++) members.push({ info: info(i), status: 'alive', incarnation: 1 })
  return { from, members, user: [], join: false }
}

describe('SwimCore dissemination of joins', () => {
  it('32 and 64 nodes joining at the same instant all see each other within 4 s (was 18-30 s: relays died out)', () => {
    for (const count of [32, 64]) {
      for (const seed of [1, 2, 3]) {
        const { net, ids } = burst(seed, count)
        const took = net.runUntilTrue(() => allSee(net, ids, 'alive'), 4_000, `${count} joiners, seed ${seed}`)
        assert.ok(took <= 4_000)
      }
    }
  })

  it('without settle push-pulls and push-pull relays the same burst is slow (what the mechanisms fix)', () => {
    const { net, ids } = burst(1, 32, { settleRounds: 0, pushPullRelayMax: 0 })
    net.run(4_000)
    assert.equal(allSee(net, ids, 'alive'), false, 'the old behaviour converged within 4 s: the test above proves nothing')
  })

  it('a node joining a converged cluster alone makes no settle push-pull', () => {
    const { net, ids } = burst(5, 12)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 10_000, 'formed')
    net.run(20_000)
    net.add('late', { seeds: ['n0'] })
    net.start('late')
    net.run(20_000)
    // The first periodic push-pull of a 14-member cluster can fall within these 20 s (base 30 s).
    const late = net.need('late').syncs
    assert.equal(late.filter(s => s.id === null).length, 1, 'one join push-pull')
    assert.ok(late.filter(s => s.id !== null).length <= 1, `settle push-pulls made: ${JSON.stringify(late)}`)
    assert.ok(allSee(net, [...ids, 'late'], 'alive'))
  })

  it('makes at most settleRounds settle push-pulls, 1, 2, 4, 8, 16, 32 s after the join, while the view grows', () => {
    const { net, ids, t0 } = burst(7, 64)
    net.run(70_000)
    assert.ok(allSee(net, ids, 'alive'))
    let total = 0
    for (const id of ids.slice(1)) {
      const n = net.need(id)
      const settles = n.core.stats().settles
      total += settles
      assert.ok(settles <= 6, `${id}: ${settles} settle push-pulls`)
      // The join reply came within ms of t0; each settle falls at t0 + 1, 3, 7, 15, 31, 63 s.
      const at = n.syncs.filter(s => s.id !== null).map(s => s.at - t0)
      for (let k = 0; k < settles; k++) {
        const want = 1000 * (2 ** (k + 1) - 1)
        assert.ok(at.some(a => a >= want && a <= want + 50), `${id}: no settle ${k} near ${want} ms (${at.join(', ')})`)
      }
    }
    assert.ok(total >= 32, `only ${total} settle push-pulls: the early joiners must settle`)
    assert.ok(total < 64 * 3, `${total} settle push-pulls: the rounds stop once the views stop growing`)
  })

  it('a push-pull merge queues at most pushPullRelayMax members it did not know, plus the sender itself', () => {
    const net = new TestNet(3)
    const n0 = net.add('n0')
    net.start('n0')
    // A first member (its join: the node's own alive and the member's are queued).
    n0.core.onSyncRequest(stateOf('first', 1), net.now)
    const before = n0.core.pending()
    n0.core.onSyncRequest(stateOf('peer', 200), net.now)
    assert.equal(n0.core.size(), 202, 'every live member is merged')
    assert.equal(n0.core.pending() - before, 16 + 1)
    n0.core.onSyncRequest(stateOf('peer', 200), net.now)
    assert.equal(n0.core.pending() - before, 17, 'a second merge of the same view is not news')
  })

  it('relays the news of a push-pull with a small budget knob, and none of a join merge but the sender', () => {
    const net = new TestNet(4, { pushPullRelayMax: 3 })
    const n0 = net.add('n0')
    net.start('n0')
    n0.core.onSyncRequest(stateOf('first', 1), net.now)
    const before = n0.core.pending()
    n0.core.onSyncRequest(stateOf('peer', 50), net.now)
    assert.equal(n0.core.pending() - before, 3 + 1)
    // A joiner's own join reply (it knew nobody): only the seed's own info is relayed.
    const j = net.add('j', { seeds: ['n0'] })
    net.start('j')
    net.run(5)
    assert.equal(j.core.size(), 53)
    assert.ok(j.core.pending() <= 2, `joiner queued ${j.core.pending()} (its own alive and the seed's)`)
  })
})
