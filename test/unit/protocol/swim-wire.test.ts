import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Prng, decodesWithoutThrowing, fuzzSeed, randomBytes } from '../../harness/fuzz.js'
import type { AliveInfo, Datagram, SyncState } from '../../../agent/membership/core/types.js'
import {
  DATAGRAM_BUDGET, MAX_DATAGRAM_BYTES, broadcastSize, datagramSize, decodeDatagram, decodeSyncState, encodeDatagram,
  encodeSyncState, syncStateSize
} from '../../../protocol/swim-wire.js'

const SEED = fuzzSeed(20261206)
const PEER = '12D3KooWAbcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTU'
const PEER2 = '12D3KooWZyxwvutsrqponmkjihgfedcbaZYXWVUTSRQPNMLKJHG'
const info: AliveInfo = { id: PEER, name: 'node-1', incarnation: 7, addr: { host: '10.0.0.1', port: 7946 }, eligible: true, record: new Uint8Array(300).fill(9), left: false }

const datagrams: Datagram[] = [
  { t: 'ping', seq: 1, from: PEER, target: PEER2, gossip: [] },
  { t: 'ping', seq: 2 ** 32 - 1, from: PEER, target: PEER2, gossip: [{ t: 'alive', info }, { t: 'suspect', id: PEER2, incarnation: 3, from: PEER }] },
  { t: 'ack', seq: 0, from: PEER2, gossip: [{ t: 'dead', id: PEER, incarnation: 0, from: PEER2 }, { t: 'user', key: 'claim', version: 4, data: new Uint8Array([1, 2, 3]) }] },
  { t: 'ping-req', seq: 5, from: PEER, target: PEER2, targetAddr: { host: 'fd00::1', port: 1 }, gossip: [{ t: 'alive', info: { ...info, left: true, eligible: false } }] },
  { t: 'nack', seq: 6, from: PEER2 },
  { t: 'gossip', from: PEER, gossip: [{ t: 'user', key: 'rev/' + PEER, version: 0, data: new Uint8Array(0) }] }
]
const sync: SyncState = {
  from: PEER,
  members: [{ info, status: 'alive', incarnation: 7 }, { info: { ...info, id: PEER2, name: 'node-2' }, status: 'failed', incarnation: 7 }],
  user: [{ key: 'claim', version: 9, data: new Uint8Array(100).fill(1) }],
  join: true
}

/** Decoding must not throw and must give a reason when it refuses. */
const check = <T>(decode: (b: Uint8Array) => { ok: true, value: T } | { ok: false, reason: string }, input: Uint8Array, where: string): boolean =>
  decodesWithoutThrowing(decode, input, where, SEED)

describe('swim-wire codec', () => {
  it('round-trips every datagram type, and datagramSize is the encoded length', () => {
    for (const d of datagrams) {
      const bytes = encodeDatagram(d)
      assert.equal(bytes.byteLength, datagramSize(d), d.t)
      const back = decodeDatagram(bytes)
      assert.ok(back.ok, back.ok ? '' : back.reason)
      assert.deepEqual(back.value, d)
    }
    assert.equal(broadcastSize({ t: 'alive', info }) + datagramSize({ t: 'gossip', from: PEER, gossip: [] }), datagramSize({ t: 'gossip', from: PEER, gossip: [{ t: 'alive', info }] }))
  })

  it('round-trips a push-pull state with a null sender', () => {
    for (const s of [sync, { ...sync, from: null, join: false }]) {
      const bytes = encodeSyncState(s)
      assert.equal(bytes.byteLength, syncStateSize(s))
      const back = decodeSyncState(bytes)
      assert.ok(back.ok, back.ok ? '' : back.reason)
      assert.deepEqual(back.value, s)
    }
  })

  it('is compact: besides the record and the five ids, a ping with an alive and a suspect costs under 64 bytes', () => {
    const n = encodeDatagram(datagrams[1] as Datagram).byteLength
    const ids = 5 * (PEER.length + 1)
    assert.ok(n - 300 - ids < 64, `${n} bytes`)
    assert.ok(n < DATAGRAM_BUDGET)
  })

  it('refuses numbers out of [0, 2^32) at encode time (a caller bug), so none reach the wire', () => {
    assert.throws(() => encodeDatagram({ t: 'nack', seq: 2 ** 32, from: PEER }))
    assert.throws(() => encodeDatagram({ t: 'nack', seq: -1, from: PEER }))
    assert.throws(() => encodeDatagram({ t: 'ping', seq: 1, from: PEER, target: PEER2, gossip: [{ t: 'suspect', id: PEER, incarnation: 1.5, from: PEER2 }] }))
  })

  it('refuses oversized input, trailing bytes, unknown types, bad strings, zero ports and lying counts', () => {
    const ping = encodeDatagram(datagrams[1] as Datagram)
    assert.equal(decodeDatagram(new Uint8Array(MAX_DATAGRAM_BYTES + 1)).ok, false)
    assert.equal(decodeDatagram(ping, ping.byteLength - 1).ok, false, 'a smaller configured max')
    assert.equal(decodeDatagram(Uint8Array.from([...ping, 0])).ok, false)
    assert.equal(decodeDatagram(Uint8Array.from([2, ...ping.subarray(1)])).ok, false, 'version')
    assert.equal(decodeDatagram(Uint8Array.from([1, 9, ...ping.subarray(2)])).ok, false, 'type')
    const badId = encodeDatagram({ t: 'nack', seq: 1, from: 'x' })
    badId[7] = 0x20
    assert.equal(decodeDatagram(badId).ok, false, 'space in an id')
    const req = encodeDatagram(datagrams[3] as Datagram)
    const portAt = 2 + 4 + 1 + PEER.length + 1 + PEER2.length + 1 + 'fd00::1'.length
    req[portAt] = 0; req[portAt + 1] = 0
    assert.equal(decodeDatagram(req).ok, false, 'port 0')
    const gossip = encodeDatagram({ t: 'gossip', from: PEER, gossip: [] })
    gossip[gossip.length - 2] = 0xff; gossip[gossip.length - 1] = 0xff
    assert.equal(decodeDatagram(gossip).ok, false, 'count lies')
    const s = encodeSyncState({ from: PEER, members: [], user: [], join: false })
    s.set([0x7f, 0xff, 0xff, 0xff], s.length - 8)
    assert.equal(decodeSyncState(s).ok, false, 'member count lies')
  })

  it(`survives random and mutated input without throwing (seed ${SEED}; replay with FUZZ_SEED)`, () => {
    const r = new Prng(SEED)
    const valid = [...datagrams.map(d => encodeDatagram(d))]
    const validSync = encodeSyncState(sync)
    let refused = 0
    const cases = 4000
    for (let i = 0; i < cases; i++) {
      let input: Uint8Array
      const kind = i % 4
      if (kind === 0) input = randomBytes(r, 400)
      else if (kind === 1) input = Uint8Array.from([1, 1 + r.int(5), ...randomBytes(r, 200)])
      else {
        const base = kind === 2 ? r.pick(valid) : validSync
        input = Uint8Array.from(base)
        const flips = 1 + r.int(4)
        for (let f = 0; f < flips; f++) input[r.int(input.length)] = r.int(256)
        if (r.chance(0.3)) input = input.subarray(0, r.int(input.length))
      }
      const okD = check(decodeDatagram, input, `datagram case ${i}`)
      const okS = check(decodeSyncState, input, `sync case ${i}`)
      if (!okD && !okS) refused++
    }
    assert.ok(refused > cases / 2, `refused only ${refused} of ${cases}`)
  })
})
