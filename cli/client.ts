/**
 * ApiClient: the agent's local HTTP API over a unix socket or an http(s) URL. One typed
 * method per route. Transport failures become ExitError (agent unreachable / no answer);
 * an error body from the agent becomes the ClusterdError it describes.
 */

import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { ClusterdError, isErrorCode } from '../protocol/errors.js'
import type { Member } from '../protocol/members.js'
import { DEFAULT_TIMEOUT_MS, EXIT_INTERNAL, MAX_RESPONSE_BYTES } from './constants.js'
import { ExitError, unreachableError, usageError } from './errors.js'

/** How to reach the agent. */
export interface ApiClientInit {
  /** A unix socket path, or an `http://` / `https://` base URL. */
  addr: string
  /** Bearer token sent to http(s) addresses (never over the unix socket). */
  token?: string
  /** Overall deadline per request in ms (for streams: until the response starts). Default 30 s. */
  timeoutMs?: number
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal
}

type Target = { kind: 'socket', path: string } | { kind: 'url', url: URL }

function parseAddr (addr: string): Target {
  if (/^https?:\/\//i.test(addr)) {
    try {
      return { kind: 'url', url: new URL(addr) }
    } catch {
      throw usageError(`--addr: ${JSON.stringify(addr)} is not a valid URL`)
    }
  }
  if (addr === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(addr)) {
    throw usageError(`--addr: expected a unix socket path or an http(s):// URL; got ${JSON.stringify(addr)}`)
  }
  return { kind: 'socket', path: addr }
}

/** Words for a connection error code, as in `cannot reach the agent at X: <words>`. */
function describeConnectError (err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED': return 'connection refused (is clusterd running?)'
    case 'ENOENT': return 'no such socket (is clusterd running?)'
    case 'EACCES': case 'EPERM': return 'permission denied (run as root or as the socket owner)'
    case 'ECONNRESET': case 'EPIPE': return 'connection reset by the agent'
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'host name not found'
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'host unreachable'
    case 'ETIMEDOUT': return 'connection timed out'
    default: return err.code ?? err.message
  }
}

/** Client for the agent's local API. */
export class ApiClient {
  private readonly target: Target
  private readonly token: string | undefined
  private readonly timeoutMs: number
  /** The address as given, for messages. */
  readonly addr: string

  constructor (init: ApiClientInit) {
    this.addr = init.addr
    this.target = parseAddr(init.addr)
    this.token = init.token
    this.timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  /** `GET /v1/members`: every member this agent knows. */
  async members (options: CallOptions = {}): Promise<Member[]> {
    return await this.request<Member[]>('GET', '/v1/members', undefined, options)
  }

  /** Send one request and return the parsed JSON answer (undefined for 204). */
  async request<T> (method: string, path: string, body?: unknown, options: CallOptions = {}): Promise<T> {
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal])
    const res = await this.send(method, path, body, signal, timeout)
    const text = await this.readAll(res, signal, timeout)
    if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) {
      if (text === '') return undefined as T
      try {
        return JSON.parse(text) as T
      } catch {
        throw new ExitError(`the agent at ${this.addr} sent a response that is not JSON`, EXIT_INTERNAL)
      }
    }
    throw this.errorFrom(res.statusCode ?? 0, text)
  }

  /**
   * Send a request whose answer is an NDJSON stream (e.g. `--follow`) and yield each value.
   * The deadline covers only the wait for the response to start; the stream then lasts
   * until the agent ends it or `options.signal` aborts. A final `{"error":{...}}` line is
   * thrown as its ClusterdError.
   */
  async * stream<T> (method: string, path: string, body?: unknown, options: CallOptions = {}): AsyncGenerator<T> {
    const connect = new AbortController()
    const timer = setTimeout(() => { connect.abort(new DOMException('timeout', 'TimeoutError')) }, this.timeoutMs)
    const timeout = connect.signal
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal])
    let res: IncomingMessage
    try {
      res = await this.send(method, path, body, signal, timeout)
    } finally {
      clearTimeout(timer)
    }
    if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode >= 300) {
      throw this.errorFrom(res.statusCode ?? 0, await this.readAll(res, signal, timeout))
    }
    let pending = ''
    const parse = (line: string): T => {
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch {
        throw new ExitError(`the agent at ${this.addr} sent a stream line that is not JSON`, EXIT_INTERNAL)
      }
      const error = (value as { error?: { code?: unknown, message?: unknown } } | null)?.error
      if (error !== undefined && isErrorCode(error.code) && typeof error.message === 'string') {
        throw new ClusterdError(error.code, error.message)
      }
      return value as T
    }
    for await (const chunk of res as AsyncIterable<Buffer>) {
      pending += chunk.toString('utf8')
      let nl: number
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        if (line.trim() !== '') yield parse(line)
      }
    }
    if (pending.trim() !== '') yield parse(pending)
  }

  private async send (method: string, path: string, body: unknown, signal: AbortSignal, timeout: AbortSignal): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string> = { accept: 'application/json' }
    if (payload !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(Buffer.byteLength(payload))
    }
    let req: ClientRequest
    const options: RequestOptions = { method, headers, signal }
    if (this.target.kind === 'socket') {
      req = httpRequest({ ...options, socketPath: this.target.path, path })
    } else {
      const url = new URL(this.target.url.pathname.replace(/\/$/, '') + path, this.target.url)
      if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`
      const make = url.protocol === 'https:' ? httpsRequest : httpRequest
      req = make(url, options)
    }
    return await new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve)
      req.once('error', (err: NodeJS.ErrnoException) => { reject(this.transportError(err, timeout)) })
      req.end(payload)
    })
  }

  private async readAll (res: IncomingMessage, signal: AbortSignal, timeout: AbortSignal): Promise<string> {
    const chunks: Buffer[] = []
    let size = 0
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        size += chunk.length
        if (size > MAX_RESPONSE_BYTES) throw new ExitError(`the agent at ${this.addr} sent more than ${MAX_RESPONSE_BYTES} bytes`, EXIT_INTERNAL)
        chunks.push(chunk)
      }
    } catch (err) {
      if (err instanceof ExitError) throw err
      throw this.transportError(err as NodeJS.ErrnoException, timeout)
    }
    if (signal.aborted) throw this.transportError(new Error('aborted'), timeout)
    return Buffer.concat(chunks, size).toString('utf8')
  }

  private transportError (err: NodeJS.ErrnoException, timeout: AbortSignal): Error {
    if (timeout.aborted) {
      return unreachableError(`the agent at ${this.addr} did not answer within ${Math.round(this.timeoutMs / 100) / 10} s`)
    }
    if (err.name === 'AbortError') return err
    return unreachableError(`cannot reach the agent at ${this.addr}: ${describeConnectError(err)}`)
  }

  private errorFrom (status: number, text: string): Error {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {}
    const error = (parsed as { error?: { code?: unknown, message?: unknown, details?: unknown } } | undefined)?.error
    if (error !== undefined && isErrorCode(error.code) && typeof error.message === 'string') {
      return new ClusterdError(error.code, error.message, error.details)
    }
    if (error !== undefined && typeof error.code === 'string' && typeof error.message === 'string') {
      // A newer agent may know codes this client does not: keep its words, exit as internal.
      return new ExitError(`${error.message} (${error.code})`, EXIT_INTERNAL)
    }
    return new ExitError(`the agent at ${this.addr} answered HTTP ${status} without a clusterd error body`, EXIT_INTERNAL)
  }
}
