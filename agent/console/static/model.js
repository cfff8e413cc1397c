// The console's pure logic (no DOM, no fetch), so Node's unit tests import this very file:
// display orders, counts, drift, and how a job's feed updates what the job page shows.

/** Lifecycle states in display order (protocol/nodes.ts LIFECYCLE_STATES; a unit test keeps them equal). */
export const LIFECYCLE_STATES = Object.freeze([
  'discovered', 'commissioning', 'commissioned', 'upgrading', 'decommissioning', 'decommissioned',
  'commission-failed', 'upgrade-failed', 'decommission-failed', 'broken'
])

/** Member statuses in display order (protocol/members.ts MemberStatus). */
export const MEMBER_STATUSES = Object.freeze(['alive', 'suspect', 'failed', 'left'])

/** Job statuses that do not change again (protocol/jobs.ts isTerminalJobStatus). */
export const TERMINAL_JOB_STATUSES = Object.freeze(['succeeded', 'failed', 'cancelled'])

/** Error codes that mean "the path to the manager broke", as cli/job-follow.ts retries them. */
export const RETRYABLE_CODES = Object.freeze(['CLUSTERD_ERR_NO_MANAGER', 'CLUSTERD_ERR_UNAVAILABLE', 'CLUSTERD_ERR_STORE_UNAVAILABLE'])

/** How long a broken job feed is retried, and the pauses between tries (cli/constants.ts). */
export const RECONNECT = Object.freeze({ windowMs: 60_000, firstDelayMs: 250, maxDelayMs: 5_000 })

/**
 * Count `items` by `keyOf(item)`: one entry per key of `order` (zero counts included), then
 * any other key seen, so an unknown value from a newer agent still shows.
 * @returns {Array<{ key: string, count: number }>}
 */
export function countBy (items, keyOf, order) {
  const counts = new Map(order.map(k => [k, 0]))
  for (const item of items) {
    const key = String(keyOf(item))
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts].map(([key, count]) => ({ key, count }))
}

/** A node's drift in words: `-` (never checked), `in sync`, or `N changes`. */
export function driftText (node) {
  const drift = node?.drift
  if (drift === null || drift === undefined) return '-'
  return drift.changed === 0 ? 'in sync' : `${drift.changed} change${drift.changed === 1 ? '' : 's'}`
}

/** Drift across commissioned nodes: how many match their roles, differ, or were never checked. */
export function driftSummary (nodes) {
  const out = { inSync: 0, drifted: 0, unchecked: 0 }
  for (const n of nodes) {
    if (n.state !== 'commissioned') continue
    if (n.drift === null || n.drift === undefined) out.unchecked++
    else if (n.drift.changed === 0) out.inSync++
    else out.drifted++
  }
  return out
}

/** True when a job in `status` will not change again. */
export function isTerminal (status) {
  return TERMINAL_JOB_STATUSES.includes(status)
}

/** True when a job in `status` moves only if an operator acts: finished, or a paused rolling upgrade (protocol/jobs.ts isRestingJobStatus). */
export function isResting (status) {
  return isTerminal(status) || status === 'paused'
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause (ms, signal) {
  return new Promise(resolve => {
    if (signal.aborted) { resolve(); return }
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
  })
}

/** Most events the job page keeps (the newest). */
export const MAX_SHOWN_EVENTS = 500

/**
 * What the job page shows, updated by each feed item: the job record, the task each node is
 * on (from task-start events, fresher than the record), the newest events, and the feed's
 * state (`live`, `reconnecting`, `finished`).
 */
export function newJobView () {
  return { job: null, taskOf: {}, events: [], lastSeq: 0, feed: 'live', note: '' }
}

/** Apply one item of the job feed (or a reconnect note) to `view`; returns `view`. */
export function applyFeedItem (view, item) {
  if (item.type === 'event') {
    const e = item.event
    if (e.seq <= view.lastSeq) return view
    view.lastSeq = e.seq
    if (e.kind === 'task-start' && typeof e.node === 'string' && typeof e.task === 'string') view.taskOf[e.node] = e.task
    view.events.push(e)
    if (view.events.length > MAX_SHOWN_EVENTS) view.events.splice(0, view.events.length - MAX_SHOWN_EVENTS)
    view.feed = 'live'
    view.note = ''
  } else if (item.type === 'job') {
    view.job = item.job
    view.feed = isResting(item.job.status) ? 'finished' : 'live'
    if (view.feed === 'live') view.note = ''
  } else if (item.type === 'reconnect') {
    view.feed = 'reconnecting'
    view.note = `reconnecting (attempt ${item.attempt}): ${item.reason}`
  }
  return view
}

/** One row per node of a job, in the job's node order: its progress and current task. */
export function jobRows (view) {
  const job = view.job
  if (job === null) return []
  return job.nodes.map(node => {
    const p = job.perNode?.[node] ?? { outcome: 'pending', ok: 0, changed: 0, failed: 0 }
    const finished = p.outcome !== 'pending' && p.outcome !== 'running'
    return {
      node,
      outcome: p.outcome,
      step: p.step ?? '',
      task: (finished ? p.task : view.taskOf[node] ?? p.task) ?? '',
      ok: p.ok ?? 0,
      changed: p.changed ?? 0,
      failed: p.failed ?? 0,
      message: p.message ?? ''
    }
  })
}

/**
 * Splits a streamed NDJSON body into values: `push(text)` returns the complete lines' values
 * (a line that is not JSON becomes `{ error: { code: 'BAD_LINE' } }`, never a throw).
 */
export class NdjsonLines {
  constructor () { this.rest = '' }
  push (text) {
    const lines = (this.rest + text).split('\n')
    this.rest = lines.pop() ?? ''
    return lines.filter(l => l.trim() !== '').map(l => {
      try {
        return JSON.parse(l)
      } catch {
        return { error: { code: 'BAD_LINE', message: `the stream sent a line that is not JSON: ${l.slice(0, 80)}` } }
      }
    })
  }
}

/** A byte count for people: 1.5 GiB. */
export function bytes (n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`
}

/** An ISO-8601 time for people (local time, seconds), or `-`. */
export function when (iso) {
  if (typeof iso !== 'string') return '-'
  const t = new Date(iso)
  return Number.isNaN(t.getTime()) ? iso : t.toLocaleString(undefined, { hour12: false })
}

/**
 * The page a location hash names: `#/`, `#/nodes/NAME`, `#/jobs`, `#/jobs/ID`; anything else
 * (or a name that is not valid percent-encoding) is `{ page: 'unknown' }`.
 */
export function parseHash (hash) {
  const parts = String(hash).replace(/^#/, '').split('/').filter(p => p !== '')
  let decoded
  try {
    decoded = parts.map(p => decodeURIComponent(p))
  } catch {
    return { page: 'unknown' }
  }
  const [a, b] = decoded
  if (decoded.length === 0) return { page: 'overview' }
  if (a === 'nodes' && decoded.length === 2) return { page: 'node', name: b }
  if (a === 'jobs' && decoded.length === 1) return { page: 'jobs' }
  if (a === 'jobs' && decoded.length === 2) return { page: 'job', id: b }
  return { page: 'unknown' }
}

/** The hash of a node's page (the name percent-encoded, so it stays one path segment). */
export function nodeHref (name) { return `#/nodes/${encodeURIComponent(name)}` }

/** The hash of a job's page. */
export function jobHref (id) { return `#/jobs/${encodeURIComponent(id)}` }
