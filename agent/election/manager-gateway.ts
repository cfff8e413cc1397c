/**
 * Any agent answers manager API calls: it runs them locally when it is the manager and
 * otherwise forwards them over a libp2p stream to the elected manager. Requests never hang:
 * with no manager they wait a bounded time for an election, then fail with
 * CLUSTERD_ERR_NO_MANAGER; a manager that dies mid-request gives a clear retryable error.
 * Streaming results (NDJSON: job logs --follow, --wait progress) are forwarded frame by frame.
 */

import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import { ClusterdError, isErrorCode, type ErrorBody } from '../../protocol/errors.js'
import { FORWARD_PROTOCOL, MAX_FORWARD_FRAME_BYTES, decodeForwardRequest, type ForwardRequest } from '../../protocol/manager-wire.js'
import type { ApiRequest, ApiHandler } from '../api/router.js'
import { ApiReply, isAsyncIterable } from '../api/respond.js'
import { closeStream } from '../libp2p/close-stream.js'
import type { Election } from './election.js'

/** Largest forwarded frame. */
const MAX_FRAME_BYTES = MAX_FORWARD_FRAME_BYTES
/** How long a request waits for an election before failing. */
const ELECTION_WAIT_MS = 10_000
/** Deadline of a forwarded non-streaming request. */
const FORWARD_TIMEOUT_MS = 60_000

/** A manager route: `GET /v1/nodes/:name` style key plus handler. */
export interface ManagerRoute { method: 'GET' | 'POST' | 'PUT' | 'DELETE', pattern: string, handler: ApiHandler }

/** The manager's routes while this agent is manager, else null. */
export type LocalRoutes = () => Map<string, ApiHandler> | null

/** Collaborators. */
export interface ManagerGatewayComponents {
  libp2p: Libp2p
  election: Election
  logger: Logger
  localRoutes: LocalRoutes
  /** Why the local manager role is not running, when it failed to start. */
  startError?: () => string | null
}

type Frame =
  | { k: 'value', status: number, body: unknown }
  | { k: 'error', error: ErrorBody['error'] }
  | { k: 'stream' }
  | { k: 'item', item: unknown }
  | { k: 'end' }

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const dec = (b: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(b))

/** Route key of a method + pattern. */
export function routeKey (method: string, pattern: string): string { return `${method} ${pattern}` }

/** Forwards manager API calls to wherever the manager is. */
export class ManagerGateway {
  private readonly c: ManagerGatewayComponents

  constructor (components: ManagerGatewayComponents) {
    this.c = components
  }

  /** Serve forwarded requests (only answered while this agent is manager). */
  async start (): Promise<void> {
    await this.c.libp2p.handle(FORWARD_PROTOCOL, (stream) => { void this.serve(stream) }, { maxInboundStreams: 256 })
  }

  /** Stop serving. */
  async stop (): Promise<void> {
    await this.c.libp2p.unhandle(FORWARD_PROTOCOL)
  }

  /** A handler for the agent's API server that runs `key` on the manager. */
  handler (key: string): ApiHandler {
    return async (req) => await this.call(key, req)
  }

  /** Run route `key` on the manager. */
  async call (key: string, req: ApiRequest): Promise<unknown> {
    const manager = await this.waitForManager(req.signal)
    if (manager.local) {
      const handler = this.c.localRoutes()?.get(key)
      if (handler === undefined) throw this.notServing()
      return await handler(req)
    }
    return await this.forward(manager.peerId, manager.name, { key, params: req.params, query: req.query, body: req.body }, req.signal)
  }

  private notServing (): ClusterdError {
    const m = this.c.election.manager()
    if (m === null || !m.local) return new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'this agent is no longer the manager; retry (the cluster is electing or has elected another)')
    const why = this.c.startError?.() ?? null
    return new ClusterdError('CLUSTERD_ERR_NO_MANAGER', why === null
      ? `the manager role on ${m.name} is still starting; retry shortly`
      : `the manager role on ${m.name} failed to start: ${why} (it retries every 5 s; see its log)`)
  }

  private async waitForManager (signal: AbortSignal): Promise<{ peerId: string, name: string, local: boolean }> {
    const deadline = Date.now() + ELECTION_WAIT_MS
    while (true) {
      const m = this.c.election.manager()
      if (m !== null) return m
      if (Date.now() >= deadline || signal.aborted) {
        throw new ClusterdError('CLUSTERD_ERR_NO_MANAGER', `no manager is elected (waited ${ELECTION_WAIT_MS / 1000} s); an election may be in progress, retry shortly`)
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  private async forward (peerId: string, name: string, req: ForwardRequest, clientSignal: AbortSignal): Promise<unknown> {
    const signal = AbortSignal.any([clientSignal, AbortSignal.timeout(FORWARD_TIMEOUT_MS)])
    let stream: Stream
    try {
      stream = await this.c.libp2p.dialProtocol(peerIdFromString(peerId), FORWARD_PROTOCOL, { signal })
    } catch (err) {
      throw new ClusterdError('CLUSTERD_ERR_NO_MANAGER', `cannot reach the manager ${name}: ${(err as Error).message}; a failover may be in progress, retry shortly`)
    }
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
    const unreachable = (err: unknown): ClusterdError =>
      new ClusterdError('CLUSTERD_ERR_NO_MANAGER', `lost the manager ${name} during the request: ${(err as Error).message}; retry (the manager may have changed)`)
    try {
      await lp.write(enc(req), { signal })
      const first = dec((await lp.read({ signal })).subarray()) as Frame
      if (first.k === 'error') {
        await closeStream(stream)
        throw new ClusterdError(isErrorCode(first.error.code) ? first.error.code : 'CLUSTERD_ERR_INTERNAL', first.error.message, first.error.details)
      }
      if (first.k === 'value') {
        await closeStream(stream)
        return first.status === 200 ? first.body : new ApiReply(first.status, first.body)
      }
      // A stream: keep reading items until end, for as long as the client listens.
      return this.items(stream, lp, clientSignal, unreachable)
    } catch (err) {
      if (err instanceof ClusterdError) throw err
      stream.abort(err as Error)
      throw unreachable(err)
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

  private async serve (stream: Stream): Promise<void> {
    const lifetime = new AbortController()
    stream.addEventListener('close', () => { lifetime.abort() })
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
    const send = async (f: Frame): Promise<void> => { await lp.write(enc(f)) }
    let failed = false
    try {
      let req: ForwardRequest
      try {
        const decoded = decodeForwardRequest((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
        if (!decoded.ok) throw new Error(decoded.reason)
        req = decoded.value
      } catch (err) {
        this.c.logger.warn({ reason: (err as Error).message }, 'refused a malformed forwarded request')
        await send({ k: 'error', error: { code: 'CLUSTERD_ERR_INVALID_ARGUMENT', message: `malformed forwarded request: ${(err as Error).message}` } })
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
