import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SwimCore } from '../../../../../agent/membership/core/swim-core.js'
import { digestOf } from '../../../../../agent/membership/core/digest.js'
import type { Broadcast, Datagram, Output, SwimTiming } from '../../../../../agent/membership/core/types.js'
import { addressOf as at, gossipFrom as gossip, soloCore, soloInfo as info } from './test-net.js'

const core = (self: string, others: string[], timing: Partial<SwimTiming> = {}, seed = 9): SwimCore => soloCore(self, others, timing, seed)

// The simulator's 1,000-node `isolate` heal (docs/architecture.md, "Partition heal"): the node
// cut off until all held it failed comes back, and for `revivedQuietMs` every other node
// ignores its claims about third parties, so a suspicion it holds reaches its subject only by
// a datagram it sends there itself. Seeds 1 and 3 left one such suspicion for a minute (until
// the node's next periodic push-pull): each test below walks one of those sequences datagram
// by datagram.

/** The claims in the gossip datagrams of `out` that go to `id`. */
function claimsTo (out: Output, id: string): Broadcast[] {
  return out.send.filter(d => at(d.to, id) && d.msg.t === 'gossip').flatMap(d => (d.msg as Extract<Datagram, { t: 'gossip' }>).gossip)
}

/** Tick every 10 ms from `from` until `c` sends a probe's first ping (nothing is delivered: the link is cut). */
function firstPing (c: SwimCore, from: number): { now: number, target: string } {
  for (let now = from; now < from + 5_000; now += 10) {
    const ping = c.tick(now).send.find(d => d.msg.t === 'ping')
    if (ping !== undefined && ping.msg.t === 'ping') return { now, target: ping.msg.target }
  }
  throw new Error('no probe started')
}

/** Tick every 10 ms from `from` to `until`, collecting what was sent. */
function ticks (c: SwimCore, from: number, until: number): Output {
  const all: Output = { send: [], syncs: [], events: [] }
  for (let now = from; now <= until; now += 10) {
    const out = c.tick(now)
    all.send.push(...out.send)
    all.syncs.push(...out.syncs)
    all.events.push(...out.events)
  }
  return all
}

/**
 * Tick `x` (which knows t and p) through probes until its probe of t has failed and it holds t
 * suspect, with nothing reaching t (the cut is x-t; probes of p are answered, it does not
 * matter which). The time after that probe.
 */
function suspectWhileCut (x: SwimCore): number {
  let probe = firstPing(x, 0)
  let now = probe.now
  for (; probe.target !== 't'; probe = firstPing(x, now + 10)) {
    x.receive(info('p', 1).addr, { t: 'ack', seq: 0, from: 'p', gossip: [] }, probe.now + 1)
    now = probe.now + 600
    ticks(x, probe.now + 10, now)
  }
  ticks(x, probe.now + 10, probe.now + 600)
  assert.equal(x.member('t')?.status, 'suspect')
  return probe.now + 600
}

