/**
 * `clusterctl events`: every lifecycle transition, what, when, why and which job
 * (`GET /v1/events`). With --follow the recent events, then each new one as it happens, until
 * interrupted, resuming after a broken path to the manager (cli/events-follow.ts); `-o json`
 * then prints one JSON event per line and `-o yaml` one YAML document per event.
 */

import { stringify as toYaml } from 'yaml'
import type { LifecycleEvent } from '../../protocol/nodes.js'
import { nodeNames, positiveInt } from '../arguments.js'
import type { ApiClient, EventsFilter } from '../client.js'
import type { CommandContext } from '../context.js'
import { followEvents, type EventsFollowOptions } from '../events-follow.js'
import { formatOutput, orDash, renderTable, type Column, type OutputFormat } from '../output.js'

/** Options of `clusterctl events`. */
export interface EventsOptions {
  output: OutputFormat
  node?: string
  limit?: string
  follow?: boolean
  /** Poll and reconnect tuning, for tests. */
  followOptions?: EventsFollowOptions
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

async function * follow (client: ApiClient, filter: EventsFilter, opts: EventsOptions, ctx: CommandContext): AsyncGenerator<string> {
  let header = true
  for await (const item of followEvents(client, { ...opts.followOptions, ...filter })) {
    if (item.type === 'reconnect') {
      ctx.warn(`lost the manager: ${item.reason}; retrying (attempt ${item.attempt})`)
      continue
    }
    switch (opts.output) {
      case 'json': yield item.events.map(e => JSON.stringify(e) + '\n').join(''); break
      case 'yaml': yield item.events.map(e => '---\n' + toYaml(e)).join(''); break
      case 'table': {
        // Each batch is aligned on its own; the header comes once.
        const table = renderTable(EVENT_COLUMNS, item.events)
        yield header ? table : table.slice(table.indexOf('\n') + 1)
        header = false
      }
    }
  }
}

/** The filter of the command's --node and --limit, checked. */
function filterOf (opts: EventsOptions): EventsFilter {
  const filter: EventsFilter = {}
  if (opts.node !== undefined) filter.node = nodeNames([opts.node])[0]
  if (opts.limit !== undefined) filter.limit = positiveInt('--limit', opts.limit, MAX_EVENTS_LIMIT)
  return filter
}

/** Fetch lifecycle events (oldest first) and format them. */
export async function events (client: ApiClient, opts: EventsOptions): Promise<string> {
  const list = await client.events(filterOf(opts))
  return formatOutput(opts.output, list, () => renderTable(EVENT_COLUMNS, [...list].sort((a, b) => a.gseq - b.gseq)))
}

/** `events --follow`: the recent events, then each new one as it happens, until interrupted. */
export function eventsFollow (client: ApiClient, opts: EventsOptions, ctx: CommandContext): AsyncIterable<string> {
  return follow(client, filterOf(opts), opts, ctx)
}
