import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { openEnvelope, sealEnvelope, verifiedBy } from '../../../../agent/identity/signed-envelope.js'

interface Author { key: PrivateKey, id: string }

async function author (type: 'Ed25519' | 'secp256k1' = 'Ed25519'): Promise<Author> {
  const key = await generateKeyPair(type)
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('signed envelopes', () => {
  it('verify against their author only, and not once payload or signature changed', async () => {
    const a = await author()
    const b = await author()
    const env = openEnvelope(sealEnvelope(a.key, bytes('revision 7')))
    assert.ok(env !== null)
    assert.equal(verifiedBy(a.id, env.payload, env.sig), true)
    // Twice: the second answer comes from the remembered key, and must be the same.
    assert.equal(verifiedBy(a.id, env.payload, env.sig), true)
    assert.equal(verifiedBy(b.id, env.payload, env.sig), false, 'another author')
    assert.equal(verifiedBy(a.id, bytes('revision 8'), env.sig), false, 'altered payload')
    const sig = Uint8Array.from(env.sig)
    sig[10] = (sig[10] ?? 0) ^ 1
    assert.equal(verifiedBy(a.id, env.payload, sig), false, 'altered signature')
    assert.equal(verifiedBy(a.id, env.payload, env.sig.subarray(0, 63)), false, 'short signature')
    // After a failure the remembered key still verifies the genuine envelope.
    assert.equal(verifiedBy(a.id, env.payload, env.sig), true)
  })

  it('agree with @libp2p/crypto on every author key and envelope', async () => {
    const authors = await Promise.all(Array.from({ length: 8 }, async () => await author()))
    for (const signer of authors) {
      const env = openEnvelope(sealEnvelope(signer.key, bytes(`from ${signer.id}`)))
      assert.ok(env !== null)
      for (const claimed of authors) {
        const expected: boolean = claimed.key.publicKey.verify(env.payload, env.sig) === true
        assert.equal(verifiedBy(claimed.id, env.payload, env.sig), expected, `${signer.id} as ${claimed.id}`)
      }
    }
  })

  it('refuse authors that are no Ed25519 peer id, and malformed ones, without throwing', async () => {
    const a = await author()
    const env = openEnvelope(sealEnvelope(a.key, bytes('x')))
    assert.ok(env !== null)
    const secp = await author('secp256k1')
    assert.equal(verifiedBy(secp.id, env.payload, env.sig), false)
    for (const bad of ['', 'not-a-peer-id', a.id.slice(0, -3), `${a.id}x`]) {
      assert.equal(verifiedBy(bad, env.payload, env.sig), false, JSON.stringify(bad))
      assert.equal(verifiedBy(bad, env.payload, env.sig), false, `${JSON.stringify(bad)}, remembered`)
    }
  })
})
