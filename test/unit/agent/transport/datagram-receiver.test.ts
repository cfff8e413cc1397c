import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DGRAM_OVERHEAD } from '../../../../agent/transport/constants.js'
import { DatagramReceiver, type ReceiveResult } from '../../../../agent/transport/datagram-receiver.js'
import { deriveSenderKey, newSenderId, sealDatagram } from '../../../../agent/transport/datagram-seal.js'
import { generateSecret } from '../../../../agent/transport/secret.js'

const T0 = 1_780_000_000_000
const secret = generateSecret()

/** A sender as the channel is one: a random id, its key and a counter. */
function sender (s: Uint8Array = secret) {
  const id = newSenderId()
  const key = deriveSenderKey(s, id)
  let counter = 0
  return {
    id,
    seal: (payload: string, timestamp: number, c = counter++) =>
      Buffer.concat(sealDatagram(key, { senderId: id, counter: c, timestamp }, Buffer.from(payload)))
  }
}

function reason (r: ReceiveResult): string {
  return r.ok ? `ok:${Buffer.from(r.payload).toString()}` : r.reason
}

describe('datagram receiver', () => {
  it('delivers an authentic datagram once; its copy is a replay', () => {
    const rx = new DatagramReceiver({ secret })
    const a = sender()
    const bytes = a.seal('ping', T0)
    const first = rx.receive(bytes, T0)
    assert.equal(reason(first), 'ok:ping')
    assert.ok(first.ok && first.header.counter === 0 && first.header.timestamp === T0)
    assert.equal(reason(rx.receive(bytes, T0 + 5)), 'replayed')
    assert.equal(reason(rx.receive(a.seal('ack', T0), T0)), 'ok:ack')
    assert.equal(rx.senderCount, 1)
  })

  it('refuses a stranger (another secret) and keeps no state for it', () => {
    const rx = new DatagramReceiver({ secret })
    const stranger = sender(generateSecret())
    const r = rx.receive(stranger.seal('ping', T0), T0)
    assert.equal(reason(r), 'auth')
    assert.equal(rx.senderCount, 0)
  })

  it('refuses datagrams older or newer than maxAgeMs, and says which way the clock is off', () => {
    const rx = new DatagramReceiver({ secret, maxAgeMs: 60_000 })
    const a = sender()
    assert.equal(reason(rx.receive(a.seal('edge-old', T0 - 60_000), T0)), 'ok:edge-old')
    assert.equal(reason(rx.receive(a.seal('edge-new', T0 + 60_000), T0)), 'ok:edge-new')
    const old = rx.receive(a.seal('old', T0 - 60_001), T0)
    assert.ok(!old.ok && old.reason === 'stale' && /behind/.test(old.detail))
    const future = rx.receive(a.seal('future', T0 + 61_000), T0)
    assert.ok(!future.ok && future.reason === 'stale' && /61 s ahead/.test(future.detail))
  })

  it('refuses anything sealed before it started: replays aimed at its previous run', () => {
    const rx = new DatagramReceiver({ secret })
    const a = sender()
    const beforeRestart = a.seal('old ping', T0 - 1)
    rx.refuseBefore(T0)
    const r = rx.receive(beforeRestart, T0 + 10)
    assert.ok(!r.ok && r.reason === 'stale' && /before this agent started/.test(r.detail))
    assert.equal(reason(rx.receive(a.seal('new ping', T0), T0 + 10)), 'ok:new ping')
  })

  it('refuses its own datagrams sent back to it', () => {
    const a = sender()
    const rx = new DatagramReceiver({ secret, ownSenderId: a.id })
    assert.equal(reason(rx.receive(a.seal('ping', T0), T0)), 'reflected')
  })

  it('refuses datagrams over its size limit before any work', () => {
    const rx = new DatagramReceiver({ secret, maxDatagramBytes: DGRAM_OVERHEAD + 4 })
    const a = sender()
    assert.equal(reason(rx.receive(a.seal('1234', T0), T0)), 'ok:1234')
    assert.equal(reason(rx.receive(a.seal('12345', T0), T0)), 'oversized')
  })

  it('lets no forged datagram move a sender\'s window', () => {
    const rx = new DatagramReceiver({ secret, windowSize: 32 })
    const a = sender()
    assert.equal(reason(rx.receive(a.seal('first', T0, 0), T0)), 'ok:first')
    // same sender id and a counter far ahead, but a broken tag
    const forged = a.seal('forged', T0, 1_000)
    forged[forged.byteLength - 1] = (forged[forged.byteLength - 1] ?? 0) ^ 1
    assert.equal(reason(rx.receive(forged, T0)), 'auth')
    assert.equal(reason(rx.receive(a.seal('second', T0, 1), T0)), 'ok:second')
  })

  it('forgets a sender only when all it sent is stale, so its replays stay refused', () => {
    const rx = new DatagramReceiver({ secret, maxAgeMs: 60_000, maxSenders: 2 })
    const a = sender()
    const b = sender()
    const c = sender()
    const fromA = a.seal('a', T0)
    assert.equal(reason(rx.receive(fromA, T0)), 'ok:a')
    assert.equal(reason(rx.receive(b.seal('b', T0 + 1_000), T0 + 1_000)), 'ok:b')
    // full of fresh senders: a third is refused rather than forgetting a or b
    assert.equal(reason(rx.receive(c.seal('c', T0 + 2_000), T0 + 2_000)), 'senderLimit')
    assert.equal(reason(rx.receive(fromA, T0 + 2_000)), 'replayed')
    // once a is stale it is forgotten to make room, and its old datagram is stale too
    const later = T0 + 60_001
    assert.equal(reason(rx.receive(c.seal('c2', later), later)), 'ok:c2')
    assert.equal(rx.senderCount, 2)
    assert.equal(reason(rx.receive(fromA, later)), 'stale')
    // a, still alive, comes back with fresh datagrams
    assert.equal(reason(rx.receive(a.seal('a2', later + 1_000), later + 1_000)), 'ok:a2')
  })

  it('keeps a sender with a fast clock until its newest datagram is stale', () => {
    const rx = new DatagramReceiver({ secret, maxAgeMs: 60_000, maxSenders: 1 })
    const ahead = sender()
    const bytes = ahead.seal('ahead', T0 + 50_000)
    assert.equal(reason(rx.receive(bytes, T0), ), 'ok:ahead')
    const other = sender()
    // 100 s later the ahead sender's datagram (stamped +50 s) is still fresh: keep its state
    assert.equal(reason(rx.receive(other.seal('o', T0 + 100_000), T0 + 100_000)), 'senderLimit')
    assert.equal(reason(rx.receive(bytes, T0 + 100_000)), 'replayed')
    assert.equal(reason(rx.receive(other.seal('o2', T0 + 110_001), T0 + 110_001)), 'ok:o2')
  })

  it('counts a counter below the window as a replay', () => {
    const rx = new DatagramReceiver({ secret, windowSize: 32 })
    const a = sender()
    assert.equal(reason(rx.receive(a.seal('late', T0, 5), T0)), 'ok:late')
    assert.equal(reason(rx.receive(a.seal('top', T0, 100), T0)), 'ok:top')
    const r = rx.receive(a.seal('very late', T0, 6), T0)
    assert.ok(!r.ok && r.reason === 'replayed' && /below/.test(r.detail))
  })
})
