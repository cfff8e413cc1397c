/**
 * The agent's libp2p node: TCP, the cluster-secret protector (so strangers cannot even finish
 * a handshake), noise, yamux, identify, ping and gossipsub. Failure detection is ours (SWIM),
 * so libp2p's own connection monitor only cleans up dead connections slowly.
 */

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { MAX_GOSSIP_BYTES } from '../../protocol/membership-wire.js'
import { pskProtector } from '../transport/psk-protector.js'

/** Settings of the libp2p node. */
export interface NodeInit {
  privateKey: PrivateKey
  psk: Uint8Array
  /** Listen multiaddr, e.g. `/ip4/0.0.0.0/tcp/7946`. */
  listen: string
  /** Announce multiaddrs (others dial these). */
  announce: string[]
}

/** A started libp2p node with gossipsub as `services.pubsub`. */
export type ClusterNode = Libp2p<{ pubsub: GossipSub, identify: unknown, ping: unknown }>

/** Create and start the agent's libp2p node. */
export async function createClusterNode (init: NodeInit): Promise<ClusterNode> {
  return await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: [init.listen], announce: init.announce },
    transports: [tcp()],
    connectionProtector: pskProtector({ psk: init.psk }),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 1024, inboundConnectionThreshold: 100 },
    connectionMonitor: { pingInterval: 10_000 },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        floodPublish: true,
        maxInboundDataLength: MAX_GOSSIP_BYTES * 2,
        // Every member holds the cluster secret; co-located agents (tests, containers)
        // must not be scored down for sharing an IP.
        scoreParams: { IPColocationFactorWeight: 0 }
      })
    }
  }) as unknown as ClusterNode
}
