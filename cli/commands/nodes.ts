/**
 * `clusterctl nodes`: every node's lifecycle record (`GET /v1/nodes`, followed page by page in
 * name order; `--limit N` stops after N records, `--page-size` sets the page).
 */

import { MAX_NODES_PAGE, type NodeRecord } from '../../protocol/nodes.js'
import { positiveInt } from '../arguments.js'
import type { ApiClient } from '../client.js'
import { formatAge, formatOutput, orDash, renderTable, type Column, type OutputFormat } from '../output.js'

/** Options of `clusterctl nodes`. */
export interface NodesOptions {
  output: OutputFormat
  /** At most this many records (text from the flag). */
  limit?: string
  /** Records per request (text from the flag). */
  pageSize?: string
  /** Clock for SINCE; tests pin it. Default: now. */
  now?: Date
}

function columns (now: Date): Array<Column<NodeRecord>> {
  return [
    { header: 'NAME', cell: n => n.name },
    { header: 'STATE', cell: n => n.state },
    { header: 'ROLES', cell: n => orDash(n.roles.join(',')) },
    { header: 'REACHABLE', cell: n => (n.reachable ? 'yes' : 'no') },
    { header: 'LAST-JOB', cell: n => orDash(n.lastJob) },
    { header: 'SINCE', cell: n => formatAge(n.since, now) }
  ]
}

/** Fetch the nodes and format them; table rows are sorted by name. */
export async function nodes (client: ApiClient, opts: NodesOptions): Promise<string> {
  const max = opts.limit === undefined ? undefined : positiveInt('--limit', opts.limit, Number.MAX_SAFE_INTEGER)
  const pageSize = opts.pageSize === undefined ? undefined : positiveInt('--page-size', opts.pageSize, MAX_NODES_PAGE)
  const list = await client.nodes({ ...(max !== undefined ? { max } : {}), ...(pageSize !== undefined ? { pageSize } : {}) })
  return formatOutput(opts.output, list, () => renderTable(columns(opts.now ?? new Date()), [...list].sort((a, b) => a.name.localeCompare(b.name))))
}
