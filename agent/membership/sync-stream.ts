/**
 * Push-pull over an on-demand libp2p stream (`/clusterd/sync/2.0.0`): the initiator writes its
 * state, the responder answers with its own, both as one length-prefixed frame of bounded size,
 * every read and write under a deadline. A join is a push-pull to a seed by host:port (its peer
 * id unknown: libp2p learns it in the handshake); the PSK protector keeps strangers out. The
 * connection it opens is not kept: the idle-connection closer ends it (agent/libp2p).
 */

import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import type { WireResult } from '../../protocol/membership-wire.js'
import { BoundedFrames, ByteBudget } from '../../protocol/streams/bounded-frames.js'
import { closeStream } from '../../protocol/streams/close-stream.js'
import type { Endpoint, SyncState } from './core/types.js'
import { endpointMultiaddr } from './verified-records.js'

/** Bytes of inbound push-pull states read at once (at least one largest state). */
const SYNC_READ_BUDGET_BYTES = 16 * 1024 * 1024

/** Direct-stream protocol of the push-pull exchange. */
export const SYNC_PROTOCOL_V2 = '/clusterd/sync/2.0.0'

/** How states travel (protocol/swim-wire.ts). */
export interface SyncCodec {
  encode: (state: SyncState) => Uint8Array
  decode: (bytes: Uint8Array) => WireResult<SyncState>
}

/** Collaborators. */
export interface SyncStreamComponents {
  libp2p: Libp2p
  logger: Logger
  codec: SyncCodec
  /** Answer a peer's state with ours (the core merges theirs); null refuses. */
  answer: (from: string, state: SyncState) => SyncState | null
  /** A peer sent something that did not decode. */
  onBadInput: (from: string, reason: string) => void
}

/** Settings. */
export interface SyncStreamInit {
  /** Largest state frame, in bytes. */
  maxBytes: number
  /** Deadline of one whole exchange. */
  timeoutMs: number
  /**
   * Exchanges served at once; a stream beyond them is refused before anything is read (0 = no
   * limit). On a saturated machine a seed that 63 joiners push-pull at once otherwise queues
   * them all on its event loop: its probe answers wait behind them, it is declared failed, and
   * most answers come after their requester gave up. Refused, a joiner retries with backoff at
   * a member gossip brought it (SwimCore's join).
   */
  maxInbound?: number
}

/** Push-pull client and server. */
export class SyncStream {
  private readonly c: SyncStreamComponents
  private readonly init: SyncStreamInit
  /** Bytes of inbound states read and decoded at once, across all peers. */
  private readonly budget: ByteBudget
  /** Exchanges being served now. */
  private serving = 0
  /** Inbound exchanges refused because `maxInbound` were being served. */
  refused = 0

  constructor (components: SyncStreamComponents, init: SyncStreamInit) {
    this.c = components
    this.init = init
    this.budget = new ByteBudget(Math.max(init.maxBytes, SYNC_READ_BUDGET_BYTES))
  }

  /** Serve the protocol. */
  async start (): Promise<void> {
    await this.c.libp2p.handle(SYNC_PROTOCOL_V2, (stream, connection) => {
      const max = this.init.maxInbound ?? 0
      if (max > 0 && this.serving >= max) {
        this.refused++
        stream.abort(new Error('busy: too many push-pulls at once'))
        return
      }
      this.serving++
      void this.serve(stream, connection.remotePeer.toString()).finally(() => { this.serving-- })
    }, { maxInboundStreams: 4, maxOutboundStreams: 8 })
  }

  /** Stop serving. */
  async stop (): Promise<void> {
    await this.c.libp2p.unhandle(SYNC_PROTOCOL_V2).catch(() => {})
  }

  /** Exchange states with the member at `to` (peer id `id` when known); the reply, or why not. */
  async exchange (to: Endpoint, id: string | null, state: SyncState, signal?: AbortSignal): Promise<WireResult<SyncState>> {
    const deadline = signal === undefined ? AbortSignal.timeout(this.init.timeoutMs) : AbortSignal.any([signal, AbortSignal.timeout(this.init.timeoutMs)])
    let stream: Stream | undefined
    try {
      const ma = multiaddr(endpointMultiaddr(to) + (id !== null ? `/p2p/${id}` : ''))
      stream = await this.c.libp2p.dialProtocol(ma, SYNC_PROTOCOL_V2, { signal: deadline })
      // lpStream buffers at most 4 MiB unless told: a state may be up to maxBytes.
      const lp = lpStream(stream, { maxDataLength: this.init.maxBytes, maxBufferSize: this.init.maxBytes + 8 })
      await lp.write(this.c.codec.encode(state), { signal: deadline })
      const reply = this.c.codec.decode((await lp.read({ signal: deadline })).subarray())
      await closeStream(stream, deadline)
      if (!reply.ok) this.c.onBadInput(id ?? `${to.host}:${to.port}`, reply.reason)
      return reply
    } catch (err) {
      stream?.abort(err as Error)
      return { ok: false, reason: (err as Error).message }
    }
  }

  private async serve (stream: Stream, from: string): Promise<void> {
    const deadline = AbortSignal.timeout(this.init.timeoutMs)
    try {
      // Any secret holder may push-pull (it is how a node joins): what all of them can make this
      // agent read at once is bounded by the shared budget (protocol/streams/bounded-frames.ts).
      const lp = new BoundedFrames(stream, this.init.maxBytes)
      const frame = await lp.read({ maxBytes: this.init.maxBytes, signal: deadline, budget: this.budget })
      let req: WireResult<SyncState>
      try { req = this.c.codec.decode(frame.bytes) } finally { frame.release() }
      if (!req.ok) {
        this.c.onBadInput(from, req.reason)
        stream.abort(new Error('malformed sync state'))
        return
      }
      const reply = this.c.answer(from, req.value)
      if (reply === null) {
        stream.abort(new Error('sync refused'))
        return
      }
      await lp.write(this.c.codec.encode(reply), deadline)
      await closeStream(stream, deadline)
    } catch (err) {
      this.c.logger.debug({ peer: from, err: (err as Error).message }, 'push-pull stream failed')
      stream.abort(err as Error)
    }
  }
}
