/**
 * SWIM probes and push-pull state exchange over libp2p direct streams: one short-lived
 * stream per exchange, length-prefixed JSON messages, every read and write under a deadline.
 * A malformed request is answered by closing the stream; it never throws into libp2p.
 */

import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import {
  SWIM_PROTOCOL, SYNC_PROTOCOL, MAX_PROBE_BYTES, MAX_SYNC_BYTES,
  decodeProbeRequest, decodeProbeResponse, decodeSync, encodeWire,
  type SyncMessage
} from '../../protocol/membership-wire.js'
import { closeStream } from '../libp2p/close-stream.js'
import type { ProbeTransport } from './prober.js'

/** What the transport needs from membership to answer push-pull. */
export interface SwimTransportComponents {
  libp2p: Libp2p
  logger: Logger
  /** Our view, sent in a push-pull exchange. */
  localState: () => SyncMessage
  /** Merge a peer's view received in a push-pull exchange. */
  mergeRemoteState: (from: string, msg: SyncMessage) => Promise<void>
  /** A remote peer sent something that did not decode. */
  onBadInput: (from: string, protocol: string, reason: string) => void
}

/** libp2p implementation of ProbeTransport plus the push-pull protocol. */
export class SwimTransport implements ProbeTransport {
  private readonly c: SwimTransportComponents
  private seq = 0

  constructor (components: SwimTransportComponents) {
    this.c = components
  }

  /** Register the protocol handlers. */
  async start (): Promise<void> {
    await this.c.libp2p.handle(SWIM_PROTOCOL, (stream, connection) => {
      void this.answerProbe(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 64, maxOutboundStreams: 64 })
    await this.c.libp2p.handle(SYNC_PROTOCOL, (stream, connection) => {
      void this.answerSync(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 8, maxOutboundStreams: 8 })
  }

  /** Unregister the protocol handlers. */
  async stop (): Promise<void> {
    await this.c.libp2p.unhandle([SWIM_PROTOCOL, SYNC_PROTOCOL])
  }

  /** @inheritdoc */
  async ping (peerId: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const seq = ++this.seq
    const res = await this.request(peerId, { t: 'ping', seq }, timeoutMs, signal)
    return res === 'ack'
  }

  /** @inheritdoc */
  async pingReq (via: string, target: string, timeoutMs: number, signal: AbortSignal): Promise<'ack' | 'nack' | 'timeout'> {
    const seq = ++this.seq
    // The helper needs its own timeout plus a round trip to answer us.
    return await this.request(via, { t: 'ping-req', seq, target, timeoutMs }, timeoutMs * 2, signal)
  }

  /** Exchange full state with a peer (we push first, then pull). */
  async sync (peerId: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
    let stream: Stream | undefined
    try {
      stream = await this.c.libp2p.dialProtocol(peerIdFromString(peerId), SYNC_PROTOCOL, { signal: deadline })
      const lp = lpStream(stream, { maxDataLength: MAX_SYNC_BYTES })
      await lp.write(encodeWire(this.c.localState()), { signal: deadline })
      const reply = decodeSync((await lp.read({ signal: deadline })).subarray())
      await closeStream(stream, deadline)
      if (!reply.ok) {
        this.c.onBadInput(peerId, SYNC_PROTOCOL, reply.reason)
        return false
      }
      await this.c.mergeRemoteState(peerId, reply.value)
      return true
    } catch (err) {
      stream?.abort(err as Error)
      this.c.logger.debug({ peer: peerId, err: (err as Error).message }, 'push-pull failed')
      return false
    }
  }

  private async request (peerId: string, req: Parameters<typeof encodeWire>[0], timeoutMs: number, signal: AbortSignal): Promise<'ack' | 'nack' | 'timeout'> {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
    let stream: Stream | undefined
    try {
      stream = await this.c.libp2p.dialProtocol(peerIdFromString(peerId), SWIM_PROTOCOL, { signal: deadline })
      const lp = lpStream(stream, { maxDataLength: MAX_PROBE_BYTES })
      await lp.write(encodeWire(req), { signal: deadline })
      const res = decodeProbeResponse((await lp.read({ signal: deadline })).subarray())
      await closeStream(stream, deadline)
      if (!res.ok) {
        this.c.onBadInput(peerId, SWIM_PROTOCOL, res.reason)
        return 'timeout'
      }
      return res.value.t
    } catch (err) {
      stream?.abort(err as Error)
      return 'timeout'
    }
  }

  private async answerProbe (stream: Stream, from: string): Promise<void> {
    const deadline = AbortSignal.timeout(10_000)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_PROBE_BYTES })
      const req = decodeProbeRequest((await lp.read({ signal: deadline })).subarray())
      if (!req.ok) {
        this.c.onBadInput(from, SWIM_PROTOCOL, req.reason)
        stream.abort(new Error('malformed probe'))
        return
      }
      let answer: 'ack' | 'nack' = 'ack'
      if (req.value.t === 'ping-req') {
        const ok = await this.ping(req.value.target, req.value.timeoutMs, deadline)
        answer = ok ? 'ack' : 'nack'
      }
      await lp.write(encodeWire({ t: answer, seq: req.value.seq }), { signal: deadline })
      await closeStream(stream, deadline)
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  private async answerSync (stream: Stream, from: string): Promise<void> {
    const deadline = AbortSignal.timeout(10_000)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_SYNC_BYTES })
      const msg = decodeSync((await lp.read({ signal: deadline })).subarray())
      if (!msg.ok) {
        this.c.onBadInput(from, SYNC_PROTOCOL, msg.reason)
        stream.abort(new Error('malformed sync'))
        return
      }
      await lp.write(encodeWire(this.c.localState()), { signal: deadline })
      await closeStream(stream, deadline)
      await this.c.mergeRemoteState(from, msg.value)
    } catch (err) {
      stream.abort(err as Error)
    }
  }
}
