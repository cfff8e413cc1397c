import assert from 'node:assert/strict'
import { hkdfSync, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import {
  DGRAM_HEADER_LENGTH,
  DGRAM_HKDF_INFO_SENDER,
  DGRAM_MAX_PAYLOAD,
  DGRAM_OVERHEAD,
  DGRAM_TAG_LENGTH,
  PSK_HKDF_INFO_AUTH,
  PSK_HKDF_INFO_STREAM
} from '../../../../agent/transport/constants.js'
import {
  deriveSenderKey,
  newSenderId,
  openDatagram,
  parseDatagram,
  sealDatagram,
  type DatagramHeader
} from '../../../../agent/transport/datagram-seal.js'
import { generateSecret } from '../../../../agent/transport/secret.js'

const secret = generateSecret()
const senderId = newSenderId()
const key = deriveSenderKey(secret, senderId)
const header: DatagramHeader = { senderId, counter: 7, timestamp: 1_780_000_000_000 }

function seal (payload: Uint8Array, h: DatagramHeader = header, k: Uint8Array = key): Buffer {
  return Buffer.concat(sealDatagram(k, h, payload))
}

/** The payload if the bytes parse and authenticate under `k`, else the reason it did not. */
function open (bytes: Uint8Array, k: Uint8Array = key): Uint8Array | 'malformed' | 'auth' {
  const parsed = parseDatagram(bytes)
  if (!parsed.ok) return 'malformed'
  return openDatagram(k, parsed.datagram) ?? 'auth'
}

describe('datagram sealing', () => {
  it('round-trips payloads from empty to the maximum, adding exactly the overhead', () => {
    for (const size of [0, 1, 100, 1_400, DGRAM_MAX_PAYLOAD]) {
      const payload = randomBytes(size)
      const parts = sealDatagram(key, header, payload)
      assert.equal(parts[0]?.byteLength, DGRAM_HEADER_LENGTH)
      assert.equal(parts[1]?.byteLength, size)
      assert.equal(parts[2]?.byteLength, DGRAM_TAG_LENGTH)
      const bytes = Buffer.concat(parts)
      assert.equal(bytes.byteLength, size + DGRAM_OVERHEAD)
      const parsed = parseDatagram(bytes)
      assert.ok(parsed.ok)
      assert.deepEqual(parsed.datagram.header, { senderId: Buffer.from(senderId), counter: 7, timestamp: header.timestamp })
      assert.deepEqual(Buffer.from(openDatagram(key, parsed.datagram) ?? []), payload)
    }
  })

  it('encrypts: the payload does not appear in the datagram, and another counter gives other bytes', () => {
    const payload = Buffer.from('ping from node-1 to node-2, probe sequence 42'.repeat(3))
    const a = seal(payload)
    const b = seal(payload, { ...header, counter: 8 })
    assert.equal(a.indexOf(payload.subarray(0, 16)), -1)
    assert.notDeepEqual(a.subarray(DGRAM_HEADER_LENGTH), b.subarray(DGRAM_HEADER_LENGTH))
  })

  it('carries counters and timestamps up to 2^53 - 1 and refuses values it cannot carry', () => {
    const big = { ...header, counter: Number.MAX_SAFE_INTEGER, timestamp: Number.MAX_SAFE_INTEGER }
    const parsed = parseDatagram(seal(Buffer.from('x'), big))
    assert.ok(parsed.ok)
    assert.equal(parsed.datagram.header.counter, Number.MAX_SAFE_INTEGER)
    assert.equal(parsed.datagram.header.timestamp, Number.MAX_SAFE_INTEGER)
    for (const counter of [-1, 1.5, 2 ** 53, Number.NaN]) {
      assert.throws(() => seal(Buffer.alloc(1), { ...header, counter }), RangeError)
    }
    assert.throws(() => seal(Buffer.alloc(1), { ...header, senderId: new Uint8Array(15) }), TypeError)
  })

  it('derives a distinct key per sender id and per secret, never one of the TCP protector\'s', () => {
    const other = deriveSenderKey(secret, newSenderId())
    assert.notDeepEqual(other, key)
    assert.notDeepEqual(deriveSenderKey(generateSecret(), senderId), key)
    assert.notEqual(DGRAM_HKDF_INFO_SENDER, PSK_HKDF_INFO_AUTH)
    assert.notEqual(DGRAM_HKDF_INFO_SENDER, PSK_HKDF_INFO_STREAM)
    // the protector's keys from the same secret, even with the sender id as their salt
    for (const info of [PSK_HKDF_INFO_AUTH, PSK_HKDF_INFO_STREAM]) {
      for (const salt of [Buffer.alloc(0), Buffer.from(senderId)]) {
        assert.notDeepEqual(Buffer.from(hkdfSync('sha256', secret, salt, info, 32)), key)
      }
    }
    assert.throws(() => deriveSenderKey(new Uint8Array(31), senderId), TypeError)
  })

  it('refuses a datagram sealed under another cluster secret', () => {
    const strangerKey = deriveSenderKey(generateSecret(), senderId)
    assert.equal(open(seal(Buffer.from('hello'), header, strangerKey)), 'auth')
  })

  it('refuses every single-bit flip anywhere in the datagram', () => {
    const bytes = seal(Buffer.from('a ping of some length, with gossip attached'))
    assert.ok(open(bytes) instanceof Uint8Array)
    for (let bit = 0; bit < bytes.byteLength * 8; bit++) {
      const flipped = Buffer.from(bytes)
      flipped[bit >>> 3] = (flipped[bit >>> 3] ?? 0) ^ (1 << (bit & 7))
      const result = open(flipped)
      assert.ok(result === 'malformed' || result === 'auth', `bit ${bit} flipped was accepted`)
    }
  })

  it('refuses every truncation and every extension', () => {
    const bytes = seal(Buffer.from('some payload'))
    for (let len = 0; len < bytes.byteLength; len++) {
      const result = open(bytes.subarray(0, len))
      assert.ok(len < DGRAM_OVERHEAD ? result === 'malformed' : result === 'auth', `truncated to ${len}: ${String(result)}`)
    }
    assert.equal(open(Buffer.concat([bytes, Buffer.from([0])])), 'auth')
  })

  it('names the problem with malformed framing and never throws on random bytes', () => {
    const bytes = seal(Buffer.from('v'))
    const wrongVersion = Buffer.from(bytes)
    wrongVersion[0] = 2
    const parsed = parseDatagram(wrongVersion)
    assert.ok(!parsed.ok && /unknown datagram version 2/.test(parsed.detail))
    const hugeCounter = Buffer.from(bytes)
    hugeCounter.fill(0xff, 17, 25)
    const p2 = parseDatagram(hugeCounter)
    assert.ok(!p2.ok && /counter/.test(p2.detail))
    for (let i = 0; i < 2_000; i++) {
      const junk = randomBytes(i % 200)
      if (i % 2 === 0 && junk.byteLength > 0) junk[0] = 1
      const result = open(junk)
      assert.ok(result === 'malformed' || result === 'auth')
    }
  })
})
