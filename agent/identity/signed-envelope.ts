/**
 * Signed envelopes for application broadcasts (manager claims, replica revisions): the
 * author's 64-byte Ed25519 signature followed by the payload. Anyone can relay one and anyone
 * can check it against the author's peer id, so a relay cannot forge or alter it. Ed25519 in
 * @libp2p/crypto signs and verifies synchronously on Node (node:crypto), which the broadcast
 * path relies on: it validates before the membership core sees a message.
 */

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

/** True when `sig` is `author`'s signature over `payload`; false for any malformed input. */
export function verifiedBy (author: string, payload: Uint8Array, sig: Uint8Array): boolean {
  try {
    const key = peerIdFromString(author).publicKey
    if (key === undefined) return false
    const ok = key.verify(payload, sig)
    return ok === true
  } catch {
    return false
  }
}
