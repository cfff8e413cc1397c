/**
 * Signed envelopes for application broadcasts (manager claims, replica revisions): the
 * author's 64-byte Ed25519 signature followed by the payload. Anyone can relay one and anyone
 * can check it against the author's peer id, so a relay cannot forge or alter it. Ed25519 in
 * @libp2p/crypto signs and verifies synchronously on Node (node:crypto), which the broadcast
 * path relies on: it validates before the membership core sees a message.
 */

import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'

/** Length of an Ed25519 signature. */
const SIG_BYTES = 64

/** Sign `payload` with `key` and return signature || payload. */
export function sealEnvelope (key: PrivateKey, payload: Uint8Array): Uint8Array {
  const sig = key.sign(payload)
  if (sig instanceof Promise) throw new Error('signing key must sign synchronously (Ed25519)')
  const out = new Uint8Array(SIG_BYTES + payload.byteLength)
  out.set(sig, 0)
  out.set(payload, SIG_BYTES)
  return out
}

/** Split an envelope; null when it is too short to hold a signature and a payload. */
export function openEnvelope (bytes: Uint8Array): { sig: Uint8Array, payload: Uint8Array } | null {
  if (bytes.byteLength <= SIG_BYTES) return null
  return { sig: bytes.subarray(0, SIG_BYTES), payload: bytes.subarray(SIG_BYTES) }
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32-byte key follows. */
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])

/** Authors' public keys remembered (null: the author string names no Ed25519 key); oldest out first. */
const MAX_KEYS = 16_384
const keys = new Map<string, KeyObject | null>()

/**
 * The node:crypto key of `author` (a peer id string), made once per author. @libp2p/crypto
 * parses the peer id and imports the key from JWK on every verify: at 64 members that was the
 * largest part of a joiner's CPU (docs/benchmarks.md, "A late joiner's CPU"). Only Ed25519
 * peer ids are agents (their keys sign synchronously); any other is no author.
 */
function publicKeyOf (author: string): KeyObject | null {
  const known = keys.get(author)
  if (known !== undefined) return known
  let key: KeyObject | null = null
  try {
    const pk = peerIdFromString(author).publicKey
    if (pk?.type === 'Ed25519') {
      const der = new Uint8Array(ED25519_SPKI_PREFIX.byteLength + pk.raw.byteLength)
      der.set(ED25519_SPKI_PREFIX, 0)
      der.set(pk.raw, ED25519_SPKI_PREFIX.byteLength)
      key = createPublicKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'spki' })
    }
  } catch {
    key = null
  }
  if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value as string)
  keys.set(author, key)
  return key
}

/** True when `sig` is `author`'s Ed25519 signature over `payload`; false for any malformed input. */
export function verifiedBy (author: string, payload: Uint8Array, sig: Uint8Array): boolean {
  if (sig.byteLength !== SIG_BYTES) return false
  const key = publicKeyOf(author)
  if (key === null) return false
  try {
    return verify(null, payload, key, sig)
  } catch {
    return false
  }
}
