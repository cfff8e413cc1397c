/**
 * Push-pull over an on-demand libp2p stream. `/clusterd/sync/3.0.0` (digest push-pull,
 * core/digest.ts): the initiator writes a digest of its state, the responder answers with the
 * entries that differ and the ids it wants back, the initiator writes those: three
 * length-prefixed frames, each of bounded size, every read and write under one deadline.
 * `/clusterd/sync/2.0.0` (one whole state each way) is still served, and used when the peer
 * does not speak 3.0.0: the initiator offers both and multistream-select picks the first the
 * peer serves (rolling agent upgrades mix versions). A join is a push-pull to a seed by
 * host:port (its peer id unknown: libp2p learns it in the handshake); the PSK protector keeps
 * strangers out. The connection it opens is not kept: the idle-connection closer ends it
 * (agent/libp2p).
 */

import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import type { WireResult } from '../../protocol/membership-wire.js'
import { BoundedFrames, ByteBudget } from '../../protocol/streams/bounded-frames.js'
import { closeStream } from '../../protocol/streams/close-stream.js'
import { MAX_DIGEST_BYTES, MAX_DIGEST_REPLY_BYTES, decodeDigest, decodeDigestReply, encodeDigest, encodeDigestReply } from '../../protocol/swim-digest-wire.js'
import { digestOf } from './core/digest.js'
import type { DigestReply, Endpoint, SyncDigest, SyncState } from './core/types.js'
import { endpointMultiaddr } from './verified-records.js'

/** Bytes of inbound push-pull states read at once (at least one largest state). */
const SYNC_READ_BUDGET_BYTES = 16 * 1024 * 1024

/** Direct-stream protocol of the full-state push-pull exchange (served for older agents). */
export const SYNC_PROTOCOL_V2 = '/clusterd/sync/2.0.0'
/** Direct-stream protocol of the digest push-pull exchange (preferred). */
export const SYNC_PROTOCOL_V3 = '/clusterd/sync/3.0.0'

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
  /** 2.0.0: answer a peer's state with ours (the core merges theirs); null refuses. */
  answer: (from: string, state: SyncState) => SyncState | null
  /** 3.0.0: answer a peer's digest with what differs (nothing merged yet); null refuses. */
  answerDigest: (from: string, digest: SyncDigest) => DigestReply | null
  /** 3.0.0: the entries we asked the peer for arrived (the core merges them). */
  takePush: (from: string, state: SyncState) => void
  /** A peer sent something that did not decode. */
  onBadInput: (from: string, reason: string) => void
}

/** What the initiator of an exchange does with each answer. */
export interface ExchangeHandlers {
  /** 2.0.0: the peer's whole state came back (merge it). */
  reply: (state: SyncState) => void
  /** 3.0.0: the peer's entries and wants came back: merge them; the entries to push (null = none). */
  digestReply: (reply: DigestReply) => SyncState | null
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
  /** Protocols offered when initiating, preferred first (default 3.0.0 then 2.0.0; tests pin one). */
  offer?: string[]
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

  /** Serve both protocol versions (the inbound limit counts them together). */
  async start (): Promise<void> {
    for (const [protocol, serve] of [[SYNC_PROTOCOL_V3, this.serveDigest], [SYNC_PROTOCOL_V2, this.serve]] as const) {
      await this.c.libp2p.handle(protocol, (stream, connection) => {
        const max = this.init.maxInbound ?? 0
        if (max > 0 && this.serving >= max) {
          this.refused++
          stream.abort(new Error('busy: too many push-pulls at once'))
          return
        }
        this.serving++
        void serve.call(this, stream, connection.remotePeer.toString()).finally(() => { this.serving-- })
      }, { maxInboundStreams: 4, maxOutboundStreams: 8 })
    }
  }

  /** Stop serving. */
  async stop (): Promise<void> {
    await this.c.libp2p.unhandle(SYNC_PROTOCOL_V3).catch(() => {})
    await this.c.libp2p.unhandle(SYNC_PROTOCOL_V2).catch(() => {})
  }

