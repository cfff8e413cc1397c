/**
 * Signed node records: a node signs what it says about itself (name, addresses, labels,
 * eligibility, boot, the digest of its facts, incarnation, alive/left) with its libp2p Ed25519
 * key. Anyone can relay the record and anyone can verify it against the peer id; facts such as
 * SSH host keys, fetched separately, must match the digest, so they are authenticated end to
 * end, not just hop by hop. On the wire a record is a signed envelope
 * (64-byte signature || UTF-8 JSON of the NodeRecord): the opaque `record` of an AliveInfo.
 */

import type { PrivateKey } from '@libp2p/interface'
import { decodeRecordPayload, encodeRecordPayload, type NodeRecord, type WireResult } from '../../protocol/membership-wire.js'
import { openEnvelope, sealEnvelope, verifiedBy } from '../identity/signed-envelope.js'

/** Sign a record with the node's private key (synchronous: Ed25519 in node:crypto). */
export function signRecord (record: NodeRecord, key: PrivateKey): Uint8Array {
  return sealEnvelope(key, new TextEncoder().encode(encodeRecordPayload(record)))
}

/** Decode a signed record travelling under `peerId` and verify its signature against that id. Never throws. */
export function verifyRecord (bytes: Uint8Array, peerId: string): WireResult<NodeRecord> {
  const env = openEnvelope(bytes)
  if (env === null) return { ok: false, reason: 'record is too short to be signed' }
  let payload: string
  try {
    payload = new TextDecoder('utf-8', { fatal: true }).decode(env.payload)
  } catch {
    return { ok: false, reason: 'record payload is not UTF-8' }
  }
  const decoded = decodeRecordPayload(payload, peerId)
  if (!decoded.ok) return decoded
  return verifiedBy(decoded.value.peerId, env.payload, env.sig)
    ? decoded
    : { ok: false, reason: `bad signature on the record of ${decoded.value.peerId}` }
}
