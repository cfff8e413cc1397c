import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TestNet, allSee, cluster, gossipFrom, soloCore, soloInfo } from './test-net.js'
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

describe('SwimCore eager gossip rounds (eagerGossipMs)', () => {
  const joiner = (i: number): AliveInfo => ({ ...info(100 + i), id: `j${i}`, name: `j${i}` })
  const gossipTo = (out: { send: Array<{ msg: { t: string } }> }): number => out.send.filter(s => s.msg.t === 'gossip').length

  it('news goes out in a round at once, the next news no sooner than eagerGossipMs after it, and an input without news sends none', () => {
    // Interval rounds and probes far off: every gossip datagram here is an eager round.
    const c = soloCore('m', ['a', 'b', 'c', 'd'], { eagerGossipMs: 50, gossipIntervalMs: 1e9, probeIntervalMs: 1e9 })
    // Ticked on time (a late tick is a stall, and a stalled node makes no eager rounds).
    for (let now = 10; now < 1000; now += 10) c.tick(now)
    assert.equal(c.health(), 0)
    const first = gossipFrom(c, 'a', { t: 'alive', info: joiner(1) }, 1000)
    assert.equal(gossipTo(first), 3, 'a round to gossipNodes members in the same output as the news')
    const second = gossipFrom(c, 'a', { t: 'alive', info: joiner(2) }, 1010)
    assert.equal(gossipTo(second), 0, 'within 50 ms of the last round: no round yet')
    assert.equal(c.nextDeadline(), 1050, 'the queued news asks for a tick 50 ms after the last round')
    const later = c.tick(1050)
    assert.equal(gossipTo(later), 3)
    assert.ok(later.send.some(s => s.msg.t === 'gossip' && s.msg.gossip.some(b => b.t === 'alive' && b.info.id === 'j2')), 'the round carries the news')
    // The same news again (already known): nothing queued, no round.
    assert.equal(gossipTo(gossipFrom(c, 'b', { t: 'alive', info: joiner(2) }, 2000)), 0)
    assert.equal(gossipTo(c.receive(soloInfo('b', 1).addr, { t: 'ping', seq: 7, from: 'b', target: 'm', gossip: [] }, 2100)), 0)
  })

  it('0 turns them off, and a node short of CPU (health score above 0) makes none: news waits for the interval round', () => {
    const off = soloCore('m', ['a', 'b', 'c', 'd'], { eagerGossipMs: 0, gossipIntervalMs: 1e9, probeIntervalMs: 1e9 })
    for (let now = 10; now < 1000; now += 10) off.tick(now)
    assert.equal(gossipTo(gossipFrom(off, 'a', { t: 'alive', info: joiner(1) }, 1000)), 0)
    const slow = soloCore('m', ['a', 'b', 'c', 'd'], { eagerGossipMs: 50, gossipIntervalMs: 1e9, probeIntervalMs: 1e9 })
    // Its first input comes a second after the tick it asked for: it judges itself stalled.
    const late = gossipFrom(slow, 'a', { t: 'alive', info: joiner(1) }, 1000)
    assert.ok(late.events.some(e => e.t === 'stall') && slow.health() > 0)
    assert.equal(gossipTo(late), 0)
  })

  it('a member joining 64 converged nodes is seen by all sooner: each hop relays at once instead of at the next interval round', () => {
    /** Virtual ms from the joiner's start until all see it, read every 2 ms. */
    const took = (eagerGossipMs: number, seed: number): number => {
      const net = new TestNet(seed, { eagerGossipMs })
      const ids = cluster(net, 64, 20)
      net.runUntilTrue(() => allSee(net, ids, 'alive'), 60_000, 'the 64 converge')
      net.run(30_000)
      net.add('late', { seeds: ['n0'] })
      const t0 = net.now
      net.start('late')
      while (!allSee(net, ['late'], 'alive')) {
        assert.ok(net.now - t0 < 10_000, `all see the joiner (eagerGossipMs ${eagerGossipMs}, seed ${seed})`)
        net.run(2)
      }
      return net.now - t0
    }
    const seeds = [3, 4, 5]
    const eager = seeds.map(s => took(50, s))
    const interval = seeds.map(s => took(0, s))
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
    console.log(`# 64 nodes, one joiner seen by all (seeds ${seeds.join(', ')}): ${eager.join(', ')} ms with eager rounds, ${interval.join(', ')} ms with interval rounds only`)
    // A node the eager wave misses (each relays once to 3 random members) waits for an interval round.
    assert.ok(sum(eager) * 2 < sum(interval), `eager ${eager.join(', ')} ms, interval only ${interval.join(', ')} ms`)
  })
})
