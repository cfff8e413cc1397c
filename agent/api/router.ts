/**
 * A small method + path router for the local API. Patterns are absolute paths whose
 * segments are literals or `:param` placeholders, e.g. `/v1/nodes/:name`. When several
 * patterns match, the one with a literal earliest wins (`/v1/jobs/stats` before `/v1/jobs/:id`).
 */

import type { ApiHandler } from '../../protocol/api-handler.js'
import { ClusterdError } from '../../protocol/errors.js'

/** Outcome of matching a request against the routes. */
export type RouteMatch =
  | { kind: 'found', handler: ApiHandler, params: Record<string, string> }
  | { kind: 'method-not-allowed', allow: string[] }
  | { kind: 'not-found' }

interface Route {
  method: string
  pattern: string
  /** Literal text, or null for a `:param` segment (name in `names` at the same index). */
  segments: Array<string | null>
  names: Array<string | undefined>
  handler: ApiHandler
}

const PARAM = /^:([A-Za-z_][A-Za-z0-9_]*)$/

function split (path: string): string[] {
  return path.split('/').slice(1)
}

/** Routes by method and path pattern. */
export class Router {
  private readonly routes: Route[] = []

  /** Register `handler` for `method` (e.g. `GET`) on `pattern`; a duplicate or malformed pattern is a bug and throws. */
  add (method: string, pattern: string, handler: ApiHandler): void {
    if (!pattern.startsWith('/')) throw new Error(`route pattern must start with "/": ${pattern}`)
    const parts = split(pattern)
    const segments: Array<string | null> = []
    const names: Array<string | undefined> = []
    for (const part of parts) {
      if (part === '') throw new Error(`route pattern has an empty segment: ${pattern}`)
      const param = PARAM.exec(part)
      segments.push(param == null ? part : null)
      names.push(param?.[1])
    }
    const upper = method.toUpperCase()
    const shape = segments.map(s => s ?? ':').join('/')
    if (this.routes.some(r => r.method === upper && r.segments.map(s => s ?? ':').join('/') === shape)) {
      throw new Error(`duplicate route ${upper} ${pattern}`)
    }
    this.routes.push({ method: upper, pattern, segments, names, handler })
  }

  /** Match a request path (already stripped of its query string). */
  match (method: string, path: string): RouteMatch {
    const parts = split(path)
    const candidates: Array<{ route: Route, params: Record<string, string> }> = []
    for (const route of this.routes) {
      const params = matchRoute(route, parts)
      if (params !== null) candidates.push({ route, params })
    }
    if (candidates.length === 0) return { kind: 'not-found' }
    const upper = method.toUpperCase()
    const forMethod = candidates.filter(c => c.route.method === upper)
    if (forMethod.length === 0) {
      return { kind: 'method-not-allowed', allow: [...new Set(candidates.map(c => c.route.method))].sort() }
    }
    forMethod.sort((a, b) => specificity(b.route) - specificity(a.route))
    const best = forMethod[0]
    if (best === undefined) return { kind: 'not-found' }
    return { kind: 'found', handler: best.route.handler, params: best.params }
  }
}

function matchRoute (route: Route, parts: string[]): Record<string, string> | null {
  if (route.segments.length !== parts.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < parts.length; i++) {
    const literal = route.segments[i]
    const part = parts[i] ?? ''
    if (literal !== null) {
      if (literal !== part) return null
      continue
    }
    if (part === '') return null
    let value: string
    try {
      value = decodeURIComponent(part)
    } catch {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `path segment ${JSON.stringify(part)} is not valid percent-encoding`)
    }
    params[route.names[i] ?? ''] = value
  }
  return params
}

/** Literal segments weigh more the earlier they appear. */
function specificity (route: Route): number {
  return route.segments.reduce((score, seg, i) => score + (seg === null ? 0 : 2 ** (32 - i)), 0)
}
