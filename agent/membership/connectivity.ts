/**
 * Reconnecting is the application's job with libp2p (discovery fires once, bootstrap dials
 * once, the built-in redial gives up after ~31 s). This loop keeps a connection to every
 * member that has not left, redials failed members so a healed partition rejoins, and keeps
 * dialing the seeds until this agent has someone to talk to, so a cluster whose seed starts
 * last still forms. Per-address exponential backoff bounds the work.
 */

import type { Libp2p } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import type { HostPort } from '../config/agent-config.js'
import type { MemberEntry } from './member-table.js'
import { abortableDelay } from './prober.js'

/** What connectivity needs from the agent. */
export interface ConnectivityComponents {
  libp2p: Libp2p
  logger: Logger
  /** Every known member except self. */
  members: () => MemberEntry[]
}

/** Dial timing and the seed list. */
export interface ConnectivityInit {
  seeds: HostPort[]
  /** Our own listen/advertise addresses, so a seed list that names us is not dialed. */
  selfAddrs: string[]
  dialIntervalMs: number
  dialBackoffMaxMs: number
  dialTimeoutMs: number
  /** At most this many dials in flight. */
  maxParallelDials?: number
}

interface Backoff { nextAt: number, delay: number }

/** Turn host:port into a TCP multiaddr. */
export function hostPortToMultiaddr (hp: HostPort): string {
  const proto = hp.host.includes(':') ? 'ip6' : /^\d+\.\d+\.\d+\.\d+$/.test(hp.host) ? 'ip4' : 'dns'
  return `/${proto}/${hp.host}/tcp/${hp.port}`
}

/** The redial loop. */
export class Connectivity {
  private readonly c: ConnectivityComponents
  private readonly init: ConnectivityInit
  private readonly backoff = new Map<string, Backoff>()
  private readonly inFlight = new Set<string>()
  private controller: AbortController | null = null
  private loop: Promise<void> | null = null

  constructor (components: ConnectivityComponents, init: ConnectivityInit) {
    this.c = components
    this.init = init
  }

  /** Start dialing. */
  start (): void {
    if (this.controller !== null) return
    this.controller = new AbortController()
    this.loop = this.run(this.controller.signal)
  }

  /** Stop dialing; waits for the loop, not for dials in flight (they are aborted). */
  async stop (): Promise<void> {
    this.controller?.abort()
    await this.loop
    this.controller = null
    this.loop = null
  }

  /** Run one pass now (also used right after start so joining does not wait a tick). */
  pass (signal: AbortSignal): void {
    const now = Date.now()
    const connected = new Set(this.c.libp2p.getConnections().map(c => c.remotePeer.toString()))
    for (const m of this.c.members()) {
      if (m.status === 'left' || connected.has(m.record.peerId)) continue
      for (const addr of m.record.addrs) this.maybeDial(`${addr}/p2p/${m.record.peerId}`, now, signal)
    }
    // Seeds: needed to get in, and again whenever we are alone (after a partition or restart).
    if (connected.size === 0 || this.c.members().every(m => m.status !== 'alive')) {
      for (const seed of this.init.seeds) {
        const addr = hostPortToMultiaddr(seed)
        if (!this.init.selfAddrs.includes(addr)) this.maybeDial(addr, now, signal)
      }
    }
  }

  private async run (signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        this.pass(signal)
      } catch (err) {
        this.c.logger.error({ err }, 'connectivity pass failed')
      }
      await abortableDelay(this.init.dialIntervalMs, signal)
    }
  }

  private maybeDial (addr: string, now: number, signal: AbortSignal): void {
    const b = this.backoff.get(addr)
    if (this.inFlight.has(addr) || (b !== undefined && b.nextAt > now)) return
    if (this.inFlight.size >= (this.init.maxParallelDials ?? 16)) return
    let ma: Multiaddr
    try {
      ma = multiaddr(addr)
    } catch {
      return
    }
    this.inFlight.add(addr)
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(this.init.dialTimeoutMs)])
    this.c.libp2p.dial(ma, { signal: deadline }).then(() => {
      this.backoff.delete(addr)
    }, (err: Error) => {
      const delay = Math.min(this.init.dialBackoffMaxMs, (b?.delay ?? this.init.dialIntervalMs / 2) * 2)
      this.backoff.set(addr, { nextAt: Date.now() + delay, delay })
      this.c.logger.debug({ addr, err: err.message }, 'dial failed')
    }).finally(() => {
      this.inFlight.delete(addr)
    })
  }
}
