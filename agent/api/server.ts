/**
 * The agent's local HTTP/1.1 API. Always on a unix socket (mode 0600; file permissions are
 * the access control), optionally also on TCP, where every request needs
 * `Authorization: Bearer <token>`. On both, a request a browser marks as cross-site is refused
 * (same-origin.ts), except on routes opened without the token. Routes are registered with
 * `route()` by the composition root; handlers return values and throw ClusterdError for
 * expected failures.
 */

import { chmod } from 'node:fs/promises'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { ClusterdError } from '../../protocol/errors.js'
import { checkBearer } from './bearer-auth.js'
import {
  DEFAULT_BODY_LIMIT_BYTES, DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS, SOCKET_MODE
} from './constants.js'
import { readJsonBody } from './read-body.js'
import { crossSiteReason } from './same-origin.js'
import { ApiReply, type ApiHandler } from '../../protocol/api-handler.js'
import { errorResponse, isAsyncIterable, sendJson, sendText, streamNdjson, TextReply } from './respond.js'
import { Router } from './router.js'
import { prepareSocketPath } from './unix-socket.js'

/** What the server needs from its host. */
export interface ApiServerComponents {
  /** Child logger for this component; requests log at debug, handler bugs at error. */
  logger: Logger
}

/** Where and how the server listens. */
export interface ApiServerInit {
  /** Unix socket path; its parent directory is created (0700) when missing. */
  socketPath: string
  /**
   * Optional TCP listener; `port` 0 picks a free port (see `tcpAddress()`). With `tls` (PEM
   * certificate chain and key) it serves HTTPS, so the token never crosses a network in clear.
   */
  tcp?: { host: string, port: number, token: string, tls?: { cert: string | Buffer, key: string | Buffer } }
  /** Largest request body in bytes. Default 1 MiB. */
  bodyLimitBytes?: number
  /** Time a client has to send a whole request. Default 30 s. */
  requestTimeoutMs?: number
}

/** Lifecycle state of the server. */
export type ApiServerStatus = 'stopped' | 'starting' | 'started' | 'stopping'

/** HTTP methods `route()` accepts. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** The local API server. */
export class ApiServer {
  private readonly log: Logger
  private readonly init: ApiServerInit
  private readonly router = new Router()
  /** Exact `METHOD path`s served on TCP without the bearer token (health probes). */
  private readonly open = new Set<string>()
  private readonly bodyLimit: number
  private servers: Server[] = []
  private tcpServer: Server | null = null
  /** Aborted on stop() so long-running handlers and streams end. */
  private lifetime = new AbortController()
  private _status: ApiServerStatus = 'stopped'

  constructor (components: ApiServerComponents, init: ApiServerInit) {
    // The caller hands in the component's child logger (agent.ts binds component: 'api').
    this.log = components.logger
    this.init = init
    this.bodyLimit = init.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES
  }

  /** Current lifecycle state. */
  get status (): ApiServerStatus { return this._status }

  /** Register a handler, e.g. `route('GET', '/v1/nodes/:name', async ({ params }) => ...)`. Routes may be added before or after start(). */
  route (method: HttpMethod, pattern: string, handler: ApiHandler, options: { withoutToken?: boolean } = {}): void {
    this.router.add(method, pattern, handler)
    if (options.withoutToken === true) {
      // Literal paths only: a pattern would let a crafted path reach a parameterised handler.
      if (pattern.includes(':')) throw new Error(`a route without token must be a literal path: ${pattern}`)
      this.open.add(`${method} ${pattern}`)
    }
  }

  /** The bound TCP address (useful with port 0), or null without a TCP listener. */
  tcpAddress (): { host: string, port: number } | null {
    const address = this.tcpServer?.address()
    if (address == null || typeof address === 'string') return null
    return { host: (address as AddressInfo).address, port: (address as AddressInfo).port }
  }

  /** Listen on the socket (and TCP when configured). A failed start closes what did open. */
  async start (): Promise<void> {
    if (this._status !== 'stopped') return
    this._status = 'starting'
    this.lifetime = new AbortController()
    try {
      await prepareSocketPath(this.init.socketPath)
      const unix = this.createHttpServer(false)
      this.servers.push(unix)
      // Bind with a tight umask so the socket is never reachable by others, not even
      // between bind() and chmod(). bind() runs synchronously inside listen(), so no other
      // code in this process creates files while the umask is changed.
      const previous = process.umask(0o177)
      try {
        unix.listen(this.init.socketPath)
      } finally {
        process.umask(previous)
      }
      await this.listening(unix, `the API socket ${this.init.socketPath}`)
      await chmod(this.init.socketPath, SOCKET_MODE)

      const tcp = this.init.tcp
      if (tcp !== undefined) {
        const server = this.createHttpServer(true)
        this.servers.push(server)
        this.tcpServer = server
        server.listen({ host: tcp.host, port: tcp.port })
        await this.listening(server, `${tcp.host.includes(':') ? `[${tcp.host}]` : tcp.host}:${tcp.port}`)
      }
      this._status = 'started'
      this.log.info({ socket: this.init.socketPath, tcp: this.tcpAddress() }, 'API listening')
    } catch (err) {
      await this.closeAll()
      this._status = 'stopped'
      throw err
    }
  }

  /** Stop listening, end streams and close every connection. */
  async stop (): Promise<void> {
    if (this._status !== 'started') return
    this._status = 'stopping'
    await this.closeAll()
    this._status = 'stopped'
    this.log.info('API stopped')
  }

  private async closeAll (): Promise<void> {
    this.lifetime.abort()
    const servers = this.servers
    this.servers = []
    this.tcpServer = null
    await Promise.all(servers.map(async server => {
      if (!server.listening) return
      const closed = once(server, 'close')
      server.close()
      // Keep-alive and streaming connections would hold close() open indefinitely.
      server.closeAllConnections()
      await closed
    }))
  }

