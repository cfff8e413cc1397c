import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ReplayWindow, type ReplayVerdict } from '../../../../agent/transport/replay-window.js'

/** A small seeded PRNG (mulberry32), so a failure replays. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** Accept-if-new through the window: check, then record only when new. */
function offer (w: ReplayWindow, counter: number): ReplayVerdict {
  const verdict = w.check(counter)
  if (verdict === 'new') w.record(counter)
  return verdict
}

describe('replay window', () => {
  it('accepts each counter once, in order', () => {
    const w = new ReplayWindow(64)
    for (let c = 0; c < 500; c++) {
      assert.equal(offer(w, c), 'new')
      assert.equal(offer(w, c), 'replayed')
    }
    assert.equal(w.highest, 499)
  })

  it('accepts a late counter inside the window once, refuses one below it', () => {
    const w = new ReplayWindow(64)
    offer(w, 100)
    assert.equal(offer(w, 37), 'new')
    assert.equal(offer(w, 37), 'replayed')
    assert.equal(offer(w, 36), 'too-old')
    assert.equal(offer(w, 100), 'replayed')
    assert.equal(offer(w, 99), 'new')
  })

  it('forgets nothing it must remember across a jump, and everything a long jump leaves behind', () => {
    const w = new ReplayWindow(64)
    for (const c of [0, 1, 2, 60]) offer(w, c)
    offer(w, 70) // slides past 0..6: their slots are reused for 64..70
    assert.equal(w.check(60), 'replayed')
    assert.equal(w.check(64), 'new')
    assert.equal(w.check(6), 'too-old')
    offer(w, 10_000)
    assert.equal(w.check(9_937), 'new')
    assert.equal(w.check(9_936), 'too-old')
    assert.equal(w.check(10_000), 'replayed')
  })

  it('does not move until a counter is recorded (checks change nothing)', () => {
    const w = new ReplayWindow(32)
    assert.equal(w.check(1_000_000), 'new')
    assert.equal(w.highest, -1)
    assert.equal(offer(w, 3), 'new')
  })

  it('agrees with a set-based model over 30,000 random offers', () => {
    const rand = prng(0xc1a55)
    for (const size of [32, 1_024]) {
      const w = new ReplayWindow(size)
      const seen = new Set<number>()
      let top = -1
      let base = 0
      for (let i = 0; i < 15_000; i++) {
        // mostly near the top, sometimes far behind or far ahead
        const r = rand()
        if (r < 0.01) base += Math.floor(rand() * size * 3)
        const spread = r < 0.05 ? size * 2 : size / 2
        const counter = Math.max(0, base + Math.floor((rand() - 0.4) * spread))
        if (rand() < 0.3) base++
        const expected: ReplayVerdict = counter > top ? 'new' : counter <= top - size ? 'too-old' : seen.has(counter) ? 'replayed' : 'new'
        assert.equal(offer(w, counter), expected, `size ${size}, offer ${i}: counter ${counter}, top ${top}`)
        if (expected === 'new') {
          seen.add(counter)
          top = Math.max(top, counter)
        }
      }
    }
  })

  it('needs a positive multiple of 32', () => {
    for (const size of [0, -32, 33, 1.5]) assert.throws(() => new ReplayWindow(size), RangeError)
  })
})
