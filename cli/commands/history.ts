/** `clusterctl history [NAME]`: what was applied where and when, with revisions (`GET /v1/history`). */

import type { HistoryEntry } from '../../protocol/revisions.js'
import { nodeNames } from '../arguments.js'
import type { ApiClient } from '../client.js'
import { formatOutput, orDash, renderTable, type Column, type OutputFormat } from '../output.js'

/** Options of `clusterctl history`. */
export interface HistoryOptions {
  output: OutputFormat
}

const COLUMNS: Array<Column<HistoryEntry>> = [
  { header: 'FINISHED', cell: e => orDash(e.finishedAt) },
  { header: 'NODE', cell: e => e.node },
  { header: 'KIND', cell: e => e.kind },
  { header: 'REVISION', cell: e => e.revision === null ? '-' : String(e.revision) },
  { header: 'AGENT', cell: e => orDash(e.agentVersion) },
  { header: 'OUTCOME', cell: e => e.outcome },
  { header: 'JOB', cell: e => e.jobId },
  { header: 'MESSAGE', cell: e => orDash(e.message ?? null) }
]

/** Every node's history, or one node's, oldest first (as long as retention keeps the jobs). */
export async function history (client: ApiClient, name: string | undefined, opts: HistoryOptions): Promise<string> {
  const node = name === undefined ? undefined : nodeNames([name])[0]
  const list = await client.history(node)
  return formatOutput(opts.output, list, () => renderTable(COLUMNS, list))
}
