/**
 * Any agent answers manager API calls: it runs them locally when it is the manager and
 * otherwise forwards them over a libp2p stream to the elected manager. Requests never hang.
 * During a failover a request waits for a manager (up to 10 s after the election last moved,
 * 25 s in all) and is retried on the new manager when it was not delivered to the old one (dial
 * failed, the role was not serving yet). A forward in flight is abandoned as soon as the election
 * names another manager. A request that may have reached the old manager is retried only when it
 * is idempotent (GET, PUT, DELETE); a POST (a job submission, a cancel) then fails with
 * CLUSTERD_ERR_MANAGER_CHANGED, because it may or may not have been applied: the caller checks
 * (`clusterctl jobs`) before submitting again. With no manager at the deadline:
 * CLUSTERD_ERR_NO_MANAGER. Streaming results (NDJSON: job logs --follow, --wait progress) are
 * forwarded frame by frame; a broken stream is not retried here (the CLI resumes it).
 */

import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import { ClusterdError, isErrorCode, type ErrorBody } from '../../protocol/errors.js'
import { FORWARD_PROTOCOL, MAX_FORWARD_FRAME_BYTES, MAX_FORWARD_REQUEST_BYTES, decodeForwardRequest, type ForwardRequest, type ManagerInfo } from '../../protocol/manager-wire.js'
import { ApiReply, type ApiRequest, type ApiHandler } from '../../protocol/api-handler.js'
import { isAsyncIterable } from '../api/respond.js'
import { BoundedFrames, ByteBudget, FrameBudgetError, FrameTooLargeError } from '../../protocol/streams/bounded-frames.js'
import { closeStream } from '../../protocol/streams/close-stream.js'
import { pauseQuietly } from '../../protocol/streams/serve-one-frame.js'
import type { Election } from '../election/election.js'

/** Largest forwarded frame (manager replies). */
const MAX_FRAME_BYTES = MAX_FORWARD_FRAME_BYTES
/** Forwarded requests one connection may hold open at once (log follows are long-lived). */
export const FORWARD_MAX_INBOUND_STREAMS = 64
/** Bytes of forwarded request frames read and parsed at once, across every member and stream. */
export const FORWARD_READ_BUDGET_BYTES = 8 * 1024 * 1024
/** How long a request waits for a (new) manager before failing; renewed when the election moves. */
const ELECTION_WAIT_MS = 10_000
/** The gateway gives up after this long in all, before clusterctl's default 30 s timeout. */
const GATEWAY_MAX_MS = 25_000
/** Pause between attempts while the election has not moved. */
const RETRY_PAUSE_MS = 200
/** Deadline of a forwarded non-streaming request. */
const FORWARD_TIMEOUT_MS = 60_000

/** The manager's routes while this agent is manager, else null. */
export type LocalRoutes = () => Map<string, ApiHandler> | null

/** Collaborators. */
export interface ManagerGatewayComponents {
  libp2p: Libp2p
  /** Dials the manager (default: `libp2p`; the agent's tells libp2p the member's address first). */
  dialer?: Pick<Libp2p, 'dialProtocol'>
  election: Pick<Election, 'manager' | 'onChange'>
  logger: Logger
  localRoutes: LocalRoutes
  /** Why the local manager role is not running, when it failed to start. */
  startError?: () => string | null
  /** Whether a peer is in this agent's membership view: only members' forwarded requests are read. */
  isMember: (peerId: string) => boolean
}

type Frame =
  | { k: 'value', status: number, body: unknown }
  | { k: 'error', error: ErrorBody['error'] }
  | { k: 'stream' }
  | { k: 'item', item: unknown }
  | { k: 'end' }

/**
 * A forward that failed without an answer from the manager. `delivered` is false only when the
 * request certainly did not reach a handler (dial failed, or the manager said it is not serving).
 */
class ForwardFailure extends Error {
  constructor (readonly error: ClusterdError, readonly delivered: boolean) {
    super(error.message)
  }
}

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const dec = (b: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(b))

