/** `clusterctl nodes`: every node's lifecycle record (`GET /v1/nodes`). */

import type { NodeRecord } from '../../protocol/nodes.js'
import type { ApiClient } from '../client.js'
import { formatAge, formatOutput, orDash, renderTable, type Column, type OutputFormat } from '../output.js'

/** Options of `clusterctl nodes`. */
export interface NodesOptions {
  output: OutputFormat
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
  const list = await client.nodes()
  return formatOutput(opts.output, list, () => renderTable(columns(opts.now ?? new Date()), [...list].sort((a, b) => a.name.localeCompare(b.name))))
}
