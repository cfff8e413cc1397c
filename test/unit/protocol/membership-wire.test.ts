import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { decodeRecordPayload, MAX_RECORD_BYTES } from '../../../protocol/membership-wire.js'

const PEER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'

function validRecord (): Record<string, unknown> {
  return { v: 1, name: 'node-1', peerId: PEER, incarnation: 3, state: 'alive', addrs: ['/ip4/10.0.0.1/tcp/7946'], labels: { zone: 'a' }, managerEligible: true, facts: null, signedAt: 1 }
}

describe('membership record decoder', () => {
  it('accepts a well-formed record', () => {
    assert.equal(decodeRecordPayload(JSON.stringify(validRecord())).ok, true)
  })

  it('refuses an oversized record with a reason instead of parsing it', () => {
    const r = decodeRecordPayload(JSON.stringify({ ...validRecord(), pad: 'x'.repeat(MAX_RECORD_BYTES) }))
    assert.equal(r.ok, false)
    assert.match(r.ok ? '' : r.reason, /exceeds/)
  })

  it('refuses records with hostile names, labels, incarnations and addresses', () => {
    const bad: Array<Record<string, unknown>> = [
      { name: 'a;rm -rf /' }, { name: '$(reboot)' }, { name: '' }, { labels: { 'k': 'v;`id`' } },
      { labels: { 'bad key': 'v' } }, { incarnation: -1 }, { incarnation: 1.5 }, { incarnation: 2 ** 60 }, { incarnation: 2 ** 32 },
      { addrs: ['/ip4/1.2.3.4/tcp/1/p2p/x'] }, { state: 'dead' }, { v: 2 }, { peerId: 'not a peer' },
      { facts: { hostname: 1 } }, { managerEligible: 'yes' }
    ]
    for (const patch of bad) {
      const r = decodeRecordPayload(JSON.stringify({ ...validRecord(), ...patch }))
      assert.equal(r.ok, false, `should refuse ${JSON.stringify(patch)}`)
    }
  })

  it('never throws on thousands of random and mutated inputs', () => {
    const seed = new TextEncoder().encode(JSON.stringify(validRecord()))
    for (let i = 0; i < 5000; i++) {
      const input = i % 2 === 0 ? randomBytes(i % 300) : Uint8Array.from(seed, b => (Math.random() < 0.02 ? randomBytes(1)[0] as number : b))
      const r = decodeRecordPayload(new TextDecoder().decode(input))
      assert.equal(typeof r.ok, 'boolean')
    }
  })
})
