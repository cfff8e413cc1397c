/**
 * `clusterctl nodes [-l SELECTOR]`: every node's lifecycle record (`GET /v1/nodes`, followed
 * page by page in name order; `--limit N` stops after N records, `--page-size` sets the page;
 * `-l` only the nodes matching the selector). STATE says `,cordoned` for a cordoned node; DRIFT
 * is what the newest verify found.
 */

import { MAX_NODES_PAGE, type NodeRecord } from '../../protocol/nodes.js'
import { positiveInt } from '../arguments.js'
import type { ApiClient } from '../client.js'
import { selectorFlag } from '../selector.js'
import { formatAge, formatOutput, orDash, renderTable, type Column, type OutputFormat } from '../output.js'

/** Options of `clusterctl nodes`. */
export interface NodesOptions {
  output: OutputFormat
  /** At most this many records (text from the flag). */
  limit?: string
  /** Records per request (text from the flag). */
  pageSize?: string
  /** `-l K=V[,K=V]`: only matching nodes. */
  selector?: string
  /** Clock for SINCE; tests pin it. Default: now. */
  now?: Date
}

function columns (now: Date): Array<Column<NodeRecord>> {
  return [
    { header: 'NAME', cell: n => n.name },
    { header: 'STATE', cell: n => n.cordoned ? `${n.state},cordoned` : n.state },
    { header: 'ROLES', cell: n => orDash(n.roles.join(',')) },
    { header: 'REACHABLE', cell: n => (n.reachable ? 'yes' : 'no') },
    { header: 'DRIFT', cell: n => driftCell(n) },
    { header: 'LAST-JOB', cell: n => orDash(n.lastJob) },
    { header: 'SINCE', cell: n => formatAge(n.since, now) }
  ]
}

/** `-` never verified (or re-applied since), `none` no drift, else how many tasks would change. */
export function driftCell (n: Pick<NodeRecord, 'drift'>): string {
  if (n.drift === null) return '-'
  return n.drift.changed === 0 ? 'none' : `${n.drift.changed} task${n.drift.changed === 1 ? '' : 's'}`
}

/** Fetch the nodes and format them; table rows are sorted by name. */
export async function nodes (client: ApiClient, opts: NodesOptions): Promise<string> {
  const max = opts.limit === undefined ? undefined : positiveInt('--limit', opts.limit, Number.MAX_SAFE_INTEGER)
  const pageSize = opts.pageSize === undefined ? undefined : positiveInt('--page-size', opts.pageSize, MAX_NODES_PAGE)
  const selector = selectorFlag(opts.selector)
  const list = await client.nodes({ ...(max !== undefined ? { max } : {}), ...(pageSize !== undefined ? { pageSize } : {}), ...(selector !== undefined ? { selector } : {}) })
  return formatOutput(opts.output, list, () => renderTable(columns(opts.now ?? new Date()), [...list].sort((a, b) => a.name.localeCompare(b.name))))
}
