/**
 * Signs lease claims with the manager's libp2p key (the agent's identity), so a node can check
 * that a claim comes from the peer that holds the epoch it names.
 */

import type { PrivateKey } from '@libp2p/interface'
import { claimBytes, type LeaseClaim, type LeaseRequest } from '../../protocol/fencing-wire.js'

/** Turns a claim into a signed request. */
export type ClaimSigner = (claim: LeaseClaim) => Promise<LeaseRequest>

/** A signer over `key`; the claim's holder must be the key's peer id (the node checks it). */
export function claimSigner (key: Pick<PrivateKey, 'sign'>): ClaimSigner {
  return async claim => {
    const sig = await key.sign(claimBytes(claim))
    return { claim, sig: Buffer.from(sig).toString('base64') }
  }
}
