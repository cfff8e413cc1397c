/**
 * Who may hold an inbound libp2p connection to this agent (a libp2p `ConnectionGater`).
 *
 * - Before any byte is read, a remote host may have at most `maxPendingPerHost` inbound
 *   connections still in their upgrade (secret hello, noise, yamux). Together with the short
 *   upgrade timeout (agent/libp2p/create-node.ts) this keeps a stranger, who cannot finish the
 *   secret handshake, from holding libp2p's pending-upgrade slots: from one address it can hold
 *   a few for a few seconds, never all of them.
 * - Once noise has authenticated the peer id: members (anyone in the membership view, whatever
 *   its status) and hosts configured as seeds are let in. Anyone else holding the secret is a
 *   joiner: it needs a connection to push-pull its way in (agent/membership/sync-stream.ts),
 *   and every other protocol refuses a non-member before reading (the forwarder, replication,
 *   leases). Joiners share at most `maxGuests` connections.
 * - A peer holds at most `maxPerPeer` connections (two dialling each other at once make two;
 *   one more leaves room for a reconnect while a dying connection is being closed).
 */

import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'

/** What the gate looks at. */
export interface ConnectionGateComponents {
  /** Whether the peer is in this agent's membership view. */
  isMember: (peerId: string) => boolean
  /** Open connections: remote peer ids, one entry per connection. */
  connectedPeers: () => Iterable<string>
  logger: Logger
}

/** Limits of the gate. */
export interface ConnectionGateInit {
  /** Hosts of the configured seeds (`--join`), let in like members. */
  seedHosts?: Iterable<string>
  maxPendingPerHost?: number
  maxGuests?: number
  maxPerPeer?: number
}

/** Counters, for logs and tests. */
export interface ConnectionGateStats {
  pending: number
  refusedPending: number
  refusedGuests: number
  refusedPerPeer: number
}

/** Host part of a TCP multiaddr (`/ip4/10.0.0.1/tcp/7946` → `10.0.0.1`), or null. */
function hostOf (ma: Multiaddr): string | null {
  const c = ma.getComponents()[0]
  return c !== undefined && (c.name === 'ip4' || c.name === 'ip6' || c.name === 'dns' || c.name === 'dns4' || c.name === 'dns6') ? c.value ?? null : null
}

/** The gate, plus its counters. */
export class ConnectionGate {
  private readonly c: ConnectionGateComponents
  private readonly init: Required<Omit<ConnectionGateInit, 'seedHosts'>>
  private readonly seedHosts: Set<string>
  private readonly pendingByHost = new Map<string, number>()
  /** Connections counted as pending, until upgraded or closed. */
  private readonly pending = new WeakMap<MultiaddrConnection, string>()
  readonly stats: ConnectionGateStats = { pending: 0, refusedPending: 0, refusedGuests: 0, refusedPerPeer: 0 }

  constructor (components: ConnectionGateComponents, init: ConnectionGateInit = {}) {
    this.c = components
    this.init = { maxPendingPerHost: 4, maxGuests: 64, maxPerPeer: 3, ...init }
    this.seedHosts = new Set(init.seedHosts ?? [])
  }

  /** The libp2p `connectionGater` object. */
  gater (): ConnectionGater {
    return {
      denyInboundConnection: maConn => this.denyInbound(maConn),
      denyInboundEncryptedConnection: (peerId, maConn) => this.denyEncrypted(peerId, maConn),
      denyInboundUpgradedConnection: (_peerId, maConn) => { this.settle(maConn); return false }
    }
  }

  private denyInbound (maConn: MultiaddrConnection): boolean {
    const host = hostOf(maConn.remoteAddr) ?? 'unknown'
    const n = this.pendingByHost.get(host) ?? 0
    if (n >= this.init.maxPendingPerHost) {
      this.stats.refusedPending++
      this.c.logger.debug({ host, pending: n }, 'refused an inbound connection: too many upgrades pending from its host')
      return true
    }
    this.pendingByHost.set(host, n + 1)
    this.pending.set(maConn, host)
    this.stats.pending++
    maConn.addEventListener('close', () => { this.settle(maConn) }, { once: true })
    return false
  }

  /** The connection finished its upgrade or closed: it no longer counts as pending. */
  private settle (maConn: MultiaddrConnection): void {
    const host = this.pending.get(maConn)
    if (host === undefined) return
    this.pending.delete(maConn)
    this.stats.pending--
    const n = (this.pendingByHost.get(host) ?? 1) - 1
    if (n <= 0) this.pendingByHost.delete(host)
    else this.pendingByHost.set(host, n)
  }

  private denyEncrypted (peerId: PeerId, maConn: MultiaddrConnection): boolean {
    const id = peerId.toString()
    let mine = 0
    let guests = 0
    for (const p of this.c.connectedPeers()) {
      if (p === id) mine++
      else if (!this.c.isMember(p)) guests++
    }
    if (mine >= this.init.maxPerPeer) {
      this.stats.refusedPerPeer++
      this.c.logger.debug({ peer: id, connections: mine }, 'refused an inbound connection: the peer already holds its connections')
      return true
    }
    if (this.c.isMember(id)) return false
    const host = hostOf(maConn.remoteAddr)
    if (host !== null && this.seedHosts.has(host)) return false
    if (guests >= this.init.maxGuests) {
      this.stats.refusedGuests++
      this.c.logger.warn({ peer: id, guests }, 'refused an inbound connection from a non-member: too many joiners connected')
      return true
    }
    return false
  }
}
