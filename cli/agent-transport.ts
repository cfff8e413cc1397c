/**
 * AgentTransport: how clusterctl talks to the agent's local HTTP API, over a unix socket or
 * an http(s) URL (a bearer token only to URLs, TLS verified against the cluster CA). It sends
 * one request or reads an NDJSON stream; the typed call per route is ApiClient (client.ts).
 * Transport failures become ExitError (agent unreachable / no answer); an error body from the
 * agent becomes the ClusterdError it describes.
 */

import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { ClusterdError, isErrorCode } from '../protocol/errors.js'
import { DEFAULT_CA_FILE, DEFAULT_TIMEOUT_MS, EXIT_INTERNAL, MAX_RESPONSE_BYTES } from './constants.js'
import { ExitError, unreachableError, usageError } from './errors.js'

/** How to reach the agent. */
export interface ApiClientInit {
  /** A unix socket path, or an `http://` / `https://` base URL. */
  addr: string
  /** Bearer token sent to http(s) addresses (never over the unix socket). */
  token?: string
  /** Overall deadline per request in ms (for streams: until the response starts). Default 30 s. */
  timeoutMs?: number
  /** For https://: the only CA the agent's certificate may come from (PEM), and its file for messages. */
  ca?: Buffer
  caFile?: string
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal
}

/** A route's path with its `:param` placeholders filled in (percent-encoded) and a query string. */
export function routePath (pattern: string, params: Record<string, string> = {}, query: Record<string, string | number | undefined> = {}): string {
  const path = pattern.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
    const value = params[name]
    if (value === undefined) throw new Error(`routePath: no value for :${name} in ${pattern}`)
    return encodeURIComponent(value)
  })
  const search = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined) search.set(k, String(v))
  const qs = search.toString()
  return qs === '' ? path : `${path}?${qs}`
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

/** Node's codes for a server certificate that fails verification (chain, name or dates). */
const TLS_VERIFY_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'INVALID_CA', 'ERR_TLS_CERT_ALTNAME_INVALID'
])

/** The connection to the agent: one request, or one NDJSON stream, at a time per call. */
export class AgentTransport {
  private readonly target: Target
  private readonly token: string | undefined
  private readonly timeoutMs: number
  private readonly ca: Buffer | undefined
  private readonly caFile: string | undefined
  /** The address as given, for messages. */
  readonly addr: string

  constructor (init: ApiClientInit) {
    this.addr = init.addr
    this.target = parseAddr(init.addr)
    this.token = init.token
    this.timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.ca = init.ca
    this.caFile = init.caFile
  }

  /** The secret values this client holds (its bearer token), so what it writes can be redacted. */
  secretValues (): string[] { return this.token !== undefined ? [this.token] : [] }

  /** Call `route` with its `:params` filled in, `query` and `body`; the parsed JSON answer (undefined for 204). */
  async call<T> (route: { method: string, pattern: string }, init: { params?: Record<string, string>, query?: Record<string, string | number | undefined>, body?: unknown }, options: CallOptions = {}): Promise<T> {
    return await this.request<T>(route.method, routePath(route.pattern, init.params, init.query), init.body, options)
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
    const chunks = (res as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
    try {
      yield * this.lines(chunks, parse, options.signal)
    } finally {
      // A consumer that stops early must not leave the connection open.
      if (!res.complete) res.destroy()
    }
  }

  private async * lines<T> (chunks: AsyncIterator<Buffer>, parse: (line: string) => T, signal: AbortSignal | undefined): AsyncGenerator<T> {
    let pending = ''
    while (true) {
      let next: IteratorResult<Buffer>
      try {
        next = await chunks.next()
      } catch (err) {
        // The connection broke mid-stream (agent or manager went away): say so, retryably.
        if (signal?.aborted === true) throw err
        throw unreachableError(`the stream from the agent at ${this.addr} broke: ${describeConnectError(err as NodeJS.ErrnoException)}`)
      }
      if (next.done === true) break
      pending += next.value.toString('utf8')
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
      req = url.protocol === 'https:'
        // rejectUnauthorized is the default; said here because it is the point.
        ? httpsRequest(url, { ...options, rejectUnauthorized: true, ...(this.ca !== undefined ? { ca: this.ca } : {}) })
        : httpRequest(url, options)
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
    if (typeof err.code === 'string' && TLS_VERIFY_CODES.has(err.code)) {
      // Not "unreachable": retrying cannot help, the trust configuration is wrong (or the peer is not our agent).
      return usageError(`the agent at ${this.addr} presented a TLS certificate that ${this.caFile !== undefined ? `the CA in ${this.caFile}` : 'no trusted CA'} does not vouch for (${err.code}: ${err.message}); give the cluster's API CA with --ca-file (${DEFAULT_CA_FILE} on members)`)
    }
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
