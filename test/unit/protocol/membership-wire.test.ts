import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import {
  decodeGossip, decodeProbeRequest, decodeProbeResponse, decodeRecordPayload, decodeSync, encodeWire, MAX_GOSSIP_BYTES
} from '../../../protocol/membership-wire.js'

const PEER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))

function validRecord (): Record<string, unknown> {
  return { v: 1, name: 'node-1', peerId: PEER, incarnation: 3, state: 'alive', addrs: ['/ip4/10.0.0.1/tcp/7946'], labels: { zone: 'a' }, managerEligible: true, facts: null, signedAt: 1 }
}

describe('membership wire decoders', () => {
  it('accepts well-formed messages of every kind', () => {
    assert.equal(decodeGossip(encodeWire({ t: 'suspect', peer: PEER, inc: 1, from: PEER })).ok, true)
    assert.equal(decodeGossip(encodeWire({ t: 'record', rec: { payload: '{}', sig: 'A'.repeat(88) } })).ok, true)
    assert.equal(decodeProbeRequest(encodeWire({ t: 'ping-req', seq: 1, target: PEER, timeoutMs: 300 })).ok, true)
    assert.equal(decodeProbeResponse(encodeWire({ t: 'nack', seq: 1 })).ok, true)
    assert.equal(decodeSync(encodeWire({ t: 'sync', entries: [] })).ok, true)
    assert.equal(decodeRecordPayload(JSON.stringify(validRecord())).ok, true)
  })

  it('refuses oversized gossip with a reason instead of parsing it', () => {
    const r = decodeGossip(new Uint8Array(MAX_GOSSIP_BYTES + 1))
    assert.equal(r.ok, false)
    assert.match(r.ok ? '' : r.reason, /exceeds/)
  })

  it('refuses records with hostile names, labels, incarnations and addresses', () => {
    const bad: Array<Record<string, unknown>> = [
      { name: 'a;rm -rf /' }, { name: '$(reboot)' }, { name: '' }, { labels: { 'k': 'v;`id`' } },
      { labels: { 'bad key': 'v' } }, { incarnation: -1 }, { incarnation: 1.5 }, { incarnation: 2 ** 60 },
      { addrs: ['/ip4/1.2.3.4/tcp/1/p2p/x'] }, { state: 'dead' }, { v: 2 }, { peerId: 'not a peer' },
      { facts: { hostname: 1 } }, { managerEligible: 'yes' }
    ]
    for (const patch of bad) {
      const r = decodeRecordPayload(JSON.stringify({ ...validRecord(), ...patch }))
      assert.equal(r.ok, false, `should refuse ${JSON.stringify(patch)}`)
    }
  })

  it('refuses claims with malformed fields', () => {
    for (const m of [{ t: 'dead', peer: 'x', inc: 1, from: PEER }, { t: 'dead', peer: PEER, inc: '1', from: PEER }, { t: 'hello' }, [], null, 42]) {
      assert.equal(decodeGossip(enc(m)).ok, false, JSON.stringify(m))
    }
  })

  it('never throws on thousands of random and mutated inputs', () => {
    const seed = encodeWire({ t: 'sync', entries: [{ rec: { payload: JSON.stringify(validRecord()), sig: 'A'.repeat(88) }, status: 'alive', inc: 3 }] })
    for (let i = 0; i < 5000; i++) {
      const input = i % 2 === 0 ? randomBytes(i % 300) : Uint8Array.from(seed, b => (Math.random() < 0.02 ? randomBytes(1)[0] as number : b))
      for (const decode of [decodeGossip, decodeProbeRequest, decodeProbeResponse, decodeSync]) {
        const r = decode(input)
        assert.equal(typeof r.ok, 'boolean')
      }
      decodeRecordPayload(new TextDecoder().decode(input))
    }
  })
})
