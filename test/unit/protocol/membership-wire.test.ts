import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createHash } from 'node:crypto'
import { decodeFacts, decodeRecordPayload, encodeRecordPayload, MAX_FACTS_BYTES, MAX_RECORD_BYTES, type NodeRecord } from '../../../protocol/membership-wire.js'

const PEER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'

function validRecord (): NodeRecord {
  return { v: 2, name: 'node-1', peerId: PEER, incarnation: 3, state: 'alive', addrs: ['/ip4/10.0.0.1/tcp/7946'], labels: { zone: 'a' }, managerEligible: true, agentVersion: '0.1.0', boot: { id: '8c1e0b7e-5e0f-4b1a-9a3e-2f4d2c1b0a99', agentStartedAt: '2026-12-06T07:00:00.000Z' }, facts: DIGEST }
}
/** The record's wire object (short keys), for patches the typed encoder would not produce. */
const wire = (): Record<string, unknown> => JSON.parse(encodeRecordPayload(validRecord())) as Record<string, unknown>

const FACTS = {
  hostname: 'n1', addresses: ['10.0.0.1'], os: { platform: 'linux', release: '6.1', distro: 'debian' }, kernel: '6.1', arch: 'x64',
  cpus: 2, memoryBytes: 1e9, disks: [{ mount: '/', sizeBytes: 1e10, freeBytes: 1e9 }], agentVersion: '0.1.0',
  sshHostKeys: [{ type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIGq' }], boot: { id: 'b', agentStartedAt: '2026-01-01T00:00:00Z' }
}
const DIGEST = createHash('sha256').update(JSON.stringify(FACTS)).digest().subarray(0, 16).toString('base64url')

describe('membership record decoder', () => {
  it('accepts a well-formed record', () => {
    const r = decodeRecordPayload(encodeRecordPayload(validRecord()), PEER)
    assert.deepEqual(r.ok ? r.value : r.reason, validRecord(), 'round trip')
  })

  it('accepts a record without facts or boot yet, and is small enough to share a datagram', () => {
    assert.equal(decodeRecordPayload(encodeRecordPayload({ ...validRecord(), facts: null, boot: null }), PEER).ok, true)
    // The point of the small record: three alive updates per 1,400-byte datagram (with the signature and the id beside it).
    const size = encodeRecordPayload(validRecord()).length
    assert.ok(size < 260, `record of ${size} characters`)
  })

  it('round-trips an eligibility attestation, 94 characters more, only on eligible records', () => {
    const attestation = randomBytes(64).toString('base64url')
    const withIt = { ...validRecord(), attestation }
    const r = decodeRecordPayload(encodeRecordPayload(withIt), PEER)
    assert.deepEqual(r.ok ? r.value : r.reason, withIt)
    const grown = encodeRecordPayload(withIt).length - encodeRecordPayload(validRecord()).length
    assert.equal(grown, 94, 'the field costs `,"ea":"<86>"`')
    assert.equal('attestation' in (decodeRecordPayload(encodeRecordPayload(validRecord()), PEER) as { value: object }).value, false, 'absent stays absent')
    const bad: Array<Record<string, unknown>> = [
      { ea: attestation, e: false }, { ea: attestation.slice(1) }, { ea: attestation + 'A' }, { ea: 1 }, { ea: null },
      { ea: attestation.slice(0, 85) + 'B' }, { ea: Buffer.from(randomBytes(64)).toString('base64') }
    ]
    for (const patch of bad) {
      const d = decodeRecordPayload(JSON.stringify({ ...wire(), ...patch }), PEER)
      assert.equal(d.ok, false, `should refuse ${JSON.stringify(patch)}`)
      assert.match(d.ok ? '' : d.reason, /attestation/)
    }
  })

  it('refuses an oversized record with a reason instead of parsing it', () => {
    const r = decodeRecordPayload(JSON.stringify({ ...wire(), pad: 'x'.repeat(MAX_RECORD_BYTES) }), PEER)
    assert.equal(r.ok, false)
    assert.match(r.ok ? '' : r.reason, /exceeds/)
  })

  it('refuses records with hostile names, labels, incarnations and addresses', () => {
    const bad: Array<Record<string, unknown>> = [
      { n: 'a;rm -rf /' }, { n: '$(reboot)' }, { n: '' }, { l: { 'k': 'v;`id`' } },
      { l: { 'bad key': 'v' } }, { i: -1 }, { i: 1.5 }, { i: 2 ** 60 }, { i: 2 ** 32 },
      { a: ['/ip4/1.2.3.4/tcp/1/p2p/x'] }, { s: 'dead' }, { v: 1 }, { v: 3 }, { v: { toString: 1 } },
      { f: { hostname: 1 } }, { f: FACTS }, { f: 'short' }, { f: DIGEST + 'x' }, { e: 'yes' },
      { av: 1 }, { av: 'x'.repeat(65) }, { b: { id: 1 } }, { b: 'b' }, { b: ['x'.repeat(65), ''] }, { b: ['a'] }, { b: [1, 2] }
    ]
    for (const patch of bad) {
      const r = decodeRecordPayload(JSON.stringify({ ...wire(), ...patch }), PEER)
      assert.equal(r.ok, false, `should refuse ${JSON.stringify(patch)}`)
    }
    assert.equal(decodeRecordPayload(encodeRecordPayload(validRecord()), 'not a peer').ok, false)
  })

  it('never throws on thousands of random and mutated inputs', () => {
    const seed = new TextEncoder().encode(encodeRecordPayload(validRecord()))
    for (let i = 0; i < 5000; i++) {
      const input = i % 2 === 0 ? randomBytes(i % 300) : Uint8Array.from(seed, b => (Math.random() < 0.02 ? randomBytes(1)[0] as number : b))
      const r = decodeRecordPayload(new TextDecoder().decode(input), PEER)
      assert.equal(typeof r.ok, 'boolean')
    }
  })
})

describe('facts decoder', () => {
  const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
  it('accepts well-formed facts', () => {
    assert.equal(decodeFacts(enc(FACTS)).ok, true)
    const { boot: _boot, ...noBoot } = FACTS
    assert.equal(decodeFacts(enc(noBoot)).ok, true)
  })

  it('refuses malformed, hostile and oversized facts with a reason', () => {
    const bad: unknown[] = [
      null, [], 'x', { ...FACTS, hostname: 1 }, { ...FACTS, cpus: -1 }, { ...FACTS, sshHostKeys: [{ type: 'x', key: 'AAAA' }] },
      { ...FACTS, sshHostKeys: [{ type: 'ssh-ed25519', key: 'not base64!' }] }, { ...FACTS, disks: 'none' }, { ...FACTS, boot: { id: 1 } }
    ]
    for (const v of bad) assert.equal(decodeFacts(enc(v)).ok, false, JSON.stringify(v))
    assert.equal(decodeFacts(new Uint8Array([0xff, 0xfe])).ok, false)
    const big = decodeFacts(enc({ ...FACTS, hostname: 'x'.repeat(MAX_FACTS_BYTES) }))
    assert.equal(big.ok, false)
    assert.match(big.ok ? '' : big.reason, /exceed/)
  })

  it('never throws on random and mutated inputs', () => {
    const seed = enc(FACTS)
    for (let i = 0; i < 3000; i++) {
      const input = i % 2 === 0 ? randomBytes(i % 300) : Uint8Array.from(seed, b => (Math.random() < 0.02 ? randomBytes(1)[0] as number : b))
      assert.equal(typeof decodeFacts(input).ok, 'boolean')
    }
  })
})
