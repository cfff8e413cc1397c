/**
 * Bounded connections: membership no longer needs a libp2p connection to every member (its
 * probes are datagrams), so connections exist only for push-pull, manager forwarding,
 * replication and leases, opened on demand by whoever needs one. This closes a connection
 * that has carried no stream for `idleMs` (~30 s), except to the peers `keep` names (the
 * elected manager: every agent forwards to it and renews leases with it). An idle connection
 * costs CPU (keep-alives) and ~0.36 MB (measured, docs/benchmarks.md "Membership"); a fresh one costs one
 * handshake when next needed.
 */

import type { Libp2p } from '@libp2p/interface'
import type { Logger } from 'pino'

/** Collaborators. */
export interface IdleConnectionsComponents {
  libp2p: Pick<Libp2p, 'getConnections'>
  logger: Logger
  /** Peer ids whose connections stay open however idle (the manager). */
  keep: () => Iterable<string>
  /** Clock (ms); default Date.now. */
  now?: () => number
}

/** Settings. */
export interface IdleConnectionsInit {
  /** A connection without streams for this long is closed. */
  idleMs?: number
  /** How often connections are looked at. */
  checkMs?: number
}

/** Closes idle libp2p connections. */
export class IdleConnections {
  private readonly c: IdleConnectionsComponents
  private readonly init: Required<IdleConnectionsInit>
  /** Connection id -> when it was last seen carrying a stream. */
  private readonly busyAt = new Map<string, number>()
  private timer: NodeJS.Timeout | null = null
  private readonly now: () => number
  /** Connections closed since start. */
  closed = 0

  constructor (components: IdleConnectionsComponents, init: IdleConnectionsInit = {}) {
    this.c = components
    this.init = { idleMs: 30_000, checkMs: 5_000, ...init }
    this.now = components.now ?? Date.now
  }

  /** Start looking. */
  start (): void {
    if (this.timer !== null) return
    this.timer = setInterval(() => { this.sweep() }, Math.min(this.init.checkMs, this.init.idleMs))
    this.timer.unref()
  }

  /** Stop looking (connections stay as they are). */
  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.busyAt.clear()
  }

  /** One pass: note busy connections, close the ones idle too long. */
  sweep (): void {
    const now = this.now()
    const keep = new Set(this.c.keep())
    const seen = new Set<string>()
    for (const conn of this.c.libp2p.getConnections()) {
      seen.add(conn.id)
      if (conn.streams.length > 0 || keep.has(conn.remotePeer.toString())) {
        this.busyAt.set(conn.id, now)
        continue
      }
      const since = this.busyAt.get(conn.id) ?? conn.timeline.open
      if (now - since < this.init.idleMs) continue
      this.busyAt.delete(conn.id)
      this.closed++
      this.c.logger.debug({ peer: conn.remotePeer.toString(), idleMs: now - since }, 'closing an idle connection')
      conn.close().catch(err => { conn.abort(err as Error) })
    }
    for (const id of this.busyAt.keys()) if (!seen.has(id)) this.busyAt.delete(id)
  }
}
