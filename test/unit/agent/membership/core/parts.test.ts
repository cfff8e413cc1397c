import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Prng } from '../../../../harness/fuzz.js'
import { BroadcastQueue, retransmitLimit } from '../../../../../agent/membership/core/broadcast-queue.js'
import { ProbeOrder } from '../../../../../agent/membership/core/probe-order.js'
import { confirm, newSuspicion, suspicionBounds, suspicionTimeout } from '../../../../../agent/membership/core/suspicion.js'
import { DIGEST_PUSH_PULL_SCALE, pushPullInterval } from '../../../../../agent/membership/core/push-pull.js'
import { SWIM_DEFAULTS } from '../../../../../agent/membership/core/constants.js'
import { Awareness } from '../../../../../agent/membership/core/awareness.js'
import { Code, MemberTable } from '../../../../../agent/membership/core/member-table.js'
import { AcrossTarget, SettleRounds } from '../../../../../agent/membership/core/settle.js'
import type { AliveInfo, Broadcast } from '../../../../../agent/membership/core/types.js'

const user = (key: string, version = 1): Broadcast => ({ t: 'user', key, version, data: new Uint8Array(0) })

describe('broadcast queue', () => {
  it('retransmit limit is mult * ceil(log10(N + 1))', () => {
    assert.equal(retransmitLimit(4, 1), 4)
    assert.equal(retransmitLimit(4, 9), 4)
    assert.equal(retransmitLimit(4, 10), 8)
    assert.equal(retransmitLimit(4, 10_000), 20)
  })

  it('sends a broadcast exactly `limit` times, then drops it', () => {
    const q = new BroadcastQueue()
    q.push('k', user('k'), 10)
    let sent = 0
    for (let i = 0; i < 50; i++) sent += q.take(1400, 60_000, 7).length
    assert.equal(sent, 7)
    assert.equal(q.length, 0)
  })

  it('a newer broadcast about the same key replaces the older one, with a fresh count', () => {
    const q = new BroadcastQueue()
    q.push('k', user('k', 1), 10)
    q.take(1400, 60_000, 3)
    q.push('k', user('k', 2), 10)
    const got = [0, 1, 2, 3].flatMap(() => q.take(1400, 60_000, 3))
    assert.deepEqual(got.map(b => b.t === 'user' ? b.version : -1), [2, 2, 2])
  })

  it('sends fewest-transmits first and packs within the budget', () => {
    const q = new BroadcastQueue()
    q.push('old', user('old'), 600)
    q.take(1400, 60_000, 10)
    q.push('a', user('a'), 600)
    q.push('b', user('b'), 600)
    const first = q.take(1400, 60_000, 10)
    assert.deepEqual(first.map(b => b.t === 'user' ? b.key : ''), ['a', 'b'], 'new ones before the once-sent one; 3 x 600 > 1400')
  })

  it('sends one oversized broadcast alone, never with others', () => {
    const q = new BroadcastQueue()
    q.push('big', user('big'), 3000)
    q.push('small', user('small'), 10)
    // Best candidate first (fewest transmits, oldest): the big one, and then nothing else.
    assert.deepEqual(q.take(1400, 60_000, 10).map(b => b.t === 'user' ? b.key : ''), ['big'])
    assert.deepEqual(q.take(1400, 60_000, 10).map(b => b.t === 'user' ? b.key : ''), ['small'])
    assert.equal(q.take(1400, 0, 10).filter(b => b.t === 'user' && b.key === 'big').length, 0, 'not when no oversize is allowed')
  })
})

