import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TestNet, allSee, cluster } from './test-net.js'
import type { AliveInfo } from '../../../../../agent/membership/core/types.js'

/** Behaviour that matters when the machine is saturated (issue 10, 64 agents on 2 cores). */
describe('SwimCore under load', () => {
  it('retries a failed join, with backoff, at a member gossip brought it, and is synced once one completes', () => {
    const net = new TestNet(41, { joinRetryMs: 2000 })
    const ids = cluster(net, 4)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    const late = net.add('late', { seeds: ['n0'] })
    net.cutLink('late', 'n0')
    net.start('late')
    net.run(500)
    assert.equal(late.core.synced(), false)
    assert.equal(late.syncs.length, 1, 'one join push-pull, to the seed')
    // Gossip brings it n2 (say, relayed by a member that heard its announcement).
    const n2 = net.need('n2').core.member('n2')?.info as AliveInfo
    net.act('late', (core, now) => core.receive(net.need('n2').addr, { t: 'gossip', from: 'n2', gossip: [{ t: 'alive', info: n2 }] }, now))
    net.runUntilTrue(() => late.core.synced(), 10_000, 'a join retry completed')
    const retry = late.syncs[1]
    assert.ok(retry !== undefined && retry.id !== null && retry.id !== 'n0', `the retry went to a member it knew, not the seed: ${JSON.stringify(late.syncs)}`)
    assert.ok(retry.at - (late.syncs[0]?.at ?? 0) >= 1000, 'after a backoff (joinRetryMs x U(0.5, 1.5))')
    net.runUntilTrue(() => allSee(net, [...ids, 'late'], 'alive', [...ids.filter(i => i !== 'n0'), 'late']), 20_000, 'late known')
  })

  it('keeps trying a seed that was down at its join and that no member it reached has met (else two clusters form)', () => {
    // As the attested-eligibility test starts them: a (no seeds) comes up after b (seed a) and
    // c (seeds a, b) have met each other, so nobody would ever contact a.
    const net = new TestNet(44, { joinRetryMs: 2000 })
    const a = net.add('a')
    a.down = true // not running yet: everything to it is lost
    const b = net.add('b', { seeds: ['a'] })
    net.add('c', { seeds: ['a', 'b'] })
    net.start('b')
    net.start('c')
    net.runUntilTrue(() => allSee(net, ['b', 'c'], 'alive'), 20_000, 'b and c meet')
    net.run(10_000)
    assert.equal(net.status('b', 'a'), undefined, 'a is unknown to b and c')
    a.down = false
    net.start('a')
    net.runUntilTrue(() => allSee(net, ['a', 'b', 'c'], 'alive'), 30_000, 'a found by the retries of its seed')
    // Once every seed is a member, no more join push-pulls.
    const before = b.syncs.length
    net.run(60_000)
    assert.ok(b.syncs.filter(x => x.id === null).length <= before, 'no join push-pull after the seed appeared')
  })

  it('asks a member it does not know that talks to it, and learns it from the direct answer (no incarnation change)', () => {
    const net = new TestNet(42)
    const ids = cluster(net, 3)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    const z = net.add('z')
    net.start('z')
    // z knows n1 (say, from n1's gossip), n1 has not heard of z.
    const n1 = net.need('n1').core.member('n1')?.info as AliveInfo
    net.act('z', (core, now) => core.receive(net.need('n1').addr, { t: 'gossip', from: 'n1', gossip: [{ t: 'alive', info: n1 }] }, now))
    const inc = z.core.incarnation
    // A bare ping from z: nothing in it says who z is.
    net.act('n1', (core, now) => core.receive(z.addr, { t: 'ping', seq: 7, from: 'z', target: 'n1', gossip: [] }, now))
    assert.ok(net.need('n1').sent.some(m => m.t === 'gossip' && m.gossip.some(b => b.t === 'suspect' && b.id === 'z' && b.incarnation === 0)), 'asked z')
    net.run(50)
    assert.equal(net.status('n1', 'z'), 'alive')
    assert.equal(z.core.incarnation, inc, 'a stale claim is answered, not refuted')
    assert.equal(z.core.stats().refutations, 0)
    // Asked once, not once per datagram.
    const asks = (): number => net.need('n1').sent.filter(m => m.t === 'gossip' && m.gossip.some(b => b.t === 'suspect' && b.id === 'y')).length
    for (let k = 0; k < 5; k++) net.act('n1', (core, now) => core.receive({ host: '10.9.9.9', port: 7946 }, { t: 'ping', seq: k, from: 'y', target: 'n1', gossip: [] }, now))
    assert.equal(asks(), 1)
  })

  it('sends a refutation first, ahead of queued news, and straight to the accuser', () => {
    const net = new TestNet(43)
    const ids = cluster(net, 5)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    net.run(30_000)
    const n2 = net.need('n2')
    for (let k = 0; k < 8; k++) net.act('n2', (core, now) => core.broadcast(`k${k}`, new Uint8Array(200), 1, now))
    const inc = n2.core.incarnation
    const out = n2.core.receive(net.need('n1').addr, { t: 'gossip', from: 'n1', gossip: [{ t: 'suspect', id: 'n2', incarnation: inc, from: 'n1' }] }, net.now)
    const direct = out.send.find(s => s.to.host === net.need('n1').addr.host && s.msg.t === 'gossip')
    assert.ok(direct !== undefined && direct.msg.t === 'gossip' && direct.msg.gossip.some(b => b.t === 'alive' && b.info.id === 'n2' && b.info.incarnation === inc + 1), 'the accuser got the refutation directly')
    // The next datagram n2 fills from its queue carries the refutation before the 8 user keys.
    const next = n2.core.tick(net.now + 10_000).send.find(s => s.msg.t !== 'nack' && s.msg.gossip.length > 0)
    assert.ok(next !== undefined && next.msg.t !== 'nack')
    const first = next.msg.gossip[0]
    assert.ok(first?.t === 'alive' && first.info.id === 'n2', `first gossip is ${first?.t}`)
  })

  it('late timers raise the local health score (Lifeguard): this node is the slow one', () => {
    const net = new TestNet(44)
    const ids = cluster(net, 4)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    net.run(20_000)
    assert.equal(net.need('n1').core.health(), 0)
    net.stall('n1', 3000)
    net.run(3010)
    assert.ok(net.need('n1').core.stats().stalls > 0)
    assert.ok(net.need('n1').core.health() > 0)
    // Its probes then succeed and the score falls back.
    net.run(60_000)
    assert.equal(net.need('n1').core.health(), 0)
    assert.ok(allSee(net, ids, 'alive'))
  })
})