  /**
   * Exchange states with the member at `to` (peer id `id` when known): a digest push-pull
   * when it speaks 3.0.0, else the whole `state` both ways. The version used, or why it failed.
   */
  async exchange (to: Endpoint, id: string | null, state: SyncState, handlers: ExchangeHandlers, signal?: AbortSignal): Promise<WireResult<'2.0.0' | '3.0.0'>> {
    const deadline = signal === undefined ? AbortSignal.timeout(this.init.timeoutMs) : AbortSignal.any([signal, AbortSignal.timeout(this.init.timeoutMs)])
    const protocols = this.init.offer ?? [SYNC_PROTOCOL_V3, SYNC_PROTOCOL_V2]
    let stream: Stream | undefined
    try {
      const ma = multiaddr(endpointMultiaddr(to) + (id !== null ? `/p2p/${id}` : ''))
      stream = await this.c.libp2p.dialProtocol(ma, protocols, { signal: deadline })
      const peer = id ?? `${to.host}:${to.port}`
      // lpStream buffers at most 4 MiB unless told: a state may be up to maxBytes (a digest
      // reply: its wants besides).
      const max = stream.protocol === SYNC_PROTOCOL_V3 ? this.init.maxBytes + MAX_DIGEST_BYTES : this.init.maxBytes
      const lp = lpStream(stream, { maxDataLength: max, maxBufferSize: max + 8 })
      if (stream.protocol === SYNC_PROTOCOL_V3) {
        await lp.write(encodeDigest(digestOf(state)), { signal: deadline })
        const reply = decodeDigestReply((await lp.read({ signal: deadline })).subarray(), MAX_DIGEST_REPLY_BYTES)
        if (!reply.ok) {
          this.c.onBadInput(peer, reply.reason)
          stream.abort(new Error('malformed digest reply'))
          return reply
        }
        const push = handlers.digestReply(reply.value)
        await lp.write(this.c.codec.encode(push ?? { from: state.from, members: [], user: [], join: false }), { signal: deadline })
        await closeStream(stream, deadline)
        return { ok: true, value: '3.0.0' }
      }
      await lp.write(this.c.codec.encode(state), { signal: deadline })
      const reply = this.c.codec.decode((await lp.read({ signal: deadline })).subarray())
      await closeStream(stream, deadline)
      if (!reply.ok) {
        this.c.onBadInput(peer, reply.reason)
        return reply
      }
      handlers.reply(reply.value)
      return { ok: true, value: '2.0.0' }
    } catch (err) {
      stream?.abort(err as Error)
      return { ok: false, reason: (err as Error).message }
    }
  }

  /** 2.0.0: one whole state each way. */
  private async serve (stream: Stream, from: string): Promise<void> {
    const deadline = AbortSignal.timeout(this.init.timeoutMs)
    try {
      // Any secret holder may push-pull (it is how a node joins): what all of them can make this
      // agent read at once is bounded by the shared budget (protocol/streams/bounded-frames.ts).
      const lp = new BoundedFrames(stream, this.init.maxBytes)
      const req = await this.readState(lp, from, deadline)
      if (req === null) { stream.abort(new Error('malformed sync state')); return }
      const reply = this.c.answer(from, req)
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

  /** 3.0.0: digest in, the entries that differ and our wants out, the wanted entries in. */
  private async serveDigest (stream: Stream, from: string): Promise<void> {
    const deadline = AbortSignal.timeout(this.init.timeoutMs)
    try {
      const lp = new BoundedFrames(stream, Math.max(this.init.maxBytes, MAX_DIGEST_BYTES))
      const frame = await lp.read({ maxBytes: MAX_DIGEST_BYTES, signal: deadline, budget: this.budget })
      let digest: ReturnType<typeof decodeDigest>
      try { digest = decodeDigest(frame.bytes) } finally { frame.release() }
      if (!digest.ok) {
        this.c.onBadInput(from, digest.reason)
        stream.abort(new Error('malformed sync digest'))
        return
      }
      // The digest names its sender (the core answers with what it holds about it, e.g. a
      // verdict to refute): it must be the peer on the other end of the connection.
      if (digest.value.from !== from) {
        this.c.onBadInput(from, `digest sent by ${from} names ${digest.value.from} as its sender`)
        stream.abort(new Error('sync digest names another sender'))
        return
      }
      const reply = this.c.answerDigest(from, digest.value)
      if (reply === null) {
        stream.abort(new Error('sync refused'))
        return
      }
      await lp.write(encodeDigestReply(reply), deadline)
      const push = await this.readState(lp, from, deadline)
      if (push === null || push.from !== from) {
        if (push !== null) this.c.onBadInput(from, `sync state sent by ${from} names ${push.from ?? 'nobody'} as its sender`)
        stream.abort(new Error('malformed sync state'))
        return
      }
      this.c.takePush(from, push)
      await closeStream(stream, deadline)
    } catch (err) {
      this.c.logger.debug({ peer: from, err: (err as Error).message }, 'push-pull stream failed')
      stream.abort(err as Error)
    }
  }

  /** One state frame under the shared budget; null (reported) when it does not decode. */
  private async readState (lp: BoundedFrames, from: string, deadline: AbortSignal): Promise<SyncState | null> {
    const frame = await lp.read({ maxBytes: this.init.maxBytes, signal: deadline, budget: this.budget })
    let req: WireResult<SyncState>
    try { req = this.c.codec.decode(frame.bytes) } finally { frame.release() }
    if (req.ok) return req.value
    this.c.onBadInput(from, req.reason)
    return null
  }
}