describe('Lifeguard suspicion', () => {
  it('min = mult * log10(N) * interval (floored), max = maxMult * min', () => {
    const b = suspicionBounds({ members: 10_000, probeIntervalMs: 1000, suspicionMult: 4, suspicionMinMs: 1000, suspicionMaxMult: 6 })
    assert.equal(b.minMs, 16_000)
    assert.equal(b.maxMs, 96_000)
    assert.equal(b.expected, 2)
    assert.equal(suspicionBounds({ members: 1, probeIntervalMs: 1000, suspicionMult: 4, suspicionMinMs: 1000, suspicionMaxMult: 6 }).minMs, 1000)
  })

  it('takes its confirmations from suspicionConfirmations when set (the agent: mult 2, K 3), else mult - 2', () => {
    const agent = suspicionBounds({ members: 64, probeIntervalMs: 500, suspicionMult: 2, suspicionMinMs: 1200, suspicionMaxMult: 4, suspicionConfirmations: 3 })
    assert.equal(agent.expected, 3)
    assert.equal(Math.round(agent.minMs), 1806)
    assert.equal(Math.round(agent.maxMs), 7225)
    // A lone accuser waits the maximum; three confirmations bring it to the minimum.
    assert.equal(suspicionTimeout(agent, 0), Math.floor(agent.maxMs))
    assert.equal(suspicionTimeout(agent, 3), agent.minMs)
    assert.equal(suspicionBounds({ members: 64, probeIntervalMs: 500, suspicionMult: 2, suspicionMinMs: 1200, suspicionMaxMult: 4, suspicionConfirmations: -1 }).expected, 0)
    assert.equal(suspicionBounds({ members: 3, probeIntervalMs: 500, suspicionMult: 2, suspicionMinMs: 1200, suspicionMaxMult: 4, suspicionConfirmations: 3 }).expected, 0, 'none to confirm in a cluster of 3')
  })

  it('shrinks logarithmically with independent confirmations, down to min', () => {
    const b = suspicionBounds({ members: 100, probeIntervalMs: 1000, suspicionMult: 5, suspicionMinMs: 1000, suspicionMaxMult: 6 })
    const t = [0, 1, 2, 3, 4].map(c => suspicionTimeout(b, c))
    assert.equal(t[0], b.maxMs)
    assert.equal(t[3], b.minMs)
    assert.equal(t[4], b.minMs)
    // log: the first confirmation takes off more than the second.
    assert.ok((t[0] as number) - (t[1] as number) > (t[1] as number) - (t[2] as number))
    const s = newSuspicion('x', b, 0)
    assert.equal(confirm(s, 'x'), false, 'the accuser does not confirm itself')
    assert.equal(confirm(s, 'y'), true)
    assert.equal(confirm(s, 'y'), false, 'nor twice')
    assert.equal(s.deadline, t[1])
  })
})

describe('probe order and push-pull scale', () => {
  it('visits every accepted slot exactly once per pass, in a shuffled order', () => {
    const r = new Prng(5)
    const order = new ProbeOrder(() => r.next())
    const seen: number[] = []
    for (let i = 0; i < 90; i++) seen.push(order.next(100, s => s % 10 !== 0))
    assert.equal(new Set(seen).size, 90)
    assert.notDeepEqual(seen.slice(0, 10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 11])
    assert.equal(order.next(100, () => false), -1)
  })

  it('scales the push-pull interval above 32 members', () => {
    assert.equal(pushPullInterval(30_000, 32), 30_000)
    assert.equal(pushPullInterval(30_000, 64), 60_000)
    assert.equal(pushPullInterval(30_000, 100), 93_750)
    // Linear above the threshold: per-node push-pull bytes (state ~ N per exchange) stay flat.
    assert.equal(pushPullInterval(30_000, 10_000), 9_375_000)
    assert.equal(pushPullInterval(30_000, 1_000) * 10, pushPullInterval(30_000, 10_000))
  })

  it('scales a digest push-pull interval above 512 members, never below the log2 reconnect scale', () => {
    assert.equal(pushPullInterval(30_000, 512, DIGEST_PUSH_PULL_SCALE), 30_000)
    assert.equal(pushPullInterval(30_000, 1_000, DIGEST_PUSH_PULL_SCALE), 180_000)
    assert.equal(pushPullInterval(30_000, 10_000, DIGEST_PUSH_PULL_SCALE), 585_938)
    assert.equal(SWIM_DEFAULTS.pushPullScaleMembers, DIGEST_PUSH_PULL_SCALE)
  })

  it('awareness clamps to [0, max - 1] and scales timeouts by score + 1', () => {
    const a = new Awareness(8)
    a.apply(-3)
    assert.equal(a.health, 0)
    a.apply(100)
    assert.equal(a.health, 7)
    assert.equal(a.scale(500), 4000)
  })
})

