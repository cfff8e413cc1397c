import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { streamPair } from '@libp2p/utils'
import { BoundedFrames, ByteBudget, FrameBudgetError, FrameTooLargeError, encodeLength } from '../../../../protocol/streams/bounded-frames.js'

// libp2p's in-memory stream pair: real stream semantics, no sockets.

/** A deadline whose timer keeps the test's event loop alive (AbortSignal.timeout's does not). */
function deadline (ms: number): AbortSignal {
  const c = new AbortController()
  setTimeout(() => { c.abort(new Error('deadline')) }, ms)
  return c.signal
}

describe('BoundedFrames', () => {
  it('round-trips frames written with the same length prefix as lpStream', async () => {
    const [a, b] = await streamPair()
    const out = new BoundedFrames(a, 1024)
    const inn = new BoundedFrames(b, 1024)
    await out.write(new TextEncoder().encode('hello'), AbortSignal.timeout(1000))
    await out.write(new Uint8Array(300).fill(1), AbortSignal.timeout(1000))
    const f1 = await inn.read({ maxBytes: 1024, signal: AbortSignal.timeout(1000) })
    assert.equal(new TextDecoder().decode(f1.bytes), 'hello')
    const f2 = await inn.read({ maxBytes: 1024, signal: AbortSignal.timeout(1000) })
    assert.equal(f2.bytes.byteLength, 300)
    assert.deepEqual([...encodeLength(300)], [0xac, 0x02])
  })

  it('refuses a frame declared above the cap before any of its body arrives', async () => {
    const [a, b] = await streamPair()
    const inn = new BoundedFrames(b, 1024)
    // Only the prefix is sent: the refusal cannot have waited for the body.
    a.send(encodeLength(64 * 1024 * 1024))
    await assert.rejects(inn.read({ maxBytes: 1024, signal: AbortSignal.timeout(1000) }), (err: unknown) => err instanceof FrameTooLargeError && /67108864 bytes exceeds the cap of 1024/.test(err.message))
  })

  it('refuses a length prefix longer than five bytes', async () => {
    const [a, b] = await streamPair()
    const inn = new BoundedFrames(b, 1024)
    a.send(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))
    await assert.rejects(inn.read({ maxBytes: 1024, signal: AbortSignal.timeout(1000) }), FrameTooLargeError)
  })

  it('takes the frame from the budget before reading it and gives it back on release', async () => {
    const [a, b] = await streamPair()
    const budget = new ByteBudget(500)
    const inn = new BoundedFrames(b, 1024)
    await new BoundedFrames(a, 1024).write(new Uint8Array(400), AbortSignal.timeout(1000))
    const f = await inn.read({ maxBytes: 1024, signal: AbortSignal.timeout(1000), budget })
    assert.equal(budget.inUse, 400)
    f.release()
    f.release()
    assert.equal(budget.inUse, 0)
  })
})

describe('ByteBudget', () => {
  it('admits in order and wakes waiters as bytes come back', async () => {
    const budget = new ByteBudget(100)
    await budget.take(60, AbortSignal.timeout(1000))
    const order: string[] = []
    const big = budget.take(80, AbortSignal.timeout(1000)).then(() => { order.push('big') })
    const small = budget.take(10, AbortSignal.timeout(1000)).then(() => { order.push('small') })
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(order, [], 'a small frame does not overtake a waiting large one')
    budget.release(60)
    await Promise.all([big, small])
    assert.deepEqual(order, ['big', 'small'])
    assert.equal(budget.inUse, 90)
  })

  it('gives up at the deadline and refuses a frame larger than the whole budget', async () => {
    const budget = new ByteBudget(100)
    await budget.take(100, AbortSignal.timeout(1000))
    await assert.rejects(budget.take(1, deadline(50)), FrameBudgetError)
    await assert.rejects(budget.take(101, deadline(50)), /exceeds the budget/)
    budget.release(100)
    assert.equal(budget.inUse, 0)
    await budget.take(100, deadline(50))
  })
})
