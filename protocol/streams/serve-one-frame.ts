/**
 * The server side of a one-request, one-reply stream protocol (replication, leases): authorise
 * the sender, read one length-prefixed frame within a deadline, decode it strictly, answer a
 * malformed one with the protocol's refusal and a good one with the handler's reply, then close.
 * A broken stream is aborted and logged at debug; nothing thrown escapes.
 *
 * Authorise, then read: a protocol with `admit` has the stream paused (no flow-control window
 * is granted, so the sender can push at most yamux's initial 256 KiB) until its sender is
 * admitted; a refused sender gets the refusal and the stream is closed unread (aborted when the
 * sender does not close its side within 2 s). The frame's declared length is checked against
 * the cap before its body is read, and a shared byte budget bounds the frames read at once.
 */

import type { Connection, Stream } from '@libp2p/interface'
import type { Logger } from 'pino'
import { BoundedFrames, FrameTooLargeError, type ByteBudget } from './bounded-frames.js'
import { closeStream } from './close-stream.js'

/** How a protocol reads, answers and names one exchange. */
export interface OneFrameProtocol<Req, Reply> {
  /** Short name for logs, e.g. `lease`. */
  name: string
  maxFrameBytes: number
  readTimeoutMs: number
  decode: (bytes: Uint8Array) => { ok: true, value: Req } | { ok: false, reason: string }
  encode: (reply: Reply) => Uint8Array
  /** The reply to a request that does not decode. */
  malformed: (reason: string) => Reply
  handle: (req: Req, from: string) => Promise<Reply>
  /** Whether `from` may send this protocol a frame at all, decided before anything is read. */
  admit?: (from: string) => Promise<Admission>
  /** The reply to a sender `admit` refused (default: `malformed`). */
  refused?: (reason: string) => Reply
  /** Bytes of request frames of this protocol read at once, across all streams. */
  budget?: ByteBudget
}

/**
 * What `admit` decided: refused (why), or admitted, reading the frame within `budget` when given
 * (a sender trusted less than fully, such as a member that may be a replaced manager).
 */
export type Admission = { refused: string } | { budget?: ByteBudget }

/** Serve one exchange on `stream`; never throws. */
export async function serveOneFrame<Req, Reply> (p: OneFrameProtocol<Req, Reply>, stream: Stream, connection: Connection, logger: Logger): Promise<void> {
  const from = connection.remotePeer.toString()
  // Before any await: no window update leaves while the sender is not admitted.
  if (p.admit !== undefined) pauseQuietly(stream)
  const frames = new BoundedFrames(stream, p.maxFrameBytes)
  try {
    const admission: Admission = p.admit === undefined ? {} : await p.admit(from)
    if ('refused' in admission) {
      logger.warn({ peer: from, reason: admission.refused }, `refused a ${p.name} stream before reading it`)
      await frames.write(p.encode((p.refused ?? p.malformed)(admission.refused)), AbortSignal.timeout(2000))
      await closeStream(stream)
      return
    }
    if (p.admit !== undefined) stream.resume()
    let reply: Reply
    const budget = admission.budget ?? p.budget
    const frame = await frames.read({ maxBytes: p.maxFrameBytes, signal: AbortSignal.timeout(p.readTimeoutMs), ...(budget !== undefined ? { budget } : {}) })
    let decoded: ReturnType<typeof p.decode>
    try {
      decoded = p.decode(frame.bytes)
    } finally {
      frame.release()
    }
    if (!decoded.ok) {
      logger.warn({ peer: from, reason: decoded.reason }, `rejected a malformed ${p.name} request`)
      reply = p.malformed(`malformed request: ${decoded.reason}`)
    } else {
      reply = await p.handle(decoded.value, from)
    }
    await frames.write(p.encode(reply), AbortSignal.timeout(5000))
    await closeStream(stream)
  } catch (err) {
    if (err instanceof FrameTooLargeError) {
      // Refused on its declared length: say so, reading nothing more (paused, then reset).
      pauseQuietly(stream)
      logger.warn({ peer: from, reason: err.message }, `refused an oversized ${p.name} frame before reading it`)
      await frames.write(p.encode(p.malformed(err.message)), AbortSignal.timeout(2000)).catch(() => {})
    } else {
      logger.debug({ peer: from, err: (err as Error).message }, `${p.name} stream failed`)
    }
    stream.abort(err as Error)
  }
}

/** Pause a stream's reading; a stream already closing has nothing left to pause. */
export function pauseQuietly (stream: Stream): void {
  try { stream.pause() } catch {}
}
