import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SwimCore } from '../../../../../agent/membership/core/swim-core.js'
import type { Datagram, Endpoint } from '../../../../../agent/membership/core/types.js'
import { TestNet, addressOf as at, allSee, cluster, gossipFrom as gossip, soloCore as core, soloInfo as info } from './test-net.js'

/** Gossip datagrams sent to `id` by ticks every 200 ms from `from` to `until` (`busy`: a user broadcast queued before each). */
function roundsTo (c: SwimCore, id: string, from: number, until: number, busy = true): Datagram[] {
  const sent: Datagram[] = []
  for (let now = from, v = 1; now <= until; now += 200, v++) {
    if (busy) c.broadcast('k', new Uint8Array([v % 256]), v, now)
    for (const s of c.tick(now).send) if (s.msg.t === 'gossip' && at(s.to, id)) sent.push(s.msg)
  }
  return sent
}

describe('SwimCore gossip to the recently dead (gossipToDeadMs)', () => {
  it('a member failed within gossipToDeadMs is a gossip target, and gets our dead verdict about it alone', () => {
    const c = core('m', ['a', 'b'])
    gossip(c, 'a', { t: 'dead', id: 'b', incarnation: 1, from: 'a' }, 100)
    assert.equal(c.member('b')?.status, 'failed')
    const sent = roundsTo(c, 'b', 200, 5_000)
    assert.ok(sent.length > 0, 'no gossip datagram went to the member held failed')
    // The queued broadcasts are not spent on it (its link may still be down).
    for (const m of sent) assert.deepEqual(m.t === 'gossip' ? m.gossip : undefined, [{ t: 'dead', id: 'b', incarnation: 1, from: 'm' }])
  })

  it('gossips to the recently dead in a quiet cluster too (nothing queued: the verdict is the message)', () => {
    // No probes (nobody answers here), so nothing new is queued once the queue drained.
    const c = core('m', ['a', 'b', 'c'], { probeIntervalMs: 1e9 })
    gossip(c, 'a', { t: 'dead', id: 'b', incarnation: 1, from: 'a' }, 100)
    roundsTo(c, 'b', 200, 10_000, false)
    assert.equal(c.pending(), 0, 'the queue drained')
    assert.ok(c.nextDeadline() <= 10_400, 'a gossip tick is asked for while a member failed recently')
    assert.ok(roundsTo(c, 'b', 10_200, 20_000, false).length > 0, 'no verdict went to the member held failed')
    assert.equal(roundsTo(c, 'a', 10_200, 20_000, false).length, 0, 'nothing to gossip to the live ones')
  })

  it('a member failed longer ago than gossipToDeadMs is never a gossip target', () => {
    // No probes (nobody answers here): `a` stays alive, a target all along.
    const c = core('m', ['a', 'b'], { gossipToDeadMs: 10_000, probeIntervalMs: 1e9 })
    gossip(c, 'a', { t: 'dead', id: 'b', incarnation: 1, from: 'a' }, 100)
    assert.ok(roundsTo(c, 'b', 200, 9_000).length > 0, 'targeted while recent')
    assert.equal(roundsTo(c, 'b', 10_200, 30_000).length, 0, 'targeted after gossipToDeadMs')
    // The live member is still a target (the rounds ran).
    assert.ok(roundsTo(c, 'a', 30_200, 32_000).length > 0)
    assert.equal(c.member('b')?.status, 'failed')
  })

  it('tells the whole set of recently dead about one verdict per gossip interval, not one to each (a half partition heals by push-pull)', () => {
    const others = Array.from({ length: 40 }, (_, i) => String.fromCharCode(65 + i))
    const c = core('m', others, { probeIntervalMs: 1e9 })
    for (const id of others.slice(1)) gossip(c, others[0]!, { t: 'dead', id, incarnation: 1, from: others[0]! }, 100)
    let verdicts = 0
    for (let now = 200; now <= 20_000; now += 200) {
      verdicts += c.tick(now).send.filter(d => d.msg.t === 'gossip' && d.msg.gossip.length === 1 && d.msg.gossip[0]!.t === 'dead').length
    }
    // 100 gossip intervals: one verdict per interval at most, to 39 dead members: ~2.5 expected
    // (each pick is a dead one with p 39/40, told with p 1/39), not ~97.
    assert.ok(verdicts > 0 && verdicts <= 10, `${verdicts} verdicts`)
  })

  it('gossipToDeadMs 0 gossips to live members only', () => {
    const c = core('m', ['a', 'b'], { gossipToDeadMs: 0 })
    gossip(c, 'a', { t: 'dead', id: 'b', incarnation: 1, from: 'a' }, 100)
    assert.equal(roundsTo(c, 'b', 200, 5_000).length, 0)
  })

  it('the first datagram across a healed link brings both sides back: our verdict makes the member refute, its tellFailed answer makes us refute', () => {
    // s holds v failed and v holds s failed (each told by a third member on its own side).
    const s = core('s', ['v', 'x'])
    const v = core('v', ['s', 'x'])
    gossip(s, 'x', { t: 'dead', id: 'v', incarnation: 1, from: 'x' }, 100)
    gossip(v, 'x', { t: 'dead', id: 's', incarnation: 1, from: 'x' }, 100)
    const cores = new Map([['s', s], ['v', v]])
    // s's next gossip round that picks v: the only datagram to cross; then only datagrams are
    // delivered between the two (no push-pull, no probe timers), until nothing more is sent.
    let now = 200
    let pending: Array<{ from: string, to: Endpoint, msg: Datagram }> = []
    while (pending.length === 0) {
      s.broadcast('k', new Uint8Array([1]), now, now)
      pending = s.tick(now).send.filter(d => at(d.to, 'v')).map(d => ({ from: 's', ...d }))
      now += 200
      assert.ok(now < 10_000, 'no gossip round picked v')
    }
    for (let hops = 0; pending.length > 0; hops++) {
      assert.ok(hops < 10, 'the exchange does not end')
      const next: typeof pending = []
      for (const d of pending) {
        const to = at(d.to, 'v') ? 'v' : at(d.to, 's') ? 's' : undefined
        if (to === undefined) continue
        const out = (cores.get(to) as SwimCore).receive(info(d.from, 1).addr, d.msg, now)
        for (const o of out.send) if (at(o.to, to === 'v' ? 's' : 'v')) next.push({ from: to, ...o })
      }
      pending = next
      now += 1
    }
    assert.equal(v.member('s')?.status, 'alive', 'v holds s alive again')
    assert.equal(s.member('v')?.status, 'alive', 's holds v alive again')
    assert.ok(v.incarnation > 1 && s.incarnation > 1, 'both refuted')
  })

  it('after being held failed, a node tells the members it accused while cut off (their suspicion broadcasts were spent on the dead link)', () => {
    const c = core('v', ['a', 'b', 'c'])
    // v suspected b while cut off (its broadcast went nowhere), and then heard it was held failed.
    c.receive(info('a', 1).addr, { t: 'gossip', from: 'a', gossip: [{ t: 'suspect', id: 'b', incarnation: 1, from: 'v' }] }, 100)
    assert.equal(c.member('b')?.status, 'suspect')
    const out = gossip(c, 'a', { t: 'dead', id: 'v', incarnation: c.incarnation, from: 'a' }, 200)
    const told = out.send.filter(d => at(d.to, 'b'))
    assert.equal(told.length, 1)
    assert.deepEqual(told[0]!.msg.t === 'gossip' ? told[0]!.msg.gossip : [], [{ t: 'suspect', id: 'b', incarnation: 1, from: 'v' }])
    // At most once per base push-pull interval: a second dead claim right after tells nobody again.
    const again = gossip(c, 'a', { t: 'dead', id: 'v', incarnation: c.incarnation, from: 'a' }, 300)
    assert.equal(again.send.filter(d => at(d.to, 'b')).length, 0)
    // Off with gossipToDeadMs 0.
    const off = core('v', ['a', 'b', 'c'], { gossipToDeadMs: 0 })
    off.receive(info('a', 1).addr, { t: 'gossip', from: 'a', gossip: [{ t: 'suspect', id: 'b', incarnation: 1, from: 'v' }] }, 100)
    const none = gossip(off, 'a', { t: 'dead', id: 'v', incarnation: off.incarnation, from: 'a' }, 200)
    assert.equal(none.send.filter(d => at(d.to, 'b')).length, 0)
  })

  it('a node that refutes a suspicion of itself tells the members it accused too (the survivors\' suspect claim often arrives before any dead one)', () => {
    const c = core('v', ['a', 'b', 'c'])
    c.receive(info('a', 1).addr, { t: 'gossip', from: 'a', gossip: [{ t: 'suspect', id: 'b', incarnation: 1, from: 'v' }] }, 100)
    assert.equal(c.member('b')?.status, 'suspect')
    const before = c.incarnation
    const out = gossip(c, 'a', { t: 'suspect', id: 'v', incarnation: before, from: 'a' }, 200)
    assert.equal(c.incarnation, before + 1, 'v refuted')
    const told = out.send.filter(d => at(d.to, 'b'))
    assert.equal(told.length, 1)
    assert.deepEqual(told[0]!.msg.t === 'gossip' ? told[0]!.msg.gossip : [], [{ t: 'suspect', id: 'b', incarnation: 1, from: 'v' }])
    // A later dead claim within the base interval tells nobody again.
    const again = gossip(c, 'a', { t: 'dead', id: 'v', incarnation: c.incarnation, from: 'a' }, 300)
    assert.equal(again.send.filter(d => at(d.to, 'b')).length, 0)
    // Nothing to tell when we accuse nobody: a refutation alone sends no such datagram.
    const calm = core('w', ['a', 'b', 'c'])
    const quiet = gossip(calm, 'a', { t: 'suspect', id: 'w', incarnation: calm.incarnation, from: 'a' }, 200)
    assert.equal(quiet.send.filter(d => at(d.to, 'b') || at(d.to, 'c')).length, 0)
  })

  it('a member we hold suspect that answers our probe, or pings us, is told our suspicion (only its refutation clears it)', () => {
    const v = core('v', ['a', 'b', 'c'])
    v.receive(info('a', 1).addr, { t: 'gossip', from: 'a', gossip: [{ t: 'suspect', id: 'b', incarnation: 1, from: 'v' }] }, 100)
    assert.equal(v.member('b')?.status, 'suspect')
    const claim = { t: 'suspect', id: 'b', incarnation: 1, from: 'v' }
    // b pings v: the ack carries the claim.
    const acked = v.receive(info('b', 1).addr, { t: 'ping', seq: 7, from: 'b', target: 'v', gossip: [] }, 150).send.filter(d => at(d.to, 'b'))
    assert.equal(acked.length, 1)
    assert.ok(acked[0]!.msg.t === 'ack' && acked[0]!.msg.gossip.some(g => JSON.stringify(g) === JSON.stringify(claim)), 'the ack to b carries our suspicion')
    // v probes b and b answers: v tells b its claim. Probes of others are answered at once.
    let toldAfterAck: Datagram[] = []
    for (let now = 200; now < 20_000 && toldAfterAck.length === 0; now += 50) {
      for (const d of v.tick(now).send) {
        if (d.msg.t !== 'ping') continue
        const target = d.msg.target
        const out = v.receive(info(target, 1).addr, { t: 'ack', seq: d.msg.seq, from: target, gossip: [] }, now + 1)
        if (target === 'b') toldAfterAck = out.send.filter(o => at(o.to, 'b')).map(o => o.msg)
      }
    }
    assert.equal(toldAfterAck.length, 1, 'one datagram to b after its ack')
    assert.deepEqual(toldAfterAck[0]!.t === 'gossip' ? toldAfterAck[0]!.gossip : [], [claim])
    // An alive member's ack sends nothing more to it.
    const w = core('w', ['a', 'b'])
    let extra = -1
    for (let now = 200; now < 20_000 && extra < 0; now += 50) {
      for (const d of w.tick(now).send) {
        if (d.msg.t !== 'ping') continue
        extra = w.receive(info(d.msg.target, 1).addr, { t: 'ack', seq: d.msg.seq, from: d.msg.target, gossip: [] }, now + 1).send.length
      }
    }
    assert.equal(extra, 0)
  })

  it('a node cut off until all hold it failed is alive in every view, and holds all alive, soon after its link heals', () => {
    const took = new Map<number, number>()
    for (const toDead of [30_000, 0]) {
      const net = new TestNet(3, { gossipToDeadMs: toDead })
      const ids = cluster(net, 8)
      net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'formed')
      net.run(35_000)
      const v = ids[7]!
      for (const o of ids) if (o !== v) net.cutLink(v, o)
      net.runUntilTrue(() => ids.every(o => o === v || net.status(o, v) === 'failed'), 20_000, 'all hold v failed')
      for (const o of ids) if (o !== v) net.cutLink(v, o, false)
      took.set(toDead, net.runUntilTrue(() => allSee(net, ids, 'alive'), 60_000, `all alive again (gossipToDeadMs ${toDead})`))
    }
    // This seed: 200 ms, and 5.3 s without (a suspicion v made while cut off outlives the heal
    // until it times out, then v holds that member failed until some datagram crosses).
    assert.ok(took.get(30_000)! <= 1_000, `all alive ${took.get(30_000)} ms after the heal`)
    assert.ok(took.get(0)! >= 3_000, `without gossipToDeadMs: ${took.get(0)} ms`)
  })
})
