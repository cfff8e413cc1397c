/** `clusterctl jobs`: jobs, optionally by status or node (`GET /v1/jobs`). */

import type { JobRecord, JobStatus } from '../../protocol/jobs.js'
import { nodeNames } from '../arguments.js'
import type { ApiClient, JobsFilter } from '../client.js'
import { formatAge, formatOutput, orDash, renderTable, type Column, type OutputFormat } from '../output.js'

/** Options of `clusterctl jobs`. */
export interface JobsOptions {
  output: OutputFormat
  /** Checked by commander against JOB_STATUSES. */
  status?: JobStatus
  node?: string
  /** Clock for CREATED; tests pin it. Default: now. */
  now?: Date
}

function columns (now: Date): Array<Column<JobRecord>> {
  return [
    { header: 'ID', cell: j => j.id },
    { header: 'KIND', cell: j => j.kind },
    { header: 'STATUS', cell: j => j.status },
    { header: 'NODES', cell: j => j.nodes.join(',') },
    { header: 'CREATED', cell: j => formatAge(j.createdAt, now) },
    { header: 'REASON', cell: j => orDash(j.reason) }
  ]
}

/** Fetch jobs and format them in the manager's order. */
export async function jobs (client: ApiClient, opts: JobsOptions): Promise<string> {
  const filter: JobsFilter = {}
  if (opts.status !== undefined) filter.status = opts.status
  if (opts.node !== undefined) filter.node = nodeNames([opts.node])[0]
  const list = await client.jobs(filter)
  return formatOutput(opts.output, list, () => renderTable(columns(opts.now ?? new Date()), list))
}
