/**
 * Dialing members by peer id (manager RPC, replication, leases) needs libp2p's peer store to
 * know where they listen. Telling it on every member change cost a joiner one peer-store write
 * (a lock, a protobuf record, an event) per member it learned, about 30 ms at 64 members, for
 * peers most agents never dial. This dialer tells it just before a dial instead, once per peer
 * and address.
 */

import { isPeerId, type Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'

/** Peers whose address the dialer remembers telling the peer store; past it, it starts over. */
export const MEMBER_DIALER_MAX_REMEMBERED = 16_384

/** What the dialer needs of libp2p. */
export type MemberDialerLibp2p = Pick<Libp2p, 'dialProtocol'> & { peerStore: Pick<Libp2p['peerStore'], 'merge'> }

/**
 * A `dialProtocol` that first tells the peer store the member's address (from `addressOf`,
 * the membership view) when dialing a peer id it has not told yet, or whose address changed.
 * Multiaddr dials and unknown peers pass through unchanged.
 */
export function memberDialer (libp2p: MemberDialerLibp2p, addressOf: (peerId: string) => string | undefined): Pick<Libp2p, 'dialProtocol'> {
  const told = new Map<string, string>()
  return {
    dialProtocol: async (peer, protocols, options) => {
      if (isPeerId(peer)) {
        const id = peer.toString()
        const addr = addressOf(id)
        if (addr !== undefined && told.get(id) !== addr) {
          await libp2p.peerStore.merge(peer, { multiaddrs: [multiaddr(addr)] })
          if (told.size >= MEMBER_DIALER_MAX_REMEMBERED) told.clear()
          told.set(id, addr)
        }
      }
      return await libp2p.dialProtocol(peer, protocols, options)
    }
  }
}

