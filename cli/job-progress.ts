/**
 * `--wait`: follow a job the command just created and show live progress per node (current
 * task; ok/changed/failed counts). On a terminal a compact block is redrawn in place;
 * otherwise one line is printed per event of interest. At the end a per-node summary, and
 * an EXIT_JOB_FAILED error unless every node's outcome is `ok`; a verify job whose checks found
 * drift on a node ends with EXIT_DRIFT.
 */

import type { JobEventKind, JobRecord } from '../protocol/jobs.js'
import type { ApiClient } from './client.js'
import { EXIT_DRIFT, EXIT_JOB_FAILED, REDRAW_INTERVAL_MS } from './constants.js'
import type { CommandContext } from './context.js'
import { ExitError } from './errors.js'
import { followJob } from './job-follow.js'
import { nodeRows, notOk, renderEventLine, renderSummaryTable, rolloutSummary } from './job-format.js'
import { renderTable, safe } from './output.js'

/** Options of waitForJob. */
export interface WaitOptions {
  tty: boolean
  columns: number
  /** How long to keep reconnecting a broken stream; default RECONNECT_WINDOW_MS. */
  reconnectWindowMs?: number
  /** First pause between reconnects; default RECONNECT_FIRST_DELAY_MS. */
  firstDelayMs?: number
  /** Clock, for the elapsed time and for lines made from job updates. */
  now?: () => Date
}

/** The wait options for a command run in `ctx`. */
export function waitOptions (ctx: CommandContext): WaitOptions {
  return { tty: ctx.tty, columns: ctx.columns }
}

/** Event kinds worth a line in non-terminal output; the rest show up in the counts. */
const LINE_KINDS: ReadonlySet<JobEventKind> = new Set(['status', 'lease', 'precheck', 'task-start', 'task-changed', 'task-failed', 'unreachable', 'log'])

/** ANSI: cursor to the start of the line `n` lines up, then clear to the end of the screen. */
function rewind (lines: number): string {
  return lines === 0 ? '' : `\u001b[${lines}F\u001b[J`
}

function elapsed (job: JobRecord, now: Date): string {
  const from = Date.parse(job.startedAt ?? job.createdAt)
  if (Number.isNaN(from)) return ''
  const s = Math.max(0, Math.floor((now.getTime() - from) / 1000))
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
}

/** The live block: a job line, then one row per node. */
function block (job: JobRecord, taskOf: Map<string, string>, note: string | null, now: Date, columns: number): string {
  const head = `job ${job.id}  ${job.kind}  ${job.status}  ${elapsed(job, now)}`
  const table = renderTable([
    { header: 'NODE', cell: r => r.node },
    { header: 'OUTCOME', cell: r => r.progress.outcome },
    { header: 'OK', cell: r => String(r.progress.ok) },
    { header: 'CHANGED', cell: r => String(r.progress.changed) },
    { header: 'FAILED', cell: r => String(r.progress.failed) },
    { header: 'TASK', cell: r => taskOf.get(r.node) ?? r.progress.task ?? r.progress.step ?? '-' }
  ], nodeRows(job))
  const rollout = rolloutSummary(job)
  const lines = [head, ...(rollout !== null ? [`  ${rollout}`] : []), ...table.trimEnd().split('\n').map(l => '  ' + l), ...(note === null ? [] : [`  (${note})`])]
  // A wrapped line would break the count of lines to move up on the next redraw.
  const width = Math.max(20, columns - 1)
  return lines.map(l => safe(l).slice(0, width)).join('\n') + '\n'
}

