/**
 * `/clusterd/diagnostics/1.0.0`: another member's diagnostics or log lines, one bounded request
 * frame and one bounded reply frame (protocol/streams/serve-one-frame.ts: the sender must be a
 * member before anything is read, the reply is at most MAX_DIAGNOSTICS_REPLY_BYTES). The PSK
 * protector keeps strangers out; the answering agent redacts its own secrets.
 */

import type { Libp2p, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import {
  DIAGNOSTICS_PROTOCOL, MAX_DIAGNOSTICS_REPLY_BYTES, MAX_DIAGNOSTICS_REQUEST_BYTES, decodeDiagnosticsReply,
  decodeDiagnosticsRequest, encodeDiagnostics, type DiagnosticsReply, type DiagnosticsRequest
} from '../../protocol/diagnostics.js'
import type { WireResult } from '../../protocol/membership-wire.js'
import { BoundedFrames } from '../../protocol/streams/bounded-frames.js'
import { closeStream } from '../../protocol/streams/close-stream.js'
import { serveOneFrame, type Admission, type OneFrameProtocol } from '../../protocol/streams/serve-one-frame.js'
import type { AgentDiagnosticsSource } from './agent-diagnostics.js'

/** How long one fetch may take (dial, request, reply). */
export const DIAGNOSTICS_FETCH_TIMEOUT_MS = 10_000

/** Collaborators. */
export interface DiagnosticsStreamComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  logger: Logger
  source: Pick<AgentDiagnosticsSource, 'diagnostics' | 'logs'>
  isMember: (peerId: string) => boolean
}

/** Serves this agent's diagnostics to members, and fetches other members'. */
export class DiagnosticsStream {
  private readonly protocol: OneFrameProtocol<DiagnosticsRequest, DiagnosticsReply>

  constructor (private readonly c: DiagnosticsStreamComponents) {
    this.protocol = {
      name: 'diagnostics',
      maxFrameBytes: MAX_DIAGNOSTICS_REQUEST_BYTES,
      readTimeoutMs: 5000,
      decode: decodeDiagnosticsRequest,
      encode: encodeDiagnostics,
      malformed: reason => ({ ok: false, reason }),
      admit: async (from): Promise<Admission> => c.isMember(from) ? {} : { refused: 'not a member' },
      handle: async req => req.want === 'diagnostics'
        ? { ok: true, diagnostics: await c.source.diagnostics() }
        : { ok: true, logs: await c.source.logs(req.after, req.lines) }
    }
  }

  /** Serve the protocol. */
  async start (): Promise<void> {
    await this.c.libp2p.handle(DIAGNOSTICS_PROTOCOL, (stream, connection) => { void serveOneFrame(this.protocol, stream, connection, this.c.logger) }, { maxInboundStreams: 4, maxOutboundStreams: 32 })
  }

  /** Stop serving. */
  async stop (): Promise<void> {
    await this.c.libp2p.unhandle(DIAGNOSTICS_PROTOCOL).catch(() => {})
  }

  /**
   * Ask the member `peerId` listening at `addr` (a multiaddr without /p2p) within
   * DIAGNOSTICS_FETCH_TIMEOUT_MS; its reply, or why there is none. Never throws.
   */
  async fetch (peerId: string, addr: string, req: DiagnosticsRequest, signal: AbortSignal): Promise<WireResult<DiagnosticsReply>> {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(DIAGNOSTICS_FETCH_TIMEOUT_MS)])
    let stream: Stream | undefined
    try {
      stream = await this.c.libp2p.dialProtocol(multiaddr(`${addr}/p2p/${peerId}`), DIAGNOSTICS_PROTOCOL, { signal: deadline })
      const frames = new BoundedFrames(stream, MAX_DIAGNOSTICS_REPLY_BYTES)
      await frames.write(encodeDiagnostics(req), deadline)
      const frame = await frames.read({ maxBytes: MAX_DIAGNOSTICS_REPLY_BYTES, signal: deadline })
      await closeStream(stream, deadline)
      return decodeDiagnosticsReply(frame.bytes)
    } catch (err) {
      stream?.abort(err as Error)
      return { ok: false, reason: deadline.aborted && !signal.aborted ? `no answer within ${DIAGNOSTICS_FETCH_TIMEOUT_MS / 1000} s` : (err as Error).message }
    }
  }
}
