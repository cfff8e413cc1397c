import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createHash } from 'node:crypto'
import { decodeFacts, decodeRecordPayload, MAX_FACTS_BYTES, MAX_RECORD_BYTES } from '../../../protocol/membership-wire.js'

const PEER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'

function validRecord (): Record<string, unknown> {
  return { v: 2, name: 'node-1', peerId: PEER, incarnation: 3, state: 'alive', addrs: ['/ip4/10.0.0.1/tcp/7946'], labels: { zone: 'a' }, managerEligible: true, agentVersion: '0.1.0', boot: { id: 'b-1', agentStartedAt: '2026-12-06T07:00:00.000Z' }, facts: DIGEST, signedAt: 1 }
}

const FACTS = {
  hostname: 'n1', addresses: ['10.0.0.1'], os: { platform: 'linux', release: '6.1', distro: 'debian' }, kernel: '6.1', arch: 'x64',
  cpus: 2, memoryBytes: 1e9, disks: [{ mount: '/', sizeBytes: 1e10, freeBytes: 1e9 }], agentVersion: '0.1.0',
  sshHostKeys: [{ type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIGq' }], boot: { id: 'b', agentStartedAt: '2026-01-01T00:00:00Z' }
}
const DIGEST = createHash('sha256').update(JSON.stringify(FACTS)).digest('base64url')

describe('membership record decoder', () => {
  it('accepts a well-formed record', () => {
    assert.equal(decodeRecordPayload(JSON.stringify(validRecord())).ok, true)
  })

  it('accepts a record without facts or boot yet, and is small enough to share a datagram', () => {
    assert.equal(decodeRecordPayload(JSON.stringify({ ...validRecord(), facts: null, boot: null })).ok, true)
    // The point of the small record: several alive updates per 1,400-byte datagram (signature: 64 bytes more).
    assert.ok(JSON.stringify(validRecord()).length < 400, `record of ${JSON.stringify(validRecord()).length} characters`)
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
      { addrs: ['/ip4/1.2.3.4/tcp/1/p2p/x'] }, { state: 'dead' }, { v: 1 }, { v: 3 }, { peerId: 'not a peer' },
      { facts: { hostname: 1 } }, { facts: FACTS }, { facts: 'short' }, { facts: DIGEST + 'x' }, { managerEligible: 'yes' },
      { agentVersion: 1 }, { agentVersion: 'x'.repeat(65) }, { boot: { id: 1 } }, { boot: 'b' }, { boot: { id: 'x'.repeat(65), agentStartedAt: '' } }
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
