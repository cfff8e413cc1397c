import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SwimCore } from '../../../../../agent/membership/core/swim-core.js'
import { SlowDeferral } from '../../../../../agent/membership/core/slow-defer.js'
import type { AliveInfo, Output, SwimTiming, SyncState } from '../../../../../agent/membership/core/types.js'
import { Prng } from '../../../../harness/fuzz.js'

function info (id: string): AliveInfo {
  return { id, name: id, incarnation: 1, addr: { host: `10.2.0.${id.charCodeAt(0)}${id.length}`, port: 7946 }, eligible: false, record: new Uint8Array(4), left: false }
}

function stateOf (from: string, ids: string[]): SyncState {
  return { from, members: [from, ...ids].map(id => ({ info: info(id), status: 'alive' as const, incarnation: 1 })), user: [], join: false }
}

/** A core joining through seed `s`; `seeds: []` for one that never joins. */
function joiner (timing: Partial<SwimTiming> = {}, seed = 5): SwimCore {
  const rng = new Prng(seed)
  return new SwimCore({ selfId: 'me', selfInfo: (inc, left) => ({ ...info('me'), incarnation: inc, left }), incarnation: 0, seeds: [info('s').addr], timing }, () => rng.next())
}

/** Tick every 50 ms (never late) from `from` to `to`; the push-pulls to members (not seeds) asked, with their time. */
function tickFor (c: SwimCore, from: number, to: number): Array<{ at: number, id: string | null }> {
  const syncs: Array<{ at: number, id: string | null }> = []
  for (let now = from; now <= to; now += 50) {
    const out: Output = c.tick(now)
    for (const s of out.syncs) syncs.push({ at: now, id: s.id })
  }
  return syncs
}

describe('SwimCore: the straggler pair (issue 10, 64 agents on 2 cores)', () => {
  it('starts the settle rounds at its join even when gossip taught it members before the join reply', () => {
    // The simulator's 64-node burst: the join announcement makes the seed gossip the joiner,
    // whose members then probe it and teach it members before its join push-pull completes;
    // the rounds started only for a node that knew no other live member at the reply, so 57
    // of 64 nodes made none and a pair that joined together stayed apart for a periodic
    // push-pull interval (60 s at 64).
    const c = joiner({ joinRetryMs: 60_000 })
    c.start(0)
    c.receive(info('x').addr, { t: 'gossip', from: 'x', gossip: [{ t: 'alive', info: info('x') }] }, 100)
    c.onSyncReply(stateOf('s', ['x', 'y']), 200)
    assert.equal(c.synced(), true)
    // The view keeps growing after the reply: the first settle round is due 1 s after it.
    c.receive(info('x').addr, { t: 'gossip', from: 'x', gossip: [{ t: 'alive', info: info('z') }] }, 300)
    const syncs = tickFor(c, 350, 1400)
    assert.ok(syncs.some(s => s.id !== null && s.at >= 1200 && s.at <= 1250), `no settle push-pull 1 s after the join: ${JSON.stringify(syncs)}`)
    assert.equal(c.stats().settles, 1)
  })
})

describe('SwimCore: a slow node defers its own push-pulls', () => {
  const timing: Partial<SwimTiming> = { pushPullIntervalMs: 2_000, slowDeferMs: 6_000, joinRetryMs: 60_000 }

  /** A joined core knowing a few members; `late`: its timers then run 1 s late once (a stall). */
  function joined (late: boolean): { c: SwimCore, t: number } {
    const c = joiner(timing)
    c.start(0)
    c.onSyncReply(stateOf('s', ['a', 'b', 'c']), 50)
    tickFor(c, 100, 2_100) // the first periodic push-pull falls within 2 s of the join
    let t = 2_100
    if (late) {
      // Called 1 s after the deadline it asked for: this node stalled.
      t = c.nextDeadline() + 1_000
      const out = c.tick(t)
      assert.ok(out.events.some(e => e.t === 'stall'))
    }
    return { c, t }
  }

  it('a healthy node makes its periodic push-pull on time', () => {
    const { c, t } = joined(false)
    const syncs = tickFor(c, t + 50, t + 2_100).filter(s => s.id !== null)
    assert.ok(syncs.length >= 1, 'one periodic push-pull per 2 s')
  })

  it('while its timers run late and its health score is raised: no push-pull of its own (periodic, reconnect) until slowDeferMs', () => {
    const { c, t } = joined(true)
    assert.ok(c.health() > 0, 'the late timer raised the score')
    // Unanswered probes keep the score raised; the timers are on time from here on.
    const syncs = tickFor(c, t + 50, t + 9_000).filter(s => s.id !== null)
    assert.ok(c.health() > 0)
    assert.ok(syncs.length >= 1, 'after slowDeferMs the push-pull is made all the same')
    assert.ok(syncs[0]!.at >= t + 2_000 + 4_000, `deferred: first at +${syncs[0]!.at - t} ms`)
    assert.ok(c.stats().deferred >= 1)
  })

  it('defers the catch-up after being held failed while slow, and makes it at once when healthy', () => {
    for (const late of [false, true]) {
      const { c, t } = joined(late)
      const inc = c.incarnation
      const out = c.receive(info('a').addr, { t: 'gossip', from: 'a', gossip: [{ t: 'dead', id: 'me', incarnation: inc, from: 'a' }] }, t + 10)
      assert.equal(out.syncs.length, late ? 0 : 1, late ? 'slow: no catch-up at once' : 'healthy: the catch-up at once (a refutation alone is no sign of load)')
    }
  })

  it('never defers a join: a slow node that has not synced retries its seeds', () => {
    const c = joiner({ joinRetryMs: 1_000 })
    c.start(0)
    const out = c.tick(c.nextDeadline() + 1_000)
    assert.ok(out.events.some(e => e.t === 'stall') && c.health() > 0, 'late: the score is raised')
    const syncs = tickFor(c, 2_500, 8_000)
    assert.ok(syncs.some(s => s.id === null), 'the join is retried while slow')
  })

  it('SlowDeferral holds each kind at most maxMs from when it first had to wait, only after a late timer, and not when healthy or off', () => {
    const d = new SlowDeferral(1_000)
    assert.equal(d.hold('periodic', 2, 0), false, 'a raised score without a late timer: no wait')
    d.noteLate()
    assert.equal(d.hold('periodic', 0, 0), false)
    d.noteLate()
    assert.equal(d.hold('periodic', 2, 10), true)
    assert.equal(d.hold('settle', 2, 500), true)
    assert.equal(d.hold('periodic', 2, 1_009), true)
    assert.equal(d.hold('periodic', 2, 1_010), false, 'held 1 s: made')
    assert.equal(d.hold('settle', 1, 1_010), true, 'each kind has its own wait')
    assert.equal(d.hold('settle', 0, 1_020), false, 'healthy again')
    assert.equal(d.hold('settle', 3, 1_030), false, 'a new late timer is needed to wait again')
    assert.equal(d.deferred, 2)
    const off = new SlowDeferral(0)
    off.noteLate()
    assert.equal(off.hold('resync', 5, 0), false, 'slowDeferMs 0: never')
  })
})
