/** How jobs read in a table: the job's header, its per-node outcomes, and one line per event. */

import type { JobEvent, JobNodeProgress, JobRecord } from '../protocol/jobs.js'
import { orDash, renderFields, renderTable, safe, type Column } from './output.js'

/** One node's row of a job. */
export interface NodeRow {
  node: string
  progress: JobNodeProgress
}

/** The job's nodes in the order the job lists them, with their progress. */
export function nodeRows (job: JobRecord): NodeRow[] {
  return job.nodes.map(node => ({ node, progress: job.perNode[node] ?? { outcome: 'pending', ok: 0, changed: 0, failed: 0 } }))
}

/** The per-node table of `job show`: NODE OUTCOME STEP TASK OK CHANGED FAILED MESSAGE. */
export function renderOutcomeTable (job: JobRecord): string {
  const columns: Array<Column<NodeRow>> = [
    { header: 'NODE', cell: r => r.node },
    { header: 'OUTCOME', cell: r => r.progress.outcome },
    { header: 'STEP', cell: r => orDash(r.progress.step) },
    { header: 'TASK', cell: r => orDash(r.progress.task) },
    { header: 'OK', cell: r => String(r.progress.ok) },
    { header: 'CHANGED', cell: r => String(r.progress.changed) },
    { header: 'FAILED', cell: r => String(r.progress.failed) },
    { header: 'MESSAGE', cell: r => orDash(r.progress.message) }
  ]
  return renderTable(columns, nodeRows(job))
}

/** The end-of-wait summary: NODE OUTCOME OK CHANGED FAILED MESSAGE. */
export function renderSummaryTable (job: JobRecord): string {
  const columns: Array<Column<NodeRow>> = [
    { header: 'NODE', cell: r => r.node },
    { header: 'OUTCOME', cell: r => r.progress.outcome },
    { header: 'OK', cell: r => String(r.progress.ok) },
    { header: 'CHANGED', cell: r => String(r.progress.changed) },
    { header: 'FAILED', cell: r => String(r.progress.failed) },
    { header: 'MESSAGE', cell: r => orDash(r.progress.message) }
  ]
  return renderTable(columns, nodeRows(job))
}

/**
 * A rolling upgrade in one line: batches done of all, nodes left, and the settings; null for
 * any other job.
 */
export function rolloutSummary (job: JobRecord): string | null {
  const r = job.rollout
  const batches = job.batches
  if (r === undefined || batches === undefined) return null
  const done = batches.filter(b => b.status === 'succeeded' || b.status === 'failed').length
  const left = job.nodes.filter(n => { const o = job.perNode[n]?.outcome; return o === undefined || o === 'pending' || o === 'running' }).length
  const wait = r.nextBatchAt !== null ? `; next batch at ${r.nextBatchAt}` : ''
  const accepted = r.accepted.length > 0 ? `; accepted failures: ${r.accepted.join(', ')}` : ''
  return `batch ${Math.min(done + 1, batches.length)} of ${batches.length}, ${done} done, ${left} node(s) left (batch size ${r.batchSize}, max unavailable ${r.maxUnavailable}, max failures ${r.maxFailures}, pause ${r.pauseBetweenS} s)${wait}${accepted}`
}

/** The batches of a rolling upgrade: BATCH STATUS NODES (each node with its outcome); '' for another job. */
export function renderBatchTable (job: JobRecord): string {
  if (job.batches === undefined) return ''
  const rows = job.batches.map((b, i) => ({ i, b }))
  return renderTable([
    { header: 'BATCH', cell: r => String(r.i + 1) },
    { header: 'STATUS', cell: r => r.b.status },
    { header: 'NODES', cell: r => r.b.nodes.map(n => `${n}:${job.perNode[n]?.outcome ?? 'pending'}`).join(' ') }
  ], rows)
}

/** The header block of `job show`. */
export function renderJobHeader (job: JobRecord): string {
  const vars = Object.entries(job.vars).map(([k, v]) => `${k}=${v}`).join(', ')
  return renderFields([
    ['ID', job.id],
    ['KIND', job.kind],
    ['STATUS', job.status],
    ['NODES', job.nodes.join(', ')],
    ['ROLES', orDash(job.roles.join(', '))],
    ['VARS', orDash(vars)],
    ['CREATED', job.createdAt],
    ['STARTED', orDash(job.startedAt)],
    ['FINISHED', orDash(job.finishedAt)],
    ['TIMEOUT', job.timeoutAt],
    ['REASON', orDash(job.reason)],
    ...(rolloutSummary(job) !== null ? [['ROLLOUT', rolloutSummary(job) as string] as [string, string]] : []),
    ['EPOCH', String(job.epoch)]
  ])
}

/** What a log line shows: a JobEvent, or a line clusterctl makes (kind `outcome`, `reconnect`). */
export type EventLine = Pick<JobEvent, 'at' | 'node' | 'task' | 'message'> & { kind: string }

/** One line of a job log: time, node, kind, task, message (missing fields are `-`). */
export function renderEventLine (e: EventLine): string {
  const parts = [e.at, orDash(e.node).padEnd(12), e.kind.padEnd(12), orDash(e.task)]
  if (e.message !== undefined && e.message.trim() !== '') parts.push(e.message.trim().replace(/\s+/g, ' '))
  return safe(parts.join('  ')) + '\n'
}

/** Nodes whose outcome is not `ok`, as `name (outcome)`. */
export function notOk (job: JobRecord): string[] {
  return nodeRows(job).filter(r => r.progress.outcome !== 'ok').map(r => `${r.node} (${r.progress.outcome})`)
}
