/** `clusterctl events`: every lifecycle transition, what, when, why and which job (`GET /v1/events`). */

import type { LifecycleEvent } from '../../protocol/nodes.js'
import { nodeNames, positiveInt } from '../arguments.js'
import type { ApiClient, EventsFilter } from '../client.js'
import { formatOutput, orDash, renderTable, type Column, type OutputFormat } from '../output.js'

/** Options of `clusterctl events`. */
export interface EventsOptions {
  output: OutputFormat
  node?: string
  limit?: string
}

/** Largest --limit the manager accepts. */
export const MAX_EVENTS_LIMIT = 100_000

/** Table columns of lifecycle events: SEQ TIME NODE TYPE FROM TO JOB ACTOR REASON. */
export const EVENT_COLUMNS: ReadonlyArray<Column<LifecycleEvent>> = [
  { header: 'SEQ', cell: e => String(e.gseq) },
  { header: 'TIME', cell: e => e.at },
  { header: 'NODE', cell: e => e.node },
  { header: 'TYPE', cell: e => e.type },
  { header: 'FROM', cell: e => orDash(e.from) },
  { header: 'TO', cell: e => e.to },
  { header: 'JOB', cell: e => orDash(e.jobId) },
  { header: 'ACTOR', cell: e => e.actor },
  { header: 'REASON', cell: e => orDash(e.reason) }
]

/** Fetch lifecycle events (oldest first) and format them. */
export async function events (client: ApiClient, opts: EventsOptions): Promise<string> {
  const filter: EventsFilter = {}
  if (opts.node !== undefined) filter.node = nodeNames([opts.node])[0]
  if (opts.limit !== undefined) filter.limit = positiveInt('--limit', opts.limit, MAX_EVENTS_LIMIT)
  const list = await client.events(filter)
  return formatOutput(opts.output, list, () => renderTable(EVENT_COLUMNS, [...list].sort((a, b) => a.gseq - b.gseq)))
}