describe('SwimCore claims of a node cut off and healed (the heal rules)', () => {
  it('a probe whose pings went into our cut accuses nobody once we learn we were held failed (seed 1: it timed out 1 s after the heal)', () => {
    for (const toDead of [30_000, 0]) {
      const x = core('x', ['t', 'a'], { gossipToDeadMs: toDead })
      // x's link is cut: its probe's ping, and then its ping-reqs and second ping, are lost.
      const { now, target } = firstPing(x, 0)
      const accuser = target === 't' ? 'a' : 't'
      ticks(x, now + 10, now + 260)
      // The heal: the first datagram across tells x it was held failed, and x refutes.
      gossip(x, accuser, { t: 'dead', id: 'x', incarnation: x.incarnation, from: accuser }, now + 300)
      assert.equal(x.incarnation, 2, 'x refuted')
      // The probe times out after the heal. Its silence was our cut, not the target's death;
      // a suspicion now could not spread (the others ignore x's claims for revivedQuietMs).
      const out = ticks(x, now + 310, now + 600)
      const suspected = out.events.some(e => e.t === 'member' && e.id === target && e.status === 'suspect')
      if (toDead > 0) {
        assert.equal(x.member(target)?.status, 'alive', 'the probe that ran through the cut accused its target')
        assert.equal(suspected, false)
      } else {
        assert.equal(suspected, true, 'gossipToDeadMs 0: the core as before the heal rules')
      }
    }
  })

  it('our own suspicion is told to its subject directly, which refutes, and its answer clears it (no gossip has to reach it)', () => {
    // No gossip rounds: with one member, each would go to t and carry the suspicion anyway.
    const x = core('x', ['t'], { gossipIntervalMs: 1e9 })
    const t = core('t', ['x'])
    // x probes t; nothing comes back (lost, or t was slow): x suspects t.
    const { now } = firstPing(x, 0)
    const out = ticks(x, now + 10, now + 600)
    assert.equal(x.member('t')?.status, 'suspect')
    // Among what x sent: its suspicion, straight to t (besides the broadcast queue).
    const told = claimsTo(out, 't')
    assert.deepEqual(told, [{ t: 'suspect', id: 't', incarnation: 1, from: 'x' }], 'x did not tell t its suspicion')
    // t gets that datagram, refutes, and answers x directly; x takes the refutation.
    const d = out.send.find(s => at(s.to, 't') && s.msg.t === 'gossip')!
    const answer = t.receive(info('x', 1).addr, d.msg, now + 610)
    assert.equal(t.incarnation, 2, 't refuted')
    const back = answer.send.filter(s => at(s.to, 'x'))
    assert.ok(back.length > 0, 't answered x')
    for (const s of back) x.receive(info('t', 2).addr, s.msg, now + 620)
    assert.equal(x.member('t')?.status, 'alive')
    assert.equal(x.member('t')?.incarnation, 2)
  })

  it('our own suspicion that times out into a verdict is told to its subject too', () => {
    // No gossip rounds (so gossip to the dead cannot be what tells it).
    const x = core('x', ['t'], { gossipIntervalMs: 1e9 })
    const { now } = firstPing(x, 0)
    ticks(x, now + 10, now + 600)
    assert.equal(x.member('t')?.status, 'suspect')
    // The tick in which x's suspicion times out sends the verdict straight to t.
    let verdict: Output | undefined
    for (let tNow = now + 610; tNow < now + 60_000 && verdict === undefined; tNow += 10) {
      const out = x.tick(tNow)
      if (x.member('t')?.status === 'failed') verdict = out
    }
    assert.ok(verdict !== undefined, 'x never held t failed')
    assert.deepEqual(claimsTo(verdict, 't'), [{ t: 'dead', id: 't', incarnation: 1, from: 'x' }])
  })

  it('the subject of our suspicion is told again 1, 3 and 7 s after the heal while it has not refuted, and no more once it did (the first tell is often dropped with the address resolution our cut failed)', () => {
    const run = (refuteAfterMs: number | null): number[] => {
      // A suspicion that outlasts the repeats (as a cut-off agent's did on the real hosts, its
      // local health stretching the timeout): once it is a verdict, gossip to the recently
      // dead tells its subject anyway.
      const x = core('x', ['t', 'p'], { suspicionMinMs: 20_000 })
      const now = suspectWhileCut(x)
      // The heal: x hears it was held failed and tells t (lost, like every tell until t refutes).
      // (The ping of x's round-robin probe of t carries no claim; only tells are counted.)
      const heal = gossip(x, 'p', { t: 'dead', id: 'x', incarnation: x.incarnation, from: 'p' }, now + 10)
      assert.equal(claimsTo(heal, 't').length, 1)
      const told: number[] = []
      for (let at = now + 20; at <= now + 12_000; at += 10) {
        if (refuteAfterMs !== null && at === now + 10 + refuteAfterMs) {
          // t refutes (one of the tells got through): its new incarnation reaches x.
          x.receive(info('t', 2).addr, { t: 'gossip', from: 't', gossip: [{ t: 'alive', info: info('t', 2) }] }, at)
          assert.equal(x.member('t')?.status, 'alive')
        }
        const out = x.tick(at)
        if (refuteAfterMs === null) assert.equal(x.member('t')?.status, 'suspect')
        // Claims about incarnation 1, the one t refuted (x's probes of t still fail here, so x
        // may come to suspect incarnation 2 as well: that is a new suspicion, told anew).
        if (claimsTo(out, 't').some(c => (c.t === 'suspect' || c.t === 'dead') && c.id === 't' && c.incarnation === 1)) told.push(at - (now + 10))
        if (x.nextDeadline() < at) throw new Error(`deadline ${x.nextDeadline()} in the past at ${at}`)
      }
      return told
    }
    const told = run(null)
    for (const [i, expected] of [1_000, 3_000, 7_000].entries()) {
      assert.ok(told.some(t => t >= expected && t < expected + 20), `tell ${i + 2} about ${expected} ms after the heal: told at ${told.join(', ')} ms`)
    }
    // Bounded: three repeats (the gossip rounds that happen to pick t carry the claim too).
    assert.deepEqual(told.filter(t => t > 7_020), [], `told at ${told.join(', ')} ms`)
    assert.deepEqual(run(2_000).filter(t => t > 2_000), [], 'told again after t refuted')
  })

  for (const digest of [true, false]) {
    it(`a suspicion whose one direct tell at the heal was lost is told again when a push-pull peer holds its subject alive (seed 3; ${digest ? 'digest' : 'full-state'} push-pull)`, () => {
      const x = core('x', ['t', 'p'])
      const p = core('p', ['x', 't'])
      // x suspected t while cut off (its probe failed; the datagram telling t went into the cut).
      const now = suspectWhileCut(x)
      // The heal: x hears it was held failed and tells t its suspicion once (tellAccused). That
      // datagram is lost. x also starts its catch-up push-pull, with p.
      const heal = gossip(x, 'p', { t: 'dead', id: 'x', incarnation: x.incarnation, from: 'p' }, now + 10)
      assert.equal(claimsTo(heal, 't').length, 1, 'tellAccused told t once')
      const sync = heal.syncs[0]
      assert.ok(sync !== undefined && sync.id === 'p', 'the catch-up push-pull goes to p')
      // p holds t alive at incarnation 1, the one x suspects: the exchange brings that entry to
      // x, and x tells t its suspicion again.
      let merged: Output
      if (digest) {
        const { reply } = p.onDigestRequest(digestOf(sync.state), now + 20)
        assert.ok(reply.state.members.some(m => m.info.id === 't'), 'p sends its alive entry of t (x holds t suspect)')
        merged = x.onDigestReply(reply, now + 30).out
      } else {
        merged = x.onSyncReply(p.onSyncRequest(sync.state, now + 20).reply, now + 30)
      }
      assert.deepEqual(claimsTo(merged, 't'), [{ t: 'suspect', id: 't', incarnation: 1, from: 'x' }], 'x did not tell t again')
    })
  }
})
