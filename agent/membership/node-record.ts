/**
 * Signed node records: a node signs what it says about itself (name, addresses, labels,
 * facts, incarnation, alive/left) with its libp2p Ed25519 key. Anyone can relay the record
 * and anyone can verify it against the peer id, so facts such as SSH host keys are
 * authenticated end to end, not just hop by hop.
 */

import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { decodeRecordPayload, type NodeRecord, type SignedRecord, type WireResult } from '../../protocol/membership-wire.js'

/** Sign a record with the node's private key. */
export async function signRecord (record: NodeRecord, key: PrivateKey): Promise<SignedRecord> {
  const payload = JSON.stringify(record)
  const sig = await key.sign(new TextEncoder().encode(payload))
  return { payload, sig: Buffer.from(sig).toString('base64') }
}

/** Decode a signed record and verify its signature against the peer id it names. */
export async function verifyRecord (signed: SignedRecord): Promise<WireResult<NodeRecord>> {
  const decoded = decodeRecordPayload(signed.payload)
  if (!decoded.ok) return decoded
  let publicKey
  try {
    publicKey = peerIdFromString(decoded.value.peerId).publicKey
  } catch {
    return { ok: false, reason: 'record.peerId cannot be parsed' }
  }
  if (publicKey === undefined) return { ok: false, reason: 'record.peerId does not embed a public key' }
  const valid = await publicKey.verify(new TextEncoder().encode(signed.payload), Buffer.from(signed.sig, 'base64'))
  return valid ? decoded : { ok: false, reason: `bad signature on the record of ${decoded.value.peerId}` }
}