  private async listening (server: Server, what: string): Promise<void> {
    try {
      await once(server, 'listening')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE') throw new ClusterdError('CLUSTERD_ERR_ADDRESS_IN_USE', `cannot listen on ${what}: address already in use`)
      if (code === 'EADDRNOTAVAIL') throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `cannot listen on ${what}: no such address on this machine`)
      if (code === 'EACCES') throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `cannot listen on ${what}: permission denied`)
      throw err
    }
  }

  private createHttpServer (requireToken: boolean): Server {
    const tls = requireToken ? this.init.tcp?.tls : undefined
    const options = {
      requestTimeout: this.init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      headersTimeout: Math.min(DEFAULT_HEADERS_TIMEOUT_MS, this.init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
      keepAliveTimeout: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
      // How often request and header deadlines are checked (Node's default, 30 s, would let a
      // stalled client hold its connection for up to twice the request timeout).
      connectionsCheckingInterval: Math.min(1000, this.init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS)
    }
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res, requireToken).catch(err => { this.log.error({ err }, 'API request handling failed') })
    }
    // An https.Server is an http.Server underneath (same timeouts, same request handling).
    const server: Server = tls === undefined
      ? createServer(options, onRequest)
      : createHttpsServer({ ...options, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, onRequest) as unknown as Server
    // A failed TLS handshake (a client that does not trust our CA, plain HTTP to the TLS port).
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => { this.log.debug({ code: err.code, reason: err.message }, 'API TLS handshake failed') })
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => { this.clientError(err, socket) })
    return server
  }

  /**
   * A request the HTTP parser refused or that timed out (a slow or stalled client): answer with
   * a JSON error like every other failure when nothing was answered yet, then close.
   */
  private clientError (err: NodeJS.ErrnoException, socket: Duplex): void {
    const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    this.log.debug({ code: err.code, reason: err.message }, timeout ? 'API client too slow; closing' : 'API client sent a malformed request')
    const answered = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true
    if (err.code === 'ECONNRESET' || answered || !socket.writable) {
      socket.destroy()
      return
    }
    const error = timeout
      ? new ClusterdError('CLUSTERD_ERR_REQUEST_TIMEOUT', 'the request was not received in time')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new ClusterdError('CLUSTERD_ERR_PAYLOAD_TOO_LARGE', 'request headers are too large')
        : new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `malformed HTTP request (${err.code ?? 'parse error'})`)
    const body = JSON.stringify(error.toBody()) + '\n'
    const reason = timeout ? 'Request Timeout' : error.status === 413 ? 'Payload Too Large' : 'Bad Request'
    socket.end(`HTTP/1.1 ${error.status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
  }

  private async handle (req: IncomingMessage, res: ServerResponse, requireToken: boolean): Promise<void> {
    const started = performance.now()
    const controller = new AbortController()
    const signal = AbortSignal.any([controller.signal, this.lifetime.signal])
    res.once('close', () => { if (!res.writableFinished) controller.abort() })
    const method = req.method ?? 'GET'
    let path = req.url ?? '/'
    try {
      const token = this.init.tcp?.token
      const open = this.open.has(`${method} ${path.split('?')[0] ?? ''}`)
      if (requireToken && !open && (token === undefined || !checkBearer(req.headers.authorization, token))) {
        res.setHeader('www-authenticate', 'Bearer')
        throw new ClusterdError('CLUSTERD_ERR_UNAUTHORIZED', 'missing or invalid bearer token')
      }
      const crossSite = open ? null : crossSiteReason(req.headers)
      if (crossSite !== null) throw new ClusterdError('CLUSTERD_ERR_UNAUTHORIZED', `cross-site request refused: ${crossSite}`)
      // Only origin-form targets (`/v1/...`); anything else could make URL() resolve a
      // different host or throw, and a throw here must not escape as an unhandled rejection.
      if (!path.startsWith('/') || path.startsWith('//')) {
        throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', 'request target must be an absolute path like /v1/members')
      }
      const url = new URL(path, 'http://clusterd.local')
      path = url.pathname
      const match = this.router.match(method, path)
      if (match.kind === 'not-found') {
        throw new ClusterdError('CLUSTERD_ERR_NOT_FOUND', `no API route ${method} ${path}`)
      }
      if (match.kind === 'method-not-allowed') {
        res.setHeader('allow', match.allow.join(', '))
        throw new ClusterdError('CLUSTERD_ERR_METHOD_NOT_ALLOWED', `${path} does not accept ${method} (allowed: ${match.allow.join(', ')})`)
      }
      const body = await readJsonBody(req, this.bodyLimit)
      const result = await match.handler({ params: match.params, query: Object.fromEntries(url.searchParams), body, signal })
      if (isAsyncIterable(result)) {
        await streamNdjson(res, result, signal, this.log)
      } else if (result instanceof TextReply) {
        sendText(res, result)
      } else if (result instanceof ApiReply) {
        sendJson(res, result.status, result.body)
      } else {
        sendJson(res, 200, result)
      }
    } catch (err) {
      if (res.headersSent || res.destroyed) {
        this.log.debug({ err }, 'API response abandoned')
        return
      }
      const { status, body } = errorResponse(err, this.log)
      // A body we refused or did not read must not be parsed as the next request.
      const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0
      const headers: Record<string, string> = req.complete || !hasBody ? {} : { connection: 'close' }
      sendJson(res, status, body, headers)
    } finally {
      this.log.debug({ method, path, status: res.statusCode, ms: Math.round(performance.now() - started) }, 'API request')
    }
  }
}
