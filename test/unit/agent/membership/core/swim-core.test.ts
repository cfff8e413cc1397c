import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TestNet, allSee, cluster } from './test-net.js'

describe('SwimCore in a small network on a fake clock', () => {
  it('joins by push-pull with a seed and every member learns every other, including members it never synced with', () => {
    const net = new TestNet(11)
    const ids = cluster(net, 6)
    // n5 pushed-pulled only n0; the others learn it from its piggybacked alive.
    const took = net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    assert.ok(took < 20_000)
    for (const id of ids) assert.equal(net.need(id).core.size(), 6, `${id} size`)
    // A joiner first merged the seed's state: it knew the others before any of them pinged it.
    assert.ok(net.need('n5').events.some(e => e.t === 'member' && e.id === 'n1' && e.previous === null))
  })

  it('detects a crashed member, disseminates the verdict and suspects nobody else', () => {
    const net = new TestNet(12)
    const ids = cluster(net, 6)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    net.crash('n3')
    const others = ids.filter(i => i !== 'n3')
    net.runUntilTrue(() => allSee(net, ['n3'], 'failed', others), 60_000, 'n3 failed everywhere')
    for (const v of others) {
      for (const id of others) assert.equal(net.status(v, id), 'alive', `${v} sees ${id}`)
      assert.equal(net.need(v).core.stats().refutations, 0, `${v} had to refute`)
    }
    // Disseminated: each survivor reported the verdict exactly once (no flapping).
    for (const v of others) {
      assert.equal(net.need(v).events.filter(e => e.t === 'member' && e.id === 'n3' && e.status === 'failed').length, 1, v)
    }
  })

  it('refutes a false suspicion: the suspect bumps its incarnation and stays alive everywhere', () => {
    const net = new TestNet(13)
    const ids = cluster(net, 5)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    const inc = net.need('n2').core.incarnation
    // n1 (wrongly) accuses n2 to n3.
    net.act('n3', (core, now) => core.receive(net.need('n1').addr, { t: 'gossip', from: 'n1', gossip: [{ t: 'suspect', id: 'n2', incarnation: inc, from: 'n1' }] }, now))
    assert.equal(net.status('n3', 'n2'), 'suspect')
    net.runUntilTrue(() => ids.every(v => net.need(v).core.member('n2')?.incarnation === inc + 1), 20_000, 'refutation everywhere')
    net.run(60_000)
    assert.ok(allSee(net, ['n2'], 'alive'))
    assert.equal(net.need('n2').core.stats().refutations, 1)
    assert.ok(net.need('n2').events.some(e => e.t === 'incarnation' && e.value === inc + 1), 'incarnation to persist')
  })

  it('probes through helpers when a direct link is cut, and a helper nacks for a dead target', () => {
    const net = new TestNet(14, { suspicionMult: 4, probeIntervalMs: 1000, probeTimeoutMs: 500, indirectTimeoutMs: 500 })
    const ids = cluster(net, 5)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    net.cutLink('n1', 'n2')
    net.run(30_000)
    // n1 cannot reach n2 directly, yet helpers' relayed acks keep it alive in n1's view.
    assert.equal(net.status('n1', 'n2'), 'alive')
    assert.equal(net.status('n2', 'n1'), 'alive')
    assert.ok(net.need('n1').core.stats().indirectProbes > 0)
    assert.equal(net.need('n1').core.stats().suspicions, 0)
    // Now n4 dies: helpers answer n1's ping-reqs with nacks, so n1 does not blame itself.
    net.cutLink('n1', 'n2', false)
    net.crash('n4')
    net.runUntilTrue(() => net.need('n1').core.stats().nacks > 0, 30_000, 'a nack at n1')
    // Past that probe's indirect deadline, when its awareness verdict is applied.
    net.run(600)
    assert.equal(net.need('n1').core.health(), 0, 'nacks arrived, so n1 keeps a healthy score')
  })

  it('a node whose indirect probes get neither ack nor nack raises its own awareness', () => {
    const net = new TestNet(15)
    const ids = cluster(net, 4)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    for (const other of ['n1', 'n2', 'n3']) net.cutLink('n0', other)
    net.runUntilTrue(() => net.need('n0').core.health() > 0, 10_000, 'n0 health score rises')
  })

  it('does not accuse anyone for a probe that ran through its own stall', () => {
    const net = new TestNet(16)
    const ids = cluster(net, 2)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    const n0 = net.need('n0')
    // n1 dies; catch n0 right after it pinged n1 and stall n0 through that probe.
    net.crash('n1')
    const before = n0.sent.length
    net.runUntilTrue(() => n0.sent.slice(before).some(m => m.t === 'ping'), 5_000, 'n0 pings')
    net.stall('n0', 3_000)
    net.run(3_000 + 1_200)
    assert.ok(n0.core.stats().stalls >= 1, 'stall noticed')
    assert.ok(n0.events.some(e => e.t === 'stall' && e.ms >= 2_000))
    assert.equal(n0.core.stats().suspicions, 0, 'the stalled probe accused nobody')
    assert.ok(n0.core.health() > 0, 'it blamed itself instead')
    // A probe after the stall is a fair one: n1 is really gone.
    net.runUntilTrue(() => net.status('n0', 'n1') === 'suspect', 10_000, 'n1 suspected after the stall')
  })

  it('moves suspicion deadlines out by its own stall, so a refutation queued meanwhile still wins', () => {
    const net = new TestNet(17, { suspicionMult: 4, suspicionMinMs: 1000 })
    const ids = cluster(net, 3)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    const inc = net.need('n2').core.incarnation
    // n0 alone hears a suspicion of n2, then stalls well past its deadline.
    net.cutLink('n0', 'n1')
    net.act('n0', (core, now) => core.receive(net.need('n1').addr, { t: 'gossip', from: 'n1', gossip: [{ t: 'suspect', id: 'n2', incarnation: inc, from: 'n1' }] }, now))
    assert.equal(net.status('n0', 'n2'), 'suspect')
    // n2's refutation reaches n0 during the stall (sent to n0 directly).
    net.act('n2', (core, now) => core.receive(net.need('n0').addr, { t: 'gossip', from: 'n0', gossip: [{ t: 'suspect', id: 'n2', incarnation: inc, from: 'n1' }] }, now))
    net.stall('n0', 60_000)
    net.run(61_000)
    assert.equal(net.status('n0', 'n2'), 'alive')
    assert.equal(net.need('n0').core.member('n2')?.incarnation, inc + 1)
    assert.equal(net.need('n0').core.stats().deaths, 0, 'n0 declared nobody failed at wake-up')
  })

  it('refuses claims above the subject\'s signed incarnation, about others and about itself', () => {
    const net = new TestNet(18)
    const ids = cluster(net, 3)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    const n0 = net.need('n0')
    const incN2 = n0.core.member('n2')?.incarnation ?? 0
    const incSelf = n0.core.incarnation
    net.act('n0', (core, now) => core.receive(net.need('n1').addr, {
      t: 'gossip',
      from: 'n1',
      gossip: [
        { t: 'dead', id: 'n2', incarnation: incN2 + 1, from: 'n1' },
        { t: 'suspect', id: 'n2', incarnation: 2 ** 32 - 1, from: 'n1' },
        { t: 'dead', id: 'n0', incarnation: 2 ** 32 - 1, from: 'n1' },
        { t: 'suspect', id: 'n0', incarnation: incSelf + 5, from: 'n1' }
      ]
    }, now))
    assert.equal(net.status('n0', 'n2'), 'alive')
    assert.equal(n0.core.incarnation, incSelf, 'no refutation jump toward 2^32')
    assert.equal(n0.core.stats().refused, 4)
    // Push-pull: a status incarnation above the info's own is refused as well.
    const info = n0.core.member('n2')?.info
    assert.ok(info !== undefined)
    const { out } = n0.core.onSyncRequest({ from: 'n1', members: [{ info, status: 'failed', incarnation: info.incarnation + 1 }], user: [], join: false }, net.now)
    assert.equal(out.events.length, 0)
    assert.equal(net.status('n0', 'n2'), 'alive')
    assert.equal(n0.core.stats().refused, 5)
  })

  it('takes a remote failed from push-pull only as a confirmation of its own suspicion, never as a verdict', () => {
    const net = new TestNet(19)
    const ids = cluster(net, 4)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    const n0 = net.need('n0')
    const info = n0.core.member('n2')?.info
    assert.ok(info !== undefined)
    const failedN2 = { from: 'n1', members: [{ info, status: 'failed' as const, incarnation: info.incarnation }], user: [], join: false }
    // Held alive: the remote verdict is not evidence we can check (after a partition heals,
    // every push-pull carries the other side's verdicts about all of ours).
    n0.core.onSyncRequest(failedN2, net.now)
    assert.equal(net.status('n0', 'n2'), 'alive')
    assert.equal(n0.core.stats().suspicions, 0)
    // Held suspect: the remote verdict confirms it, and it never becomes a death by itself.
    n0.core.receive(net.need('n3').addr, { t: 'gossip', from: 'n3', gossip: [{ t: 'suspect', id: 'n2', incarnation: info.incarnation, from: 'n3' }] }, net.now)
    assert.equal(net.status('n0', 'n2'), 'suspect')
    n0.core.onSyncRequest(failedN2, net.now)
    assert.equal(net.status('n0', 'n2'), 'suspect')
    // About ourselves: refuted with a new incarnation.
    const self = n0.core.member('n0')?.info
    assert.ok(self !== undefined)
    n0.core.onSyncRequest({ from: 'n1', members: [{ info: self, status: 'failed', incarnation: self.incarnation }], user: [], join: false }, net.now)
    assert.equal(n0.core.incarnation, self.incarnation + 1)
  })

  it('ignores suspect and dead claims made by an accuser it holds failed (the other side of a partition)', () => {
    const net = new TestNet(23)
    const ids = cluster(net, 4)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    const n0 = net.need('n0')
    const inc = (id: string): number => n0.core.member(id)?.incarnation ?? -1
    const from = net.need('n1').addr
    n0.core.receive(from, { t: 'gossip', from: 'n1', gossip: [{ t: 'dead', id: 'n3', incarnation: inc('n3'), from: 'n1' }] }, net.now)
    assert.equal(net.status('n0', 'n3'), 'failed')
    // n3 was cut off from us: its verdicts about n2, relayed by n1, are not taken.
    n0.core.receive(from, { t: 'gossip', from: 'n1', gossip: [{ t: 'dead', id: 'n2', incarnation: inc('n2'), from: 'n3' }] }, net.now)
    n0.core.receive(from, { t: 'gossip', from: 'n1', gossip: [{ t: 'suspect', id: 'n2', incarnation: inc('n2'), from: 'n3' }] }, net.now)
    assert.equal(net.status('n0', 'n2'), 'alive')
    // The same claim by an accuser we hold alive is taken.
    n0.core.receive(from, { t: 'gossip', from: 'n1', gossip: [{ t: 'dead', id: 'n2', incarnation: inc('n2'), from: 'n1' }] }, net.now)
    assert.equal(net.status('n0', 'n2'), 'failed')
  })

  it('re-announces its current info when a claim about an incarnation it already refuted arrives', () => {
    // No eager gossip round: it would carry the info to the maker too, besides the direct datagram counted here.
    const net = new TestNet(29, { eagerGossipMs: 0 })
    const ids = cluster(net, 3)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    net.run(30_000)
    const n0 = net.need('n0')
    const old = n0.core.incarnation
    n0.core.receive(net.need('n1').addr, { t: 'gossip', from: 'n1', gossip: [{ t: 'dead', id: 'n0', incarnation: old, from: 'n1' }] }, net.now)
    assert.equal(n0.core.incarnation, old + 1)
    net.run(30_000)
    assert.equal(n0.core.pending(), 0)
    // A stale claim (the maker missed the refutation): no new incarnation, but our info again,
    // by gossip and straight to the maker.
    const out = n0.core.receive(net.need('n1').addr, { t: 'gossip', from: 'n1', gossip: [{ t: 'dead', id: 'n0', incarnation: old, from: 'n2' }] }, net.now)
    assert.equal(n0.core.incarnation, old + 1)
    assert.equal(n0.core.pending(), 1)
    const direct = out.send.filter(s => s.to.host === net.need('n2').addr.host && s.msg.t === 'gossip' && s.msg.gossip.some(b => b.t === 'alive' && b.info.id === 'n0' && b.info.incarnation === old + 1))
    assert.equal(direct.length, 1)
  })

  it('catches up by one push-pull when it learns it was held failed (at most one per base interval)', () => {
    const net = new TestNet(41)
    const ids = cluster(net, 4)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    const n0 = net.need('n0')
    const dead = (): Parameters<typeof n0.core.receive>[1] => ({ t: 'gossip', from: 'n1', gossip: [{ t: 'dead', id: 'n0', incarnation: n0.core.incarnation, from: 'n1' }] })
    const first = n0.core.receive(net.need('n1').addr, dead(), net.now)
    assert.equal(first.syncs.length, 1)
    const again = n0.core.receive(net.need('n1').addr, dead(), net.now + 1)
    assert.equal(again.syncs.length, 0)
  })

  it('tells a member it holds failed that talks to it (so a pair left disagreeing after a heal does not wait for push-pull)', () => {
    const net = new TestNet(37)
    const ids = cluster(net, 4)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    const n0 = net.need('n0')
    const inc = n0.core.member('n3')?.incarnation ?? -1
    n0.core.receive(net.need('n1').addr, { t: 'gossip', from: 'n1', gossip: [{ t: 'dead', id: 'n3', incarnation: inc, from: 'n1' }] }, net.now)
    assert.equal(net.status('n0', 'n3'), 'failed')
    const out = n0.core.receive(net.need('n3').addr, { t: 'gossip', from: 'n3', gossip: [] }, net.now)
    const told = out.send.filter(s => s.to.host === net.need('n3').addr.host && s.msg.t === 'gossip' && s.msg.gossip.some(b => b.t === 'dead' && b.id === 'n3' && b.incarnation === inc))
    assert.equal(told.length, 1)
  })

  it('disseminates a leave: everyone shows left (not failed) and stops probing the leaver', () => {
    const net = new TestNet(20)
    const ids = cluster(net, 6)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    net.act('n4', (core, now) => core.leave(now))
    const took = net.runUntilTrue(() => allSee(net, ['n4'], 'left'), 10_000, 'left everywhere')
    assert.ok(took <= 2_000, `leave took ${took} ms`)
    const mark = ids.map(i => net.need(i).sent.length)
    net.crash('n4')
    net.run(60_000)
    assert.ok(allSee(net, ['n4'], 'left'))
    ids.forEach((id, i) => {
      if (id === 'n4') return
      assert.equal(net.need(id).core.stats().suspicions, 0, `${id} suspected someone`)
      const pinged = net.need(id).sent.slice(mark[i]).filter(m => (m.t === 'ping' || m.t === 'ping-req') && m.target === 'n4')
      assert.equal(pinged.length, 0, `${id} still probes the leaver`)
    })
  })

  it('delivers a user broadcast once per node, supersedes by version, and a joiner learns it by push-pull', () => {
    const net = new TestNet(21)
    const ids = cluster(net, 5)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    const data = new TextEncoder().encode('claim-1')
    net.act('n1', (core, now) => core.broadcast('claim', data, 1, now))
    const got = (id: string, v: number): number => net.need(id).events.filter(e => e.t === 'user' && e.key === 'claim' && e.version === v).length
    net.runUntilTrue(() => ids.filter(i => i !== 'n1').every(i => got(i, 1) === 1), 10_000, 'v1 everywhere')
    net.act('n2', (core, now) => core.broadcast('claim', new TextEncoder().encode('claim-2'), 2, now))
    net.runUntilTrue(() => ids.filter(i => i !== 'n2').every(i => got(i, 2) === 1), 10_000, 'v2 everywhere')
    net.run(30_000)
    for (const id of ids) assert.ok(got(id, 1) <= 1 && got(id, 2) <= 1, `${id} got a version twice`)
    assert.equal(got('n1', 1), 0, 'the author does not hear its own broadcast back')
    net.add('late', { seeds: ['n0'] })
    net.start('late')
    net.run(1_000)
    assert.equal(got('late', 2), 1)
    assert.equal(got('late', 1), 0)
  })

  it('re-disseminates a user key first learned by push-pull (a claim from across a healed partition), but not on its own join', () => {
    const net = new TestNet(31)
    const ids = cluster(net, 4)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    net.run(30_000)
    const n0 = net.need('n0')
    assert.equal(n0.core.pending(), 0)
    const claim = { key: 'mgr/other-side', data: new Uint8Array([2]), version: 2 }
    n0.core.onSyncRequest({ from: 'n1', members: [], user: [claim], join: false }, net.now)
    assert.equal(n0.core.pending(), 1, 'a claim new to a joined node must spread to its side')
    // Once it has spread (a joiner that hears it by gossip relays it, as any member does)...
    net.run(30_000)
    assert.equal(n0.core.pending(), 0)
    // ... a joiner learns the cluster's keys without queueing one broadcast per key.
    net.add('late', { seeds: ['n0'] })
    net.start('late')
    net.run(1_000)
    const late = net.need('late')
    assert.ok(late.events.some(e => e.t === 'user' && e.key === 'mgr/other-side'))
    assert.ok(late.sent.every(m => m.t === 'nack' || m.gossip.every(b => b.t !== 'user')), 'the joiner re-disseminated what it learned by joining')
  })

  it('keeps every datagram within the budget, sending an oversized alive alone', () => {
    const net = new TestNet(22)
    const ids = cluster(net, 6)
    net.add('big', { seeds: ['n0'], recordBytes: 3000 })
    net.start('big')
    net.runUntilTrue(() => allSee(net, [...ids, 'big'], 'alive'), 30_000, 'big known everywhere')
    assert.ok(net.maxPacked <= 1400, `packed datagram of ${net.maxPacked} bytes`)
    assert.ok(net.maxDatagram > 3000 && net.maxDatagram <= 60 * 1024, `largest ${net.maxDatagram}`)
  })

  it('retransmits a broadcast a bounded number of times (about log N per node)', () => {
    const net = new TestNet(23, { gossipIntervalMs: 200 })
    const ids = cluster(net, 12)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 30_000, 'full view')
    net.run(120_000)
    const count = (): number => ids.reduce((n, id) => n + net.need(id).sent.filter(m => m.t !== 'nack' && m.gossip.some(b => b.t === 'user' && b.key === 'k')).length, 0)
    net.act('n3', (core, now) => core.broadcast('k', new Uint8Array([1]), 1, now))
    net.run(120_000)
    const limit = 4 * Math.ceil(Math.log10(12 + 1))
    const sends = count()
    // Each node sends it at most `limit` times (some get it after the first send, none twice new).
    assert.ok(sends <= ids.length * limit, `${sends} sends > ${ids.length} x ${limit}`)
    assert.ok(sends >= limit, `only ${sends} sends`)
  })

  it('heals a partition: both sides declared each other failed, and all are alive again after the network heals', () => {
    const net = new TestNet(24, { pushPullIntervalMs: 5_000 })
    const ids = cluster(net, 5)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    for (const a of ['n0', 'n1', 'n2']) for (const b of ['n3', 'n4']) net.cutLink(a, b)
    net.runUntilTrue(() => allSee(net, ['n3', 'n4'], 'failed', ['n0', 'n1', 'n2']) && allSee(net, ['n0', 'n1', 'n2'], 'failed', ['n3', 'n4']), 120_000, 'both sides see the other failed')
    for (const a of ['n0', 'n1', 'n2']) for (const b of ['n3', 'n4']) net.cutLink(a, b, false)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 120_000, 'healed')
  })

  it('is deterministic: the same seed and inputs give the same datagrams and events', () => {
    const trace = (seed: number): string => {
      const net = new TestNet(seed)
      const ids = cluster(net, 5)
      net.run(5_000)
      net.crash('n2')
      net.run(30_000)
      return JSON.stringify(ids.map(id => [net.need(id).sent.length, net.need(id).events.map(e => e.t === 'member' ? `${e.id}:${e.status}` : e.t)]))
    }
    assert.equal(trace(31), trace(31))
    assert.notEqual(trace(31), trace(32), 'the seed matters (or the trace sees nothing)')
  })

  it('a leaving node drains its queue: pending() reaches 0 while it keeps ticking', () => {
    const net = new TestNet(33)
    const ids = cluster(net, 4)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    net.act('n1', (core, now) => core.leave(now))
    assert.ok(net.need('n1').core.pending() > 0)
    net.runUntilTrue(() => net.need('n1').core.pending() === 0, 30_000, 'queue drained')
  })

  it('relays a ping-req to a known member at its known address, and to an unknown one without gossip', () => {
    const net = new TestNet(34)
    const ids = cluster(net, 3)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    const n0 = net.need('n0')
    net.act('n0', (core, now) => core.refreshSelf(now)) // something to piggyback
    const victim = { host: '192.0.2.7', port: 9 }
    const known = n0.core.receive(net.need('n1').addr, { t: 'ping-req', seq: 1, from: 'n1', target: 'n2', targetAddr: victim, gossip: [] }, net.now)
    assert.deepEqual(known.send.map(s => s.to), [net.need('n2').addr])
    const unknown = n0.core.receive(net.need('n1').addr, { t: 'ping-req', seq: 2, from: 'n1', target: 'stranger', targetAddr: victim, gossip: [] }, net.now)
    assert.equal(unknown.send.length, 1)
    assert.deepEqual(unknown.send[0]?.to, victim)
    const msg = unknown.send[0]?.msg
    assert.ok(msg !== undefined && msg.t === 'ping' && msg.gossip.length === 0, 'no gossip toward an unknown address')
    assert.ok(n0.core.pending() > 0, 'there was gossip to send')
  })

  it('a member that stalled past its own death learns it from the first ack and rejoins (no push-pull needed)', () => {
    const net = new TestNet(35, { pushPullIntervalMs: 1e9 })
    const ids = cluster(net, 3)
    net.runUntilTrue(() => allSee(net, ids, 'alive'), 20_000, 'full view')
    // Stalled for long, and (as a full socket buffer would) everything sent to it meanwhile is lost.
    net.stall('n2', 200_000)
    net.cutLink('n0', 'n2')
    net.cutLink('n1', 'n2')
    net.runUntilTrue(() => allSee(net, ['n2'], 'failed', ['n0', 'n1']), 120_000, 'n2 failed at n0 and n1')
    // Long enough for the dead broadcasts to be spent.
    net.run(60_000)
    assert.equal(net.need('n0').core.pending() + net.need('n1').core.pending(), 0)
    net.runUntil(net.need('n2').stalledUntil + 1)
    net.cutLink('n0', 'n2', false)
    net.cutLink('n1', 'n2', false)
    assert.equal(net.need('n2').core.stats().refutations, 0, 'nothing told n2 yet')
    net.runUntilTrue(() => allSee(net, ['n2'], 'alive'), 30_000, 'n2 alive again everywhere')
    assert.ok(net.need('n2').core.stats().refutations >= 1)
  })

  it('a node joining a large cluster spreads its first periodic push-pull over the N-scaled interval', () => {
    // Settle push-pulls (after a join, while the view grows) are tested on their own.
    // Scaled above 32 members (the full-state rule; digest exchanges scale above 512).
    const net = new TestNet(36, { settleRounds: 0, pushPullScaleMembers: 32 })
    cluster(net, 40, 10)
    net.run(10_000)
    const joiners: string[] = []
    for (let i = 0; i < 20; i++) joiners.push(net.add(`j${i}`, { seeds: ['n0'] }).id)
    for (const id of joiners) net.start(id)
    const t0 = net.now
    net.run(70_000)
    // 40+ members: interval 30 s x (ceil(log2 N - log2 32) + 1) = 60 s, not the base 30 s.
    const firsts = joiners.map(id => net.need(id).syncs.find(s => s.id !== null)?.at ?? Infinity)
    const late = firsts.filter(at => at - t0 > 30_000).length
    assert.ok(late >= 4, `only ${late} of 20 first push-pulls fell after the base interval`)
    assert.ok(firsts.every(at => at - t0 <= 61_000), 'every joiner push-pulled within one scaled interval')
  })
})