/** Forwards manager API calls to wherever the manager is. */
export class ManagerGateway {
  private readonly c: ManagerGatewayComponents
  private readonly budget = new ByteBudget(FORWARD_READ_BUDGET_BYTES)

  constructor (components: ManagerGatewayComponents) {
    this.c = components
  }

  /** Serve forwarded requests (only answered while this agent is manager). */
  async start (): Promise<void> {
    await this.c.libp2p.handle(FORWARD_PROTOCOL, (stream, connection) => { void this.serve(stream, connection.remotePeer.toString()) }, { maxInboundStreams: FORWARD_MAX_INBOUND_STREAMS })
  }

  /** Stop serving. */
  async stop (): Promise<void> {
    await this.c.libp2p.unhandle(FORWARD_PROTOCOL)
  }

  /** A handler for the agent's API server that runs `key` on the manager. */
  handler (key: string): ApiHandler {
    return async (req) => await this.call(key, req)
  }

  /** Run route `key` on the manager, waiting for and retrying across a failover (see the header). */
  async call (key: string, req: ApiRequest): Promise<unknown> {
    const idempotent = !key.startsWith('POST ')
    const started = Date.now()
    const giveUpAt = started + GATEWAY_MAX_MS
    let deadline = started + ELECTION_WAIT_MS
    let last: ClusterdError | null = null
    let tried: { peerId: string, epoch: number } | null = null
    while (true) {
      const manager = await this.waitForManager(req.signal, Math.min(deadline, giveUpAt), last)
      if (tried !== null && (manager.peerId !== tried.peerId || manager.epoch !== tried.epoch)) {
        // The election moved on: the new manager gets a full wait of its own.
        deadline = Math.max(deadline, Date.now() + ELECTION_WAIT_MS)
      }
      tried = { peerId: manager.peerId, epoch: manager.epoch }
      if (manager.local) {
        const handler = this.c.localRoutes()?.get(key)
        if (handler !== undefined) return await handler(req)
        last = this.notServing()
      } else {
        try {
          return await this.forward(manager, { key, params: req.params, query: req.query, body: req.body }, req.signal)
        } catch (err) {
          if (!(err instanceof ForwardFailure)) throw err
          if (err.delivered && !idempotent) {
            throw new ClusterdError('CLUSTERD_ERR_MANAGER_CHANGED', `${err.message}; the request may or may not have been applied, so it was not sent again: check (e.g. clusterctl jobs) before retrying`)
          }
          last = err.error
        }
      }
      const now = Date.now()
      if (now >= Math.min(deadline, giveUpAt) || req.signal.aborted) throw last
      this.c.logger.debug({ route: key, manager: manager.name, why: last.message }, 'manager request not served; retrying')
      await this.electionMoves(manager, req.signal, Math.min(deadline, giveUpAt, now + RETRY_PAUSE_MS))
    }
  }

