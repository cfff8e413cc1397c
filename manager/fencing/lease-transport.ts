/**
 * Sends one lease request to a node's agent on `/clusterd/lease/1.0.0` and reads its reply.
 * Requests to the manager's own node go to its agent's keeper directly (libp2p does not dial
 * itself). Failures to reach the agent are values, not exceptions.
 */

import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { closeStream } from '../../protocol/streams/close-stream.js'
import {
  LEASE_PROTOCOL, MAX_LEASE_FRAME_BYTES, decodeLeaseReply, encodeLeaseMessage, type LeaseReply, type LeaseRequest
} from '../../protocol/fencing-wire.js'

/** A reply, or why there is none. */
export type LeaseExchange = LeaseReply | { t: 'error', message: string }

/** Delivers lease requests. */
export type LeaseTransport = (peerId: string, req: LeaseRequest, signal: AbortSignal) => Promise<LeaseExchange>

/** Collaborators of the libp2p lease transport. */
export interface LeaseTransportComponents {
  libp2p: Pick<Libp2p, 'dialProtocol'>
  selfPeerId: string
  /** The keeper of the manager's own agent. */
  local?: (req: LeaseRequest) => Promise<LeaseReply>
}

/** A transport over libp2p direct streams. */
export function libp2pLeaseTransport (c: LeaseTransportComponents): LeaseTransport {
  return async (peerId, req, signal) => {
    if (peerId === c.selfPeerId) {
      if (c.local === undefined) return { t: 'error', message: 'no local lease keeper' }
      return await c.local(req)
    }
    let stream
    try {
      stream = await c.libp2p.dialProtocol(peerIdFromString(peerId), LEASE_PROTOCOL, { signal })
    } catch (err) {
      return { t: 'error', message: `cannot reach the node's agent: ${(err as Error).message}` }
    }
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_LEASE_FRAME_BYTES })
      await lp.write(encodeLeaseMessage(req), { signal })
      const reply = decodeLeaseReply((await lp.read({ signal })).subarray())
      await closeStream(stream)
      return reply.ok ? reply.value : { t: 'error', message: `malformed lease reply: ${reply.reason}` }
    } catch (err) {
      stream.abort(err as Error)
      return { t: 'error', message: `lease exchange failed: ${(err as Error).message}` }
    }
  }
}
