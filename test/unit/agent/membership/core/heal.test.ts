import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SwimCore } from '../../../../../agent/membership/core/swim-core.js'
import type { AliveInfo, Broadcast, SwimTiming } from '../../../../../agent/membership/core/types.js'
import { Prng } from '../../../../harness/fuzz.js'
import { TestNet, allSee, cluster } from './test-net.js'

function info (id: string, incarnation: number): AliveInfo {
  return { id, name: id, incarnation, addr: { host: `10.1.0.${id.length + id.charCodeAt(id.length - 1) % 200}`, port: 7946 }, eligible: false, record: new Uint8Array(4), left: false }
}

/** A started core that knows `others` alive at incarnation 1 (merged from a push-pull); no eager gossip rounds (as soloCore). */
function core (others: string[], timing: Partial<SwimTiming> = {}): SwimCore {
  const rng = new Prng(9)
  const c = new SwimCore({ selfId: 'me', selfInfo: (inc, left) => ({ ...info('me', inc), left }), incarnation: 0, seeds: [], timing: { eagerGossipMs: 0, ...timing } }, () => rng.next())
  c.start(0)
  c.onSyncRequest({ from: others[0]!, members: others.map(id => ({ info: info(id, 1), status: 'alive', incarnation: 1 })), user: [], join: false }, 0)
  return c
}

function gossip (c: SwimCore, from: string, b: Broadcast, now: number): void {
  c.receive(info(from, 1).addr, { t: 'gossip', from, gossip: [b] }, now)
}

describe('SwimCore after a partition heals', () => {
  it('ignores suspect and dead claims by a member it held failed for revivedQuietMs after it came back', () => {
    const c = core(['a', 'acc', 'x', 'y'])
    gossip(c, 'a', { t: 'dead', id: 'acc', incarnation: 1, from: 'a' }, 100)
    assert.equal(c.member('acc')?.status, 'failed')
    // The accuser refutes (the heal): alive again at incarnation 2.
    gossip(c, 'acc', { t: 'alive', info: info('acc', 2) }, 200)
    assert.equal(c.member('acc')?.status, 'alive')
    // Its claims made while cut off still arrive, relayed: they kill nobody.
    gossip(c, 'a', { t: 'dead', id: 'x', incarnation: 1, from: 'acc' }, 300)
    gossip(c, 'a', { t: 'suspect', id: 'y', incarnation: 1, from: 'acc' }, 400)
    assert.equal(c.member('x')?.status, 'alive')
    assert.equal(c.member('y')?.status, 'alive')
    // Another accuser's claim is taken as ever.
    gossip(c, 'a', { t: 'suspect', id: 'y', incarnation: 1, from: 'a' }, 500)
    assert.equal(c.member('y')?.status, 'suspect')
    // Once the quiet time is over, the revived member's claims count again.
    gossip(c, 'a', { t: 'dead', id: 'x', incarnation: 1, from: 'acc' }, 200 + 60_000 + 1)
    assert.equal(c.member('x')?.status, 'failed')
  })

  it('revivedQuietMs 0 turns the rule off (the claim kills at once)', () => {
    const c = core(['a', 'acc', 'x'], { revivedQuietMs: 0 })
    gossip(c, 'a', { t: 'dead', id: 'acc', incarnation: 1, from: 'a' }, 100)
    gossip(c, 'acc', { t: 'alive', info: info('acc', 2) }, 200)
    gossip(c, 'a', { t: 'dead', id: 'x', incarnation: 1, from: 'acc' }, 300)
    assert.equal(c.member('x')?.status, 'failed')
  })

  it('tells a member it holds failed, when a push-pull peer holds it alive at the same incarnation (so it refutes)', () => {
    const c = core(['a', 'y', 'z'])
    gossip(c, 'a', { t: 'dead', id: 'y', incarnation: 1, from: 'a' }, 100)
    gossip(c, 'a', { t: 'dead', id: 'z', incarnation: 1, from: 'a' }, 100)
    // The peer holds y alive at incarnation 1 (it never heard our verdict), z left by signed info.
    const members = [
      { info: info('a', 1), status: 'alive' as const, incarnation: 1 },
      { info: info('y', 1), status: 'alive' as const, incarnation: 1 },
      { info: { ...info('z', 1), left: true }, status: 'left' as const, incarnation: 1 }
    ]
    const { out } = c.onSyncRequest({ from: 'a', members, user: [], join: false }, 200)
    const told = out.send.filter(s => s.msg.t === 'gossip' && s.msg.gossip.some(b => b.t === 'dead'))
    assert.equal(told.length, 1)
    assert.deepEqual(told[0]!.to, info('y', 1).addr)
    assert.deepEqual(told[0]!.msg.t === 'gossip' ? told[0]!.msg.gossip : [], [{ t: 'dead', id: 'y', incarnation: 1, from: 'me' }])
    assert.equal(c.member('y')?.status, 'failed', 'the peer\'s alive at the same incarnation does not revive it')
    // A peer holding a newer incarnation revives it instead, and nobody is told.
    const newer = c.onSyncRequest({ from: 'a', members: [{ info: info('y', 2), status: 'alive', incarnation: 2 }], user: [], join: false }, 300)
    assert.equal(newer.out.send.length, 0)
    assert.equal(c.member('y')?.status, 'alive')
  })

  it('a member that was never held failed is not quieted by a new incarnation', () => {
    const c = core(['a', 'acc', 'x'])
    gossip(c, 'acc', { t: 'alive', info: info('acc', 2) }, 200)
    gossip(c, 'a', { t: 'dead', id: 'x', incarnation: 1, from: 'acc' }, 300)
    assert.equal(c.member('x')?.status, 'failed')
  })

  it('catches up across a heal with a member it holds failed, and with an alive one when that member is really gone', () => {
    const net = new TestNet(41)
    const ids = cluster(net, 5)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'formed')
    net.crash('n4')
    net.runUntilTrue(() => allSee(net, ['n4'], 'failed'), 20_000, 'n4 failed everywhere')
    net.run(35_000)
    const n1 = net.need('n1')
    const before = n1.syncs.length
    // n1 learns it was held failed (as after a heal): its catch-up goes to the member it holds failed ...
    const inc = n1.core.incarnation
    net.act('n1', (core, now) => core.receive(net.need('n2').addr, { t: 'gossip', from: 'n2', gossip: [{ t: 'dead', id: 'n1', incarnation: inc, from: 'n2' }] }, now))
    const first = n1.syncs.slice(before)
    assert.deepEqual(first.map(s => s.id), ['n4'])
    // ... which is really gone: the failed exchange is replaced by one with an alive member at once.
    net.run(500)
    const next = n1.syncs.slice(before + 1).map(s => s.id)
    assert.ok(next.length >= 1 && next[0] !== 'n4' && next[0] !== null, `then: ${JSON.stringify(next)}`)
    assert.ok(n1.syncs[before + 1]!.at - first[0]!.at <= 200)
  })
})
