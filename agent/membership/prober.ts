/**
 * The SWIM failure detector: every round, probe the next member of a shuffled list with a
 * direct ping; if it does not answer, ask k other members to ping it (ping-req) while also
 * retrying directly. No answer at all makes it suspect. Lifeguard's local health score
 * stretches the timeouts of an agent that is itself slow.
 */

import type { Logger } from 'pino'
import type { Awareness } from './awareness.js'
import type { MemberEntry } from './member-table.js'

/** How probes travel; the libp2p implementation lives in swim-transport.ts. */
export interface ProbeTransport {
  /** Direct ping; true on ack before the deadline. */
  ping: (peerId: string, timeoutMs: number, signal: AbortSignal) => Promise<boolean>
  /** Ask `via` to ping `target`: 'ack', 'nack' (via answered, target did not) or 'timeout'. */
  pingReq: (via: string, target: string, timeoutMs: number, signal: AbortSignal) => Promise<'ack' | 'nack' | 'timeout'>
}

/** What the prober needs from the rest of membership. */
export interface ProberComponents {
  logger: Logger
  transport: ProbeTransport
  awareness: Awareness
  /** Members worth probing (alive or suspect, not self). */
  probeable: () => MemberEntry[]
  /** Called when a probe got an answer. */
  onAlive: (peerId: string) => void
  /** Called when direct and indirect probes all failed. */
  onUnreachable: (entry: MemberEntry) => void
  /** Clock (ms); tests pass a fake one. */
  now?: () => number
}

/** Probe timing. */
export interface ProberInit {
  probeIntervalMs: number
  probeTimeoutMs: number
  indirectTimeoutMs: number
  indirectChecks: number
  /** A probe that ended this much later than its deadlines allow ran through a stall of ours. */
  stallGraceMs: number
}

/** Runs probe rounds until stopped. */
export class Prober {
  private readonly c: ProberComponents
  private readonly init: ProberInit
  private order: string[] = []
  private controller: AbortController | null = null
  private loop: Promise<void> | null = null
  private readonly now: () => number

  constructor (components: ProberComponents, init: ProberInit) {
    this.c = components
    this.init = init
    this.now = components.now ?? Date.now
  }

  /** Start probe rounds. */
  start (): void {
    if (this.controller !== null) return
    this.controller = new AbortController()
    this.loop = this.run(this.controller.signal)
  }

  /** Stop probing and wait for the current round to end. */
  async stop (): Promise<void> {
    this.controller?.abort()
    await this.loop
    this.controller = null
    this.loop = null
  }

  private async run (signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = Date.now()
      const target = this.next()
      if (target !== undefined) {
        try {
          await this.probe(target, signal)
        } catch (err) {
          if (!signal.aborted) this.c.logger.error({ err }, 'probe round failed')
        }
      }
      const wait = this.c.awareness.scale(this.init.probeIntervalMs) - (Date.now() - started)
      if (wait > 0) await abortableDelay(wait, signal)
    }
  }

  /** Round-robin over a shuffled list, reshuffled each pass, so every member is probed in bounded time. */
  private next (): MemberEntry | undefined {
    const members = new Map(this.c.probeable().map(e => [e.record.peerId, e]))
    if (members.size === 0) return undefined
    while (true) {
      if (this.order.length === 0) this.order = shuffle([...members.keys()])
      const id = this.order.shift()
      if (id === undefined) return undefined
      const entry = members.get(id)
      if (entry !== undefined) return entry
    }
  }

  /** One SWIM probe of one member. */
  async probe (target: MemberEntry, signal: AbortSignal): Promise<void> {
    const id = target.record.peerId
    const started = this.now()
    const timeout = this.c.awareness.scale(this.init.probeTimeoutMs)
    if (await this.c.transport.ping(id, timeout, signal)) {
      this.c.awareness.apply(-1)
      this.c.onAlive(id)
      return
    }
    if (signal.aborted) return
    const helpers = shuffle(this.c.probeable().filter(e => e.record.peerId !== id && e.status === 'alive'))
      .slice(0, this.init.indirectChecks)
    const indirectTimeout = this.c.awareness.scale(this.init.indirectTimeoutMs)
    const round = AbortSignal.any([signal, AbortSignal.timeout(indirectTimeout)])
    // Indirect probes through others, plus one more direct try (memberlist's TCP fallback).
    const results = await Promise.all([
      ...helpers.map(async h => await this.c.transport.pingReq(h.record.peerId, id, timeout, round)),
      this.c.transport.ping(id, indirectTimeout, round).then(ok => ok ? 'ack' as const : 'timeout' as const)
    ])
    if (signal.aborted) return
    if (results.includes('ack')) {
      this.c.onAlive(id)
      return
    }
    // Lifeguard: a helper that neither acked nor nacked hints that we are the slow one.
    const nacks = results.filter(r => r === 'nack').length
    // Our own event loop stalled during the probe: the answers may be queued behind the timers
    // that gave up on them. Inconclusive; we are the slow one, and accuse nobody.
    const tookMs = this.now() - started
    if (tookMs > timeout + indirectTimeout + this.init.stallGraceMs) {
      this.c.awareness.apply(1)
      this.c.logger.debug({ peer: id, tookMs }, 'probe ran through a stall of this agent; not suspecting')
      return
    }
    this.c.awareness.apply(helpers.length - nacks > 0 ? 1 : 0)
    this.c.onUnreachable(target)
  }
}

/** Fisher-Yates shuffle (a copy). */
export function shuffle<T> (items: T[]): T[] {
  const a = [...items]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const t = a[i] as T
    a[i] = a[j] as T
    a[j] = t
  }
  return a
}

/** Resolve after ms, or early when the signal aborts. */
export async function abortableDelay (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => {
    const onAbort = (): void => { clearTimeout(timer); resolve() }
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
