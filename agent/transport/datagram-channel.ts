/**
 * An authenticated UDP datagram channel beside libp2p, for SWIM's probes and piggybacked
 * gossip: one UDP socket on the agent's listen host and the same port number as its TCP
 * listener (Serf's 7946/tcp + 7946/udp), every datagram sealed with ChaCha20-Poly1305 under a
 * key derived from the cluster secret (datagram-seal.ts), checked for freshness and replays on
 * arrival (datagram-receiver.ts). A datagram costs tens of microseconds of CPU where a new
 * libp2p stream costs about a millisecond (docs/benchmarks.md, "Datagram channel").
 *
 * What it guarantees: a delivered payload was sealed by a holder of the cluster secret, within
 * maxAgeMs of this host's clock, and is delivered at most once. What it does not: the source
 * address is whatever the IP header says (an on-path attacker can change it), and a datagram
 * is not bound to its destination (an on-path attacker can redirect a fresh one to another
 * member, once); the SWIM messages carry their own from/target ids for that. Delivery is
 * best effort, like UDP.
 */

import { createSocket, type Socket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import type { Logger } from 'pino'
import { ClusterdError } from '../../protocol/errors.js'
import { DGRAM_MAX_PAYLOAD, DGRAM_OVERHEAD, DGRAM_WARN_INTERVAL_MS } from './constants.js'
import { DatagramReceiver, DROP_REASONS, type DropReason } from './datagram-receiver.js'
import { deriveSenderKey, newSenderId, sealDatagram } from './datagram-seal.js'

/** A UDP address: the same shape as the membership core's Endpoint. */
export interface DatagramEndpoint {
  host: string
  port: number
}

/** Receives each authentic datagram once; `from` is the (unauthenticated) source address. */
export type DatagramHandler = (from: DatagramEndpoint, payload: Uint8Array) => void

/** Collaborators of a {@link DatagramChannel}. */
export interface DatagramChannelComponents {
  logger: Logger
  /** Wall clock in ms for timestamps and freshness (default Date.now). */
  clock?: () => number
}

/** Settings of a {@link DatagramChannel}. */
export interface DatagramChannelInit {
  /** The raw 32-byte cluster secret (see readSecretFile). */
  secret: Uint8Array
  /** Host to bind: the agent's listen host (an IPv6 literal gives an IPv6 socket). */
  host: string
  /** UDP port: the agent's TCP listen port (0 picks a free one, for tests). */
  port: number
  /** Largest payload sent or accepted (default and maximum: 65,507 - 49 = 65,458 bytes). */
  maxPayloadBytes?: number
  /** Replay window per sender in counters, a multiple of 32 (default 1,024). */
  windowSize?: number
  /** Freshness bound on a datagram's timestamp (default 60 s). */
  maxAgeMs?: number
  /** Senders with replay state at most (default 16,384). */
  maxSenders?: number
  /** At most one warning per drop reason this often (default 10 s). */
  warnIntervalMs?: number
  /** SO_RCVBUF in bytes, if the OS default is too small for bursts. */
  receiveBufferBytes?: number
  /** How long stop() waits for queued sends (default 1 s). */
  drainTimeoutMs?: number
}

/** Counters of a {@link DatagramChannel}, since start. */
export interface DatagramChannelStats {
  /** Datagrams handed to the socket, and their sealed bytes. */
  sent: number
  sentBytes: number
  /** Sends that failed (bad destination, failed address lookup, unreachable network). */
  sendErrors: number
  /** Other errors the socket reported (logged, never thrown). */
  socketErrors: number
  /** Authentic datagrams delivered, and their sealed bytes. */
  received: number
  receivedBytes: number
  /** Datagrams dropped on arrival, by reason. */
  dropped: Record<DropReason, number>
  /** Deliveries whose handler threw (the datagram counts as received). */
  handlerErrors: number
  /** Senders with replay state held now. */
  senders: number
}

/** A send larger than the channel's payload limit: the caller must split it. */
export class DatagramTooLargeError extends Error {
  override readonly name = 'DatagramTooLargeError'
  /** Bytes the caller tried to send. */
  readonly payloadBytes: number
  /** The channel's payload limit. */
  readonly maxPayloadBytes: number

  constructor (payloadBytes: number, maxPayloadBytes: number) {
    super(`a datagram payload of ${payloadBytes} bytes exceeds the limit of ${maxPayloadBytes} bytes (UDP maximum minus ${DGRAM_OVERHEAD} bytes of header and tag); send less per datagram`)
    this.payloadBytes = payloadBytes
    this.maxPayloadBytes = maxPayloadBytes
  }
}

/** A warning rate limit per kind: when it last logged and what it held back since. */
interface WarnState {
  at: number
  suppressed: number
}

/** The authenticated datagram channel of one agent. */
export class DatagramChannel {
  private readonly logger: Logger
  private readonly clock: () => number
  private readonly init: DatagramChannelInit
  private readonly maxPayloadBytes: number
  private readonly warnIntervalMs: number
  private readonly senderId = newSenderId()
  private readonly key: Buffer
  private readonly receiver: DatagramReceiver
  private status: 'stopped' | 'starting' | 'started' | 'stopping' = 'stopped'
  private socket: Socket | null = null
  private handler: DatagramHandler | null = null
  private counter = 0
  private stopping: Promise<void> | null = null
  private readonly warned = new Map<string, WarnState>()
  private readonly counts = newCounts()

  constructor (components: DatagramChannelComponents, init: DatagramChannelInit) {
    this.logger = components.logger
    this.clock = components.clock ?? Date.now
    this.init = init
    this.maxPayloadBytes = init.maxPayloadBytes ?? DGRAM_MAX_PAYLOAD
    if (!Number.isSafeInteger(this.maxPayloadBytes) || this.maxPayloadBytes < 0 || this.maxPayloadBytes > DGRAM_MAX_PAYLOAD) {
      throw new RangeError(`maxPayloadBytes must be an integer in [0, ${DGRAM_MAX_PAYLOAD}], got ${this.maxPayloadBytes}`)
    }
    this.warnIntervalMs = init.warnIntervalMs ?? DGRAM_WARN_INTERVAL_MS
    this.key = deriveSenderKey(init.secret, this.senderId)
    this.receiver = new DatagramReceiver({
      secret: init.secret,
      ownSenderId: this.senderId,
      maxDatagramBytes: this.maxPayloadBytes + DGRAM_OVERHEAD,
      ...(init.windowSize !== undefined ? { windowSize: init.windowSize } : {}),
      ...(init.maxAgeMs !== undefined ? { maxAgeMs: init.maxAgeMs } : {}),
      ...(init.maxSenders !== undefined ? { maxSenders: init.maxSenders } : {})
    })
  }

  /** The largest payload {@link send} accepts. */
  get maxPayload (): number {
    return this.maxPayloadBytes
  }

  /** Binds the socket. Rejects with CLUSTERD_ERR_ADDRESS_IN_USE if the UDP port is taken. */
  async start (): Promise<void> {
    if (this.status !== 'stopped') throw new Error(`datagram channel is ${this.status}`)
    this.status = 'starting'
    const { host, port } = this.init
    const socket = createSocket({
      type: isIPv6(host) ? 'udp6' : 'udp4',
      ...(this.init.receiveBufferBytes !== undefined ? { recvBufferSize: this.init.receiveBufferBytes } : {})
    })
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        socket.bind({ address: host, port, exclusive: true }, () => {
          socket.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      this.status = 'stopped'
      socket.close()
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE') {
        throw new ClusterdError('CLUSTERD_ERR_ADDRESS_IN_USE', `cannot bind the membership UDP socket ${host}:${port}: address already in use (another agent or Serf on this port?)`)
      }
      throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `cannot bind the membership UDP socket ${host}:${port}: ${(err as Error).message}`)
    }
    // after bind an 'error' is a failed send or receive: log it, never let it crash the agent
    socket.on('error', err => { this.onSocketError(err) })
    socket.on('message', (msg, rinfo) => { this.onMessage(msg, rinfo.address, rinfo.port) })
    // the counter is never reset: a restarted channel keeps its sender id and key, and a
    // (key, nonce) pair must never repeat
    this.socket = socket
    this.receiver.refuseBefore(this.clock())
    this.status = 'started'
    this.logger.debug({ address: this.address() }, 'datagram channel listening')
  }

  /** Waits (bounded) for queued sends, then closes the socket. Idempotent; concurrent calls share one stop. */
  async stop (): Promise<void> {
    if (this.status === 'stopped') return
    if (this.status === 'starting') throw new Error('datagram channel is starting')
    this.stopping ??= this.close().finally(() => { this.stopping = null })
    await this.stopping
  }

  private async close (): Promise<void> {
    this.status = 'stopping'
    const socket = this.socket
    // a leave announcement sent just before stop should reach the wire: wait (bounded) for
    // sends the kernel could not take at once
    const deadline = Date.now() + (this.init.drainTimeoutMs ?? 1_000)
    while (socket !== null && socket.getSendQueueCount() > 0 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    if (socket !== null) await new Promise<void>(resolve => { socket.close(() => { resolve() }) })
    this.socket = null
    this.status = 'stopped'
  }

  /** The bound address (the real port when started with port 0). Throws when not started. */
  address (): DatagramEndpoint {
    if (this.socket === null || this.status === 'stopped') throw new Error('datagram channel is not started')
    const a = this.socket.address()
    return { host: a.address, port: a.port }
  }

  /** Sets the one receiver of authentic datagrams (replacing any); returns its removal. */
  onDatagram (handler: DatagramHandler): () => void {
    this.handler = handler
    return () => { if (this.handler === handler) this.handler = null }
  }

  /**
   * Seals and sends `payload` to `to`, best effort. Give `to.host` as an IP address: a name
   * costs a resolver lookup per datagram. Throws a {@link DatagramTooLargeError} for
   * a payload over the limit and an Error when the channel is not started (both are bugs in
   * the caller); a send the network refuses is counted and logged, not thrown, since
   * addresses come from peers.
   */
  send (to: DatagramEndpoint, payload: Uint8Array): void {
    const socket = this.socket
    if (this.status !== 'started' || socket === null) throw new Error(`datagram channel is ${this.status}; cannot send`)
    if (payload.byteLength > this.maxPayloadBytes) throw new DatagramTooLargeError(payload.byteLength, this.maxPayloadBytes)
    if (!Number.isInteger(to.port) || to.port <= 0 || to.port > 65_535 || typeof to.host !== 'string' || to.host === '') {
      this.counts.sendErrors++
      this.warn('send', { to }, 'datagram not sent: invalid destination address')
      return
    }
    const parts = sealDatagram(this.key, { senderId: this.senderId, counter: this.counter++, timestamp: this.clock() }, payload)
    // no callback: libuv then sends at once when it can (no request object, no callback
    // turn of the event loop); a failure surfaces as the socket's 'error' event
    socket.send(parts, to.port, to.host)
    this.counts.sent++
    this.counts.sentBytes += payload.byteLength + DGRAM_OVERHEAD
  }

  /** A snapshot of the counters. */
  stats (): DatagramChannelStats {
    return { ...this.counts, dropped: { ...this.counts.dropped }, senders: this.receiver.senderCount }
  }

  private onSocketError (err: NodeJS.ErrnoException): void {
    // without a send callback, a failed send (or its address lookup) is reported here
    const during = err.syscall ?? 'socket'
    if (during === 'send' || during === 'getaddrinfo') {
      this.counts.sendErrors++
      this.warn('send', { err: err.message }, 'datagram send failed')
    } else {
      this.counts.socketErrors++
      this.warn('socket', { err: err.message }, 'datagram socket error')
    }
  }

  private onMessage (msg: Buffer, host: string, port: number): void {
    if (this.status !== 'started') return
    const result = this.receiver.receive(msg, this.clock())
    if (!result.ok) {
      this.counts.dropped[result.reason]++
      this.warn(`drop:${result.reason}`, { reason: result.reason, from: `${host}:${port}`, detail: result.detail }, 'datagram dropped')
      return
    }
    this.counts.received++
    this.counts.receivedBytes += msg.byteLength
    const handler = this.handler
    if (handler === null) return
    try {
      handler({ host, port }, result.payload)
    } catch (err) {
      this.counts.handlerErrors++
      this.warn('handler', { err, from: `${host}:${port}` }, 'datagram handler threw')
    }
  }

  /** At most one warning per kind per interval; the next one says how many were held back. */
  private warn (kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now()
    const state = this.warned.get(kind)
    if (state !== undefined && now - state.at < this.warnIntervalMs) {
      state.suppressed++
      return
    }
    const suppressed = state?.suppressed ?? 0
    this.warned.set(kind, { at: now, suppressed: 0 })
    this.logger.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg)
  }
}

function newCounts (): Omit<DatagramChannelStats, 'senders'> {
  const dropped = {} as Record<DropReason, number>
  for (const reason of DROP_REASONS) dropped[reason] = 0
  return { sent: 0, sentBytes: 0, sendErrors: 0, socketErrors: 0, received: 0, receivedBytes: 0, dropped, handlerErrors: 0 }
}
