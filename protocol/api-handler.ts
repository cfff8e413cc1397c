/**
 * The contract between the agent's API server and whatever answers a route: the agent's own
 * routes and the manager's (manager/api/manager-routes.ts), called in-process or through
 * ManagerGateway's forward. Types, the reply class and the route key only: the server that
 * speaks HTTP is agent/api/server.ts.
 */

/** What a handler receives. */
export interface ApiRequest {
  /** Decoded `:param` values from the path. */
  params: Record<string, string>
  /** Query string; for a repeated key the last value wins. */
  query: Record<string, string>
  /** Parsed JSON body, or undefined when the request had none. */
  body: unknown
  /** Aborted when the client goes away or the server stops. */
  signal: AbortSignal
}

/**
 * A route handler. Its result is the response: a plain value is sent as JSON (200; 204 when
 * undefined), an ApiReply sets the status, an async iterable is streamed as NDJSON.
 */
export type ApiHandler = (req: ApiRequest) => Promise<unknown>

/** A handler result with an explicit status, e.g. `new ApiReply(202, job)`. */
export class ApiReply {
  /** HTTP status to send. */
  readonly status: number
  /** JSON body; undefined sends no body. */
  readonly body: unknown

  constructor (status: number, body?: unknown) {
    this.status = status
    this.body = body
  }
}

/** Route key of a method + pattern (`GET /v1/nodes/:name`): how manager routes are named in-process and on the forward stream. */
export function routeKey (method: string, pattern: string): string { return `${method} ${pattern}` }
