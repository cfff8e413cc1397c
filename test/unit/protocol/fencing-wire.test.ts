import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import {
  MAX_LEASE_FRAME_BYTES, MAX_RIVAL_CLAIM_CHARS, claimBytes, decodeLeaseReply, decodeLeaseRequest, encodeLeaseMessage, type LeaseClaim, type LeaseReply
} from '../../../protocol/fencing-wire.js'
import { claimSigner } from '../../../manager/fencing/claim-signer.js'

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v))

describe('fencing wire', () => {
  it('a signed request round-trips and its signature verifies against the holder peer id only', async () => {
    const key = await generateKeyPair('Ed25519')
    const holder = peerIdFromPrivateKey(key).toString()
    const claim: LeaseClaim = { op: 'acquire', epoch: 7, holder, node: 'web1', leaseId: 'ab'.repeat(16), at: Date.now() }
    const req = await claimSigner(key)(claim)
    const decoded = decodeLeaseRequest(encodeLeaseMessage(req))
    assert.ok(decoded.ok)
    assert.deepEqual(decoded.value, req)
    const pub = peerIdFromString(holder).publicKey
    assert.ok(pub !== undefined)
    assert.equal(await pub.verify(claimBytes(decoded.value.claim), Buffer.from(decoded.value.sig, 'base64')), true)
    // Any field changed: the signature no longer covers it.
    for (const changed of [{ ...claim, epoch: 8 }, { ...claim, node: 'web2' }, { ...claim, op: 'renew' as const }, { ...claim, leaseId: 'cd'.repeat(16) }]) {
      assert.equal(await pub.verify(claimBytes(changed), Buffer.from(req.sig, 'base64')), false, JSON.stringify(changed))
    }
  })

  it('rejects malformed and oversized requests with a reason, never throwing', () => {
    const claim = { op: 'acquire', epoch: 1, holder: '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', node: 'web1', leaseId: 'a'.repeat(32), at: 1 }
    const sig = 'A'.repeat(86) + '=='
    const bad: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(MAX_LEASE_FRAME_BYTES + 1), /too large/],
      [enc(JSON.stringify({ claim, sig, pad: 'x'.repeat(MAX_LEASE_FRAME_BYTES) })), /too large/],
      [new Uint8Array([0xff, 0xfe, 0x7b]), /not UTF-8 JSON/],
      [enc('[1,2]'), /not an object/],
      [enc('null'), /not an object/],
      [enc({ sig }), /claim is not an object/],
      [enc({ claim: { ...claim, op: 'steal' }, sig }), /claim.op/],
      [enc({ claim: { ...claim, epoch: 0 }, sig }), /claim.epoch/],
      [enc({ claim: { ...claim, epoch: 1.5 }, sig }), /claim.epoch/],
      [enc({ claim: { ...claim, epoch: '1' }, sig }), /claim.epoch/],
      [enc({ claim: { ...claim, holder: 'me' }, sig }), /claim.holder/],
      [enc({ claim: { ...claim, node: '' }, sig }), /claim.node/],
      [enc({ claim: { ...claim, node: 'a\nb' }, sig }), /claim.node/],
      [enc({ claim: { ...claim, leaseId: '../../etc' }, sig }), /claim.leaseId/],
      [enc({ claim: { ...claim, at: -1 }, sig }), /claim.at/],
      [enc({ claim, sig: 'short' }), /sig/],
      [enc({ claim, sig: 42 }), /sig/]
    ]
    for (const [bytes, reason] of bad) {
      const d = decodeLeaseRequest(bytes)
      assert.equal(d.ok, false)
      assert.match(d.ok ? '' : d.reason, reason)
    }
  })

  it('decodes every reply kind and rejects malformed replies', () => {
    const lease = { epoch: 2, holder: '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', leaseId: 'f'.repeat(32), grantedAt: 10, expiresAt: 20 }
    const good: LeaseReply[] = [
      { t: 'granted', lease, leaseFile: '/var/lib/clusterd/lease.json' },
      { t: 'released' },
      { t: 'refused', code: 'CLUSTERD_ERR_LEASE_BUSY', reason: 'busy', highestEpoch: 3, retryAfterMs: 100 },
      { t: 'refused', code: 'CLUSTERD_ERR_STALE_EPOCH', reason: 'stale', highestEpoch: 3 },
      { t: 'refused', code: 'CLUSTERD_ERR_LEASE_REFUSED', reason: 'epoch 3 belongs to manager X', highestEpoch: 3, rivalClaim: Buffer.from('a signed claim').toString('base64') }
    ]
    for (const r of good) assert.deepEqual(decodeLeaseReply(encodeLeaseMessage(r)), { ok: true, value: r })
    const bad: unknown[] = [
      { t: 'granted', lease, leaseFile: 'relative/path' },
      { t: 'granted', lease: { ...lease, expiresAt: 5 }, leaseFile: '/x' },
      { t: 'granted', lease: { ...lease, holder: 1 }, leaseFile: '/x' },
      { t: 'refused', code: 'CLUSTERD_ERR_INTERNAL', reason: 'x', highestEpoch: 1 },
      { t: 'refused', code: 'CLUSTERD_ERR_LEASE_BUSY', reason: 'x', highestEpoch: -1 },
      { t: 'refused', code: 'CLUSTERD_ERR_LEASE_BUSY', reason: 'x', highestEpoch: 1, retryAfterMs: 'soon' },
      { t: 'refused', code: 'CLUSTERD_ERR_LEASE_REFUSED', reason: 'x', highestEpoch: 1, rivalClaim: 'not base64!' },
      { t: 'refused', code: 'CLUSTERD_ERR_LEASE_REFUSED', reason: 'x', highestEpoch: 1, rivalClaim: 'abc' },
      { t: 'refused', code: 'CLUSTERD_ERR_LEASE_REFUSED', reason: 'x', highestEpoch: 1, rivalClaim: 7 },
      { t: 'refused', code: 'CLUSTERD_ERR_LEASE_REFUSED', reason: 'x', highestEpoch: 1, rivalClaim: 'A'.repeat(MAX_RIVAL_CLAIM_CHARS + 4) },
      { t: 'ok' }
    ]
    for (const r of bad) assert.equal(decodeLeaseReply(enc(r)).ok, false, JSON.stringify(r))
    assert.equal(decodeLeaseReply(new Uint8Array(MAX_LEASE_FRAME_BYTES + 1)).ok, false)
  })
})
