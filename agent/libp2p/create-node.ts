/**
 * The agent's libp2p node: TCP, the cluster-secret protector (so strangers cannot even finish
 * a handshake), noise and yamux, and nothing else. Membership travels as datagrams
 * (agent/transport/datagram-channel.ts) and dissemination rides on them, so there is no
 * pub/sub, and streams are opened on demand (push-pull, manager forwarding, replication,
 * leases) over connections that agent/libp2p/idle-connections.ts closes when idle. Failure
 * detection is SWIM's: libp2p's connection monitor is off (it would ping every connection),
 * and yamux's keep-alive notices a dead connection that is kept open.
 */

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { ConnectionGater, Libp2p, PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { pskProtector } from '../transport/psk-protector.js'

/** Settings of the libp2p node. */
export interface NodeInit {
  privateKey: PrivateKey
  psk: Uint8Array
  /** Listen multiaddr, e.g. `/ip4/0.0.0.0/tcp/7946`. */
  listen: string
  /** Announce multiaddrs (others dial these). */
  announce: string[]
  /** Who may hold an inbound connection (agent/libp2p/connection-gate.ts); none: anyone with the secret. */
  gater?: ConnectionGater
}

/**
 * How long an inbound connection may take to finish its upgrade (secret hello, noise, yamux:
 * a few round trips, milliseconds on a LAN). libp2p's default is 10 s; a pending upgrade holds
 * one of `INBOUND_PENDING_MAX` slots, so the shorter this is, the less a stranger can hold.
 */
export const INBOUND_UPGRADE_TIMEOUT_MS = 4_000
/** Inbound upgrades in progress at once (libp2p's default is 10); the gate caps them per host. */
export const INBOUND_PENDING_MAX = 64

/** A started libp2p node. */
export type ClusterNode = Libp2p

/** Turn host:port into a TCP multiaddr. */
export function hostPortToMultiaddr (hp: { host: string, port: number }): string {
  const proto = hp.host.includes(':') ? 'ip6' : /^\d+\.\d+\.\d+\.\d+$/.test(hp.host) ? 'ip4' : 'dns'
  return `/${proto}/${hp.host}/tcp/${hp.port}`
}

/** Create and start the agent's libp2p node. */
export async function createClusterNode (init: NodeInit): Promise<ClusterNode> {
  return await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: [init.listen], announce: init.announce },
    transports: [tcp()],
    connectionProtector: pskProtector({ psk: init.psk }),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 1024, inboundConnectionThreshold: 100, inboundUpgradeTimeout: INBOUND_UPGRADE_TIMEOUT_MS, maxIncomingPendingConnections: INBOUND_PENDING_MAX },
    ...(init.gater !== undefined ? { connectionGater: init.gater } : {}),
    connectionMonitor: { enabled: false }
  })
}
