// The console's only way to the agent: fetch() to the page's own origin, with the operator's
// bearer token in the Authorization header (never in a URL). The token lives in
// sessionStorage: it is gone when the tab closes, and no other site can read it.

import { NdjsonLines, RECONNECT, RETRYABLE_CODES, isResting, pause } from './model.js'

const TOKEN_KEY = 'clusterd.api-token'

/** An error answer of the API (its `{ error: { code, message } }` body), or a network failure. */
export class ApiError extends Error {
  constructor (status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** The stored token, or null (over the unix socket none is needed). */
export function token () { return sessionStorage.getItem(TOKEN_KEY) }

/** Keep `value` as the token for this tab. */
export function setToken (value) { sessionStorage.setItem(TOKEN_KEY, value) }

/** Forget the token. */
export function clearToken () { sessionStorage.removeItem(TOKEN_KEY) }

function headers (json) {
  const out = {}
  const t = token()
  if (t !== null) out.authorization = `Bearer ${t}`
  if (json) out['content-type'] = 'application/json'
  return out
}

async function send (method, path, body, signal) {
  try {
    return await fetch(path, {
      method,
      headers: headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      signal
    })
  } catch (err) {
    if (signal?.aborted) throw err
    throw new ApiError(0, 'UNREACHABLE', `cannot reach the agent: ${err.message}`)
  }
}

async function failure (res) {
  const text = await res.text().catch(() => '')
  let error
  try { error = JSON.parse(text).error } catch {}
  return new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? (text.slice(0, 200) || res.statusText))
}

/** One API call: the parsed JSON answer, or an ApiError. */
export async function api (method, path, body, signal) {
  const res = await send(method, path, body, signal)
  if (!res.ok) throw await failure(res)
  const text = await res.text()
  return text === '' ? null : JSON.parse(text)
}

/** Every node record, page by page (`GET /v1/nodes?limit=`), in name order. */
export async function allNodes (signal) {
  const out = []
  let after = null
  for (let i = 0; i < 1000; i++) {
    const q = new URLSearchParams({ limit: '5000' })
    if (after !== null) q.set('after', after)
    const page = await api('GET', `/v1/nodes?${q}`, undefined, signal)
    out.push(...page.items)
    if (page.next === null) return out
    after = page.next
  }
  return out
}

/** The values of an NDJSON stream; an `{ error }` line ends it with that error. */
export async function * ndjson (path, signal) {
  const res = await send('GET', path, undefined, signal)
  if (!res.ok) throw await failure(res)
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  const lines = new NdjsonLines()
  try {
    while (true) {
      const { done, value } = await reader.read()
      if (done) return
      for (const item of lines.push(decoder.decode(value, { stream: true }))) {
        if (item !== null && typeof item === 'object' && 'error' in item) throw new ApiError(200, item.error?.code ?? 'ERROR', item.error?.message ?? 'stream error')
        yield item
      }
    }
  } finally {
    reader.cancel().catch(() => {})
  }
}

function retryable (err) {
  return err instanceof ApiError && (err.status === 0 || RETRYABLE_CODES.includes(err.code))
}

/**
 * Follow a job's feed to its end as `clusterctl ... --wait` does (cli/job-follow.ts): events
 * once each, in order, and job updates; when the stream breaks (the agent or the manager went
 * away, a failover), yield `{ type: 'reconnect' }` and resume after the last event seen, for
 * at most RECONNECT.windowMs of continuous failure.
 */
export async function * followJob (id, signal) {
  let after = 0
  let finished = false
  let brokenSince = null
  let delay = RECONNECT.firstDelayMs
  let attempt = 0
  while (!signal.aborted) {
    let reason
    try {
      const q = new URLSearchParams({ follow: '1' })
      if (after > 0) q.set('after', String(after))
      for await (const item of ndjson(`/v1/jobs/${encodeURIComponent(id)}/events?${q}`, signal)) {
        brokenSince = null
        delay = RECONNECT.firstDelayMs
        if (item.type === 'event') {
          if (item.event.seq <= after) continue
          after = item.event.seq
        } else if (item.type === 'job' && isResting(item.job.status)) {
          finished = true
        }
        yield item
      }
      if (finished) return
      reason = 'the stream ended before the job did'
    } catch (err) {
      if (finished || signal.aborted) return
      if (!retryable(err)) throw err
      reason = `${err.message} (${err.code})`
    }
    const now = Date.now()
    brokenSince ??= now
    if (now - brokenSince + delay > RECONNECT.windowMs) {
      throw new ApiError(0, 'UNREACHABLE', `lost the event stream of job ${id} for ${RECONNECT.windowMs / 1000} s (${reason}); the job may still be running`)
    }
    attempt++
    yield { type: 'reconnect', reason, attempt }
    await pause(delay, signal)
    delay = Math.min(delay * 2, RECONNECT.maxDelayMs)
  }
}
