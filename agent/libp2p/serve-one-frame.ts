/**
 * The server side of a one-request, one-reply stream protocol (replication, leases): read one
 * length-prefixed frame within a deadline, decode it strictly, answer a malformed one with the
 * protocol's refusal and a good one with the handler's reply, then close. A broken stream is
 * aborted and logged at debug; nothing thrown escapes.
 */

import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
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
}

/** Serve one exchange on `stream`; never throws. */
export async function serveOneFrame<Req, Reply> (p: OneFrameProtocol<Req, Reply>, stream: Stream, connection: Connection, logger: Logger): Promise<void> {
  const from = connection.remotePeer.toString()
  const lp = lpStream(stream, { maxDataLength: p.maxFrameBytes })
  try {
    const decoded = p.decode((await lp.read({ signal: AbortSignal.timeout(p.readTimeoutMs) })).subarray())
    let reply: Reply
    if (!decoded.ok) {
      logger.warn({ peer: from, reason: decoded.reason }, `rejected a malformed ${p.name} request`)
      reply = p.malformed(`malformed request: ${decoded.reason}`)
    } else {
      reply = await p.handle(decoded.value, from)
    }
    await lp.write(p.encode(reply), { signal: AbortSignal.timeout(5000) })
    await closeStream(stream)
  } catch (err) {
    logger.debug({ peer: from, err: (err as Error).message }, `${p.name} stream failed`)
    stream.abort(err as Error)
  }
}