  /** Why `from` may not send a forwarded request now (decided before reading it), or null. */
  private admit (from: string): ClusterdError | null {
    if (this.c.localRoutes() === null) return this.notServing()
    if (!this.c.isMember(from)) {
      // Nothing ran: the forwarder retries (a new member may not be in this view for a moment).
      return new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'the manager does not know the forwarding agent as a member (yet); retry shortly')
    }
    return null
  }

  private notServing (): ClusterdError {
    const m = this.c.election.manager()
    if (m === null || !m.local) return new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'this agent is no longer the manager; retry (the cluster is electing or has elected another)')
    const why = this.c.startError?.() ?? null
    return new ClusterdError('CLUSTERD_ERR_NO_MANAGER', why === null
      ? `the manager role on ${m.name} is still starting; retry shortly`
      : `the manager role on ${m.name} failed to start: ${why} (it retries every 5 s; see its log)`)
  }

  /** The elected manager; waits until `deadline` while there is none. */
  private async waitForManager (signal: AbortSignal, deadline: number, last: ClusterdError | null): Promise<ManagerInfo> {
    const waitedFrom = Date.now()
    while (true) {
      const m = this.c.election.manager()
      if (m !== null) return m
      if (Date.now() >= deadline || signal.aborted) {
        throw last ?? new ClusterdError('CLUSTERD_ERR_NO_MANAGER', `no manager is elected (waited ${Math.round((Date.now() - waitedFrom) / 100) / 10} s); an election may be in progress, retry shortly`)
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  /** Resolves when the election names another manager than `m`, or at `until`. */
  private async electionMoves (m: ManagerInfo, signal: AbortSignal, until: number): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => { clearTimeout(timer); off(); signal.removeEventListener('abort', done); resolve() }
      const timer = setTimeout(done, Math.max(0, until - Date.now()))
      const off = this.c.election.onChange(info => { if (info === null || info.peerId !== m.peerId || info.epoch !== m.epoch) done() })
      signal.addEventListener('abort', done, { once: true })
    })
  }

  private async forward (manager: ManagerInfo, req: ForwardRequest, clientSignal: AbortSignal): Promise<unknown> {
    const { peerId, name } = manager
    // Abandon the forward as soon as the election moves on: a dead manager's connection may
    // not fail for a long time (a powered-off host sends no reset).
    const moved = new AbortController()
    const off = this.c.election.onChange(info => {
      if (info === null || info.peerId !== peerId || info.epoch !== manager.epoch) moved.abort(new Error(`the election moved on from ${name} (epoch ${manager.epoch})`))
    })
    const signal = AbortSignal.any([clientSignal, moved.signal, AbortSignal.timeout(FORWARD_TIMEOUT_MS)])
    const reason = (err: unknown): string => moved.signal.aborted ? (moved.signal.reason as Error).message : (err as Error).message
    let stream: Stream
    try {
      stream = await (this.c.dialer ?? this.c.libp2p).dialProtocol(peerIdFromString(peerId), FORWARD_PROTOCOL, { signal })
    } catch (err) {
      off()
      if (clientSignal.aborted) throw err
      throw new ForwardFailure(new ClusterdError('CLUSTERD_ERR_NO_MANAGER', `cannot reach the manager ${name}: ${reason(err)}; a failover may be in progress, retry shortly`), false)
    }
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
    const unreachable = (err: unknown): ClusterdError =>
      new ClusterdError('CLUSTERD_ERR_NO_MANAGER', `lost the manager ${name} during the request: ${reason(err)}; retry (the manager may have changed)`)
    let written = false
    try {
      written = true
      await lp.write(enc(req), { signal })
      const first = dec((await lp.read({ signal })).subarray()) as Frame
      off()
      if (first.k === 'error') {
        await closeStream(stream)
        const e = new ClusterdError(isErrorCode(first.error.code) ? first.error.code : 'CLUSTERD_ERR_INTERNAL', first.error.message, first.error.details)
        // The manager's "not serving" answers come before any handler ran: safe to retry anywhere.
        if (e.code === 'CLUSTERD_ERR_NO_MANAGER') throw new ForwardFailure(e, false)
        throw e
      }
      if (first.k === 'value') {
        await closeStream(stream)
        return first.status === 200 ? first.body : new ApiReply(first.status, first.body)
      }
      // A stream: keep reading items until end, for as long as the client listens.
      return this.items(stream, lp, clientSignal, unreachable)
    } catch (err) {
      off()
      if (err instanceof ClusterdError || err instanceof ForwardFailure) throw err
      stream.abort(err as Error)
      if (clientSignal.aborted) throw err
      throw new ForwardFailure(unreachable(err), written)
    }
  }

  private async * items (stream: Stream, lp: ReturnType<typeof lpStream>, signal: AbortSignal, unreachable: (err: unknown) => ClusterdError): AsyncGenerator<unknown> {
    try {
      while (true) {
        const frame = dec((await lp.read({ signal })).subarray()) as Frame
        if (frame.k === 'end') break
        if (frame.k === 'item') yield frame.item
        if (frame.k === 'error') throw new ClusterdError(isErrorCode(frame.error.code) ? frame.error.code : 'CLUSTERD_ERR_INTERNAL', frame.error.message)
      }
      await closeStream(stream)
    } catch (err) {
      stream.abort(err as Error)
      if (err instanceof ClusterdError || signal.aborted) throw err
      throw unreachable(err)
    }
  }

  private async serve (stream: Stream, from: string): Promise<void> {
    // Authorise, then read: nothing of the frame is read (no flow-control window granted)
    // until the sender is known to be a member and this agent serves the manager role.
    pauseQuietly(stream)
    const lifetime = new AbortController()
    stream.addEventListener('close', () => { lifetime.abort() })
    const frames = new BoundedFrames(stream, MAX_FORWARD_REQUEST_BYTES)
    const send = async (f: Frame): Promise<void> => { await frames.write(enc(f), lifetime.signal) }
    let failed = false
    try {
      let req: ForwardRequest
      const refusal = this.admit(from)
      if (refusal !== null) {
        this.c.logger.warn({ peer: from, reason: refusal.message }, 'refused a forwarded request before reading it')
        await send({ k: 'error', error: refusal.toBody().error })
        return
      }
      stream.resume()
      try {
        const frame = await frames.read({ maxBytes: MAX_FORWARD_REQUEST_BYTES, signal: AbortSignal.timeout(10_000), budget: this.budget })
        let decoded: ReturnType<typeof decodeForwardRequest>
        try { decoded = decodeForwardRequest(frame.bytes) } finally { frame.release() }
        if (!decoded.ok) throw new Error(decoded.reason)
        req = decoded.value
      } catch (err) {
        // Whatever the refusal, nothing more of this stream is read.
        pauseQuietly(stream)
        const why = (err as Error).message
        if (err instanceof FrameBudgetError) {
          this.c.logger.warn({ peer: from, reason: why }, 'a forwarded request waited too long for the read budget')
          await send({ k: 'error', error: { code: 'CLUSTERD_ERR_UNAVAILABLE', message: `the manager is busy reading other requests (${why}); retry shortly` } })
          return
        }
        const tooLarge = err instanceof FrameTooLargeError
        this.c.logger.warn({ peer: from, reason: why }, tooLarge ? 'refused an oversized forwarded request before reading it' : 'refused a malformed forwarded request')
        await send({ k: 'error', error: { code: tooLarge ? 'CLUSTERD_ERR_PAYLOAD_TOO_LARGE' : 'CLUSTERD_ERR_INVALID_ARGUMENT', message: `malformed forwarded request: ${why}` } })
        return
      }
      const handler = this.c.localRoutes()?.get(req.key)
      if (handler === undefined) {
        const err = this.c.localRoutes() === null ? this.notServing() : new ClusterdError('CLUSTERD_ERR_NOT_FOUND', `unknown route ${req.key}`)
        await send({ k: 'error', error: err.toBody().error })
        return
      }
      let result: unknown
      try {
        result = await handler({ params: req.params, query: req.query, body: req.body, signal: lifetime.signal })
      } catch (err) {
        const e = err instanceof ClusterdError ? err : new ClusterdError('CLUSTERD_ERR_INTERNAL', 'internal error on the manager; see its log')
        if (!(err instanceof ClusterdError)) this.c.logger.error({ err, route: req.key }, 'forwarded request failed')
        await send({ k: 'error', error: e.toBody().error })
        return
      }
      if (isAsyncIterable(result)) {
        await send({ k: 'stream' })
        for await (const item of result) await send({ k: 'item', item })
        await send({ k: 'end' })
      } else if (result instanceof ApiReply) {
        await send({ k: 'value', status: result.status, body: result.body })
      } else {
        await send({ k: 'value', status: 200, body: result })
      }
    } catch (err) {
      failed = true
      stream.abort(err as Error)
    } finally {
      // Every path closes the stream: a stream left open counts against the per-connection limit.
      if (!failed) await closeStream(stream)
    }
  }
}