describe('compact member table', () => {
  it('agrees with a Map model through 20,000 random adds and removes (hash deletes shift back, slots are reused)', () => {
    const r = new Prng(77)
    const t = new MemberTable(2)
    const model = new Map<string, number>()
    const info = (id: string): AliveInfo => ({ id, name: 'n', incarnation: 0, addr: { host: 'h', port: 1 }, eligible: false, record: new Uint8Array(0), left: false })
    for (let i = 0; i < 20_000; i++) {
      const id = `p${r.int(3000)}`
      const have = model.has(id)
      if (!have) model.set(id, t.add(info(id), r.chance(0.5) ? Code.Alive : Code.Failed, i))
      else if (r.chance(0.5)) { t.remove(model.get(id) as number); model.delete(id) }
      if (i % 500 === 0) {
        for (let k = 0; k < 3000; k++) assert.equal(t.slot(`p${k}`), model.get(`p${k}`) ?? -1, `p${k} at step ${i}`)
      }
    }
    assert.equal(t.count, model.size)
    const slots = new Set(model.values())
    assert.equal(slots.size, model.size, 'no two members share a slot')
    assert.ok(t.capacity < 3000 * 2, `capacity ${t.capacity} grew past what was ever stored`)
  })

  it('keeps status change times to 100 ms and counts live members', () => {
    const t = new MemberTable()
    const a = t.add({ id: 'a', name: 'a', incarnation: 0, addr: { host: 'h', port: 1 }, eligible: false, record: new Uint8Array(0), left: false }, Code.Alive, 1_000_000)
    t.setCode(a, Code.Suspect, 1_002_345)
    assert.equal(t.lastChange(a), 1_002_300)
    assert.equal(t.live, 1)
    t.setCode(a, Code.Failed, 1_003_000)
    assert.equal(t.live, 0)
  })
})

describe('settle rounds', () => {
  it('are due 1, 2, 4 ... s apart while the view changes, at most `rounds`, and end when it does not', () => {
    const r = new SettleRounds(1000, 3)
    assert.equal(r.nextAt, Infinity)
    r.start(0, false, 10)
    assert.equal(r.nextAt, 1000)
    assert.equal(r.step(1000, 12), true)
    assert.equal(r.nextAt, 3000)
    assert.equal(r.step(3000, 13), true)
    assert.equal(r.nextAt, 7000)
    assert.equal(r.step(7000, 20), true)
    assert.equal(r.nextAt, Infinity, 'three rounds made')
    r.start(10_000, true, 20)
    assert.equal(r.across, true)
    assert.equal(r.step(11_000, 20), false, 'nothing changed since the start')
    assert.equal(r.nextAt, Infinity)
    const off = new SettleRounds(0, 3)
    off.start(0, false, 0)
    assert.equal(off.nextAt, Infinity, 'interval 0 turns them off')
  })

  it('remember the push-pull in flight to a member held failed until it answers or fails', () => {
    const a = new AcrossTarget()
    const to = { host: '10.0.0.9', port: 7946 }
    assert.equal(a.failed(to), false)
    a.set(to, 'x')
    assert.equal(a.failed({ host: '10.0.0.8', port: 7946 }), false)
    assert.equal(a.failed(to), true)
    assert.equal(a.failed(to), false, 'forgotten once reported')
    a.set(to, 'x')
    a.replied('x')
    assert.equal(a.failed(to), false, 'it answered')
  })
})
