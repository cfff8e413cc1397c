/** Writing API responses: JSON values, error bodies, and NDJSON streams. */

import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { ClusterdError, type ErrorBody } from '../../protocol/errors.js'
import { JSON_CONTENT_TYPE, NDJSON_CONTENT_TYPE } from './constants.js'

/**
 * A handler result sent as text with its own content type (Prometheus' exposition format, the
 * web console's files) and any extra headers (the console's Content-Security-Policy).
 */
export class TextReply {
  constructor (readonly status: number, readonly contentType: string, readonly text: string, readonly headers: Record<string, string> = {}) {}
}

/** Send a TextReply. */
export function sendText (res: ServerResponse, reply: TextReply): void {
  res.writeHead(reply.status, {
    'content-type': reply.contentType,
    'content-length': String(Buffer.byteLength(reply.text)),
    'cache-control': 'no-store',
    ...reply.headers
  })
  res.end(reply.text)
}

/** True for async iterables other than strings and arrays (those are plain JSON values). */
export function isAsyncIterable (value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && Symbol.asyncIterator in value
}

/** Send `body` as compact JSON with `status` (204 and no body when body is undefined). */
export function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status === 200 ? 204 : status, { 'cache-control': 'no-store', ...headers })
    res.end()
    return
  }
  const text = JSON.stringify(body) + '\n'
  res.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers
  })
  res.end(text)
}

/**
 * The error body and status for `err`. A ClusterdError keeps its code and message; anything
 * else is a bug: logged with its stack, answered as CLUSTERD_ERR_INTERNAL without detail.
 */
export function errorResponse (err: unknown, log: Logger): { status: number, body: ErrorBody } {
  if (err instanceof ClusterdError) return { status: err.status, body: err.toBody() }
  log.error({ err }, 'API handler failed')
  const internal = new ClusterdError('CLUSTERD_ERR_INTERNAL', 'internal error; see the agent log')
  return { status: internal.status, body: internal.toBody() }
}

/**
 * Stream `items` as NDJSON, honouring back-pressure. Stops when `signal` aborts (client gone
 * or server stopping). An error after the headers are out becomes a last line
 * `{"error":{...}}`, since the status can no longer change.
 */
export async function streamNdjson (res: ServerResponse, items: AsyncIterable<unknown>, signal: AbortSignal, log: Logger): Promise<void> {
  res.writeHead(200, { 'content-type': NDJSON_CONTENT_TYPE, 'cache-control': 'no-store' })
  try {
    for await (const item of items) {
      if (signal.aborted) break
      if (!res.write(JSON.stringify(item) + '\n')) {
        await once(res, 'drain', { signal })
      }
    }
  } catch (err) {
    if (signal.aborted) {
      res.destroy()
      return
    }
    res.write(JSON.stringify(errorResponse(err, log).body) + '\n')
  }
  res.end()
}
