/**
 * Manager eligibility attested by the cluster SSH CA, not self-asserted: an eligible agent
 * signs, with the CA private key only eligible nodes hold, a domain-separated statement naming
 * its peer id and node name, and carries the 64-byte signature in its signed member record.
 * Every agent configured with the CA's public key counts a member as eligible only when that
 * signature verifies for the member's own peer id and name (agent/membership/eligibility-gate.ts),
 * so a worker that restarts itself as eligible stays a worker everywhere (README, "Trust model").
 */

import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import type { SshEd25519PrivateKey } from './ssh-ed25519-key.js'

/** Length of an Ed25519 signature. */
export const ATTESTATION_BYTES = 64

/** What the CA signs: a domain tag, so the signature means nothing in any other protocol. */
export function attestationPayload (peerId: string, nodeName: string): Uint8Array {
  return new TextEncoder().encode(`clusterd-eligible/1\n${peerId}\n${nodeName}`)
}

/** The CA's attestation that `peerId` under `nodeName` may be manager. */
export function signAttestation (ca: SshEd25519PrivateKey, peerId: string, nodeName: string): Uint8Array {
  return new Uint8Array(sign(null, attestationPayload(peerId, nodeName), ca.key))
}

/** Checks attestations against one CA public key. */
export class AttestationVerifier {
  private readonly key: KeyObject

  /** `caPublicKey`: the 32-byte Ed25519 key of ssh-ca.pub. Throws if it is not 32 bytes. */
  constructor (caPublicKey: Uint8Array) {
    if (caPublicKey.byteLength !== 32) throw new Error('the CA public key must be 32 bytes')
    this.key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(caPublicKey).toString('base64url') }, format: 'jwk' })
  }

  /** True when `sig` is the CA's attestation for `peerId` and `nodeName`; false for any malformed input. */
  verify (peerId: string, nodeName: string, sig: Uint8Array): boolean {
    if (sig.byteLength !== ATTESTATION_BYTES) return false
    try {
      return verify(null, attestationPayload(peerId, nodeName), this.key, sig)
    } catch {
      return false
    }
  }
}
