/**
 * Facts on demand (`/clusterd/facts/1.0.0`): a node's signed membership record carries only a
 * digest of its facts (protocol/membership-wire.ts), and whoever needs the facts (the manager's
 * discovery, `GET /v1/members`) fetches them from the node over an on-demand libp2p stream. The
 * requester sends the digest it wants, the node answers with its current facts document (one
 * bounded frame); the requester accepts it only if its SHA-256 is that digest, so the facts are
 * as authentic as the signed record, whoever answered. The PSK protector keeps strangers out.
 */

import { createHash } from 'node:crypto'
import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import type { NodeFacts } from '../../protocol/members.js'
import { FACTS_DIGEST_PATTERN, MAX_FACTS_BYTES, decodeFacts, type WireResult } from '../../protocol/membership-wire.js'
import { closeStream } from '../../protocol/streams/close-stream.js'

/** Direct-stream protocol of the facts fetch. */
export const FACTS_PROTOCOL = '/clusterd/facts/1.0.0'

/** The digest a record names for these exact facts bytes (FACTS_DIGEST_PATTERN). */
export function factsDigest (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest().subarray(0, 16).toString('base64url')
}

/** Facts as served: the exact bytes (their digest goes into the signed record). */
export interface EncodedFacts { bytes: Uint8Array, digest: string }

/** Encode facts once per change; the bytes are what is served and digested. */
export function encodeFacts (facts: NodeFacts): EncodedFacts {
  const bytes = new TextEncoder().encode(JSON.stringify(facts))
  return { bytes, digest: factsDigest(bytes) }
}

/** Collaborators. */
export interface FactsStreamComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  logger: Logger
  /** This node's current facts (null while it has none: the request is refused). */
  current: () => EncodedFacts | null
}

/** Settings. */
export interface FactsStreamInit {
  /** Deadline of one fetch (dial, request, answer). Default 5 s. */
  timeoutMs?: number
}

/** Facts server and client. */
export class FactsStream {
  private readonly c: FactsStreamComponents
  private readonly timeoutMs: number
  /** Counters: served, fetched, refused answers (bad digest or document), failed fetches. */
  readonly stats = { served: 0, fetched: 0, refused: 0, failed: 0 }

  constructor (components: FactsStreamComponents, init: FactsStreamInit = {}) {
    this.c = components
    this.timeoutMs = init.timeoutMs ?? 5_000
  }

  /** Serve our facts. */
  async start (): Promise<void> {
    await this.c.libp2p.handle(FACTS_PROTOCOL, (stream, connection) => {
      void this.serve(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 8, maxOutboundStreams: 8 })
  }

  /** Stop serving. */
  async stop (): Promise<void> {
    await this.c.libp2p.unhandle(FACTS_PROTOCOL).catch(() => {})
  }

  /**
   * Fetch the facts with `digest` from the member `peerId` listening at `addr` (a multiaddr
   * without /p2p); the facts, or why not. Never throws.
   */
  async fetch (peerId: string, addr: string, digest: string, signal?: AbortSignal): Promise<WireResult<NodeFacts>> {
    const deadline = signal === undefined ? AbortSignal.timeout(this.timeoutMs) : AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)])
    let stream: Stream | undefined
    try {
      stream = await this.c.libp2p.dialProtocol(multiaddr(`${addr}/p2p/${peerId}`), FACTS_PROTOCOL, { signal: deadline })
      const lp = lpStream(stream, { maxDataLength: MAX_FACTS_BYTES })
      await lp.write(new TextEncoder().encode(digest), { signal: deadline })
      const bytes = (await lp.read({ signal: deadline })).subarray()
      await closeStream(stream, deadline)
      if (factsDigest(bytes) !== digest) {
        this.stats.refused++
        return { ok: false, reason: 'the facts do not match the digest in the signed record (changed since, or forged)' }
      }
      const facts = decodeFacts(bytes)
      if (!facts.ok) this.stats.refused++
      else this.stats.fetched++
      return facts
    } catch (err) {
      stream?.abort(err as Error)
      this.stats.failed++
      return { ok: false, reason: (err as Error).message }
    }
  }

  private async serve (stream: Stream, from: string): Promise<void> {
    const deadline = AbortSignal.timeout(this.timeoutMs)
    try {
      const lp = lpStream(stream, { maxDataLength: 64 })
      const want = new TextDecoder().decode((await lp.read({ signal: deadline })).subarray())
      const facts = this.c.current()
      if (!FACTS_DIGEST_PATTERN.test(want) || facts === null) {
        stream.abort(new Error(facts === null ? 'no facts yet' : 'malformed facts request'))
        return
      }
      // The current facts even when the digest differs: the requester judges (it may hold an older record).
      await lp.write(facts.bytes, { signal: deadline })
      await closeStream(stream, deadline)
      this.stats.served++
    } catch (err) {
      this.c.logger.debug({ peer: from, err: (err as Error).message }, 'facts stream failed')
      stream.abort(err as Error)
    }
  }
}