/** A line per node that reached a final outcome since the previous version of the job. */
function outcomeLines (before: JobRecord, after: JobRecord, at: string): string {
  let out = ''
  for (const { node, progress: p } of nodeRows(after)) {
    // The manager's own events already say when nodes start; only results get a line here.
    if (before.perNode[node]?.outcome === p.outcome || p.outcome === 'pending' || p.outcome === 'running') continue
    const counts = `ok=${p.ok} changed=${p.changed} failed=${p.failed}`
    const message = p.message === undefined ? '' : ` ${p.message}`
    out += renderEventLine({ at, node, kind: 'outcome', task: p.task, message: `${p.outcome} (${counts})${message}` })
  }
  return out
}

/** Nodes of a verify job whose check found tasks that would change them. */
export function driftedNodes (job: JobRecord): string[] {
  return job.nodes.filter(n => (job.perNode[n]?.drift?.changed ?? 0) > 0)
}

/**
 * Follow `job` to its end, yielding text to print. Throws ExitError(EXIT_JOB_FAILED) after the
 * summary when any node's outcome is not `ok`, and ExitError(EXIT_DRIFT) when a verify job's
 * nodes are all `ok` but one has drift.
 */
export async function * waitForJob (client: ApiClient, job: JobRecord, opts: WaitOptions): AsyncGenerator<string> {
  const now = opts.now ?? (() => new Date())
  let current = job
  let printed: JobRecord = job
  const taskOf = new Map<string, string>()
  let note: string | null = null
  let drawn = 0
  let lastDraw = 0
  const redraw = (force: boolean): string | null => {
    const t = now()
    if (!force && t.getTime() - lastDraw < REDRAW_INTERVAL_MS) return null
    lastDraw = t.getTime()
    const text = block(current, taskOf, note, t, opts.columns)
    const out = rewind(drawn) + text
    drawn = text.split('\n').length - 1
    return out
  }
  if (opts.tty) yield redraw(true) ?? ''

  const follow = followJob(client, job.id, {
    ...(opts.reconnectWindowMs !== undefined ? { reconnectWindowMs: opts.reconnectWindowMs } : {}),
    ...(opts.firstDelayMs !== undefined ? { firstDelayMs: opts.firstDelayMs } : {})
  })
  for await (const item of follow) {
    let text: string | null = null
    if (item.type === 'reconnect') {
      note = `stream broken: ${item.reason}; reconnecting (attempt ${item.attempt})`
      text = opts.tty ? redraw(true) : renderEventLine({ at: now().toISOString(), kind: 'reconnect', message: note })
    } else if (item.type === 'event') {
      note = null
      const e = item.event
      if (e.node !== undefined && e.task !== undefined) taskOf.set(e.node, e.task)
      // A task start names no host: it is the current task of every node still running.
      if (e.node === undefined && e.kind === 'task-start' && e.task !== undefined) {
        for (const { node, progress } of nodeRows(current)) if (progress.outcome === 'running' || progress.outcome === 'pending') taskOf.set(node, e.task)
      }
      text = opts.tty ? redraw(false) : (LINE_KINDS.has(e.kind) ? renderEventLine(e) : null)
    } else {
      note = null
      current = item.job
      if (opts.tty) {
        text = redraw(false)
      } else {
        text = outcomeLines(printed, current, now().toISOString())
        printed = current
      }
    }
    if (text !== null && text !== '') yield text
  }
  if (opts.tty) yield redraw(true) ?? ''
  yield '\n' + renderSummaryTable(current)
  const bad = notOk(current)
  if (bad.length > 0) {
    const why = current.reason !== null ? current.reason.replace(/\s+/g, ' ') : `${bad.length} of ${current.nodes.length} node(s) not ok: ${bad.join(', ')}`
    throw new ExitError(`job ${current.id} ${current.status}: ${why}`, EXIT_JOB_FAILED)
  }
  const drifted = current.kind === 'verify' ? driftedNodes(current) : []
  if (drifted.length > 0) {
    throw new ExitError(`job ${current.id}: drift found on ${drifted.length} of ${current.nodes.length} node(s): ${drifted.join(', ')} (clusterctl reconfigure re-applies their roles)`, EXIT_DRIFT)
  }
}
