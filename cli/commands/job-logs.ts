/**
 * `clusterctl job logs ID [--follow]`: a job's events (`GET /v1/jobs/:id/events`), one line
 * each (time, node, kind, task, message). With --follow the events stream until the job
 * ends, resuming after a broken stream; `-o json` then prints one JSON event per line and
 * `-o yaml` one YAML document per event.
 */

import { stringify as toYaml } from 'yaml'
import type { JobEvent } from '../../protocol/jobs.js'
import type { ApiClient } from '../client.js'
import type { CommandContext } from '../context.js'
import { followJob, type FollowOptions } from '../job-follow.js'
import { renderEventLine } from '../job-format.js'
import { formatOutput, type OutputFormat } from '../output.js'

/** Options of `clusterctl job logs`. */
export interface JobLogsOptions {
  output: OutputFormat
  follow?: boolean
  /** Reconnect tuning, for tests. */
  followOptions?: FollowOptions
}

function one (format: OutputFormat, e: JobEvent): string {
  switch (format) {
    case 'json': return JSON.stringify(e) + '\n'
    case 'yaml': return '---\n' + toYaml(e)
    case 'table': return renderEventLine(e)
  }
}

async function * follow (client: ApiClient, id: string, opts: JobLogsOptions, ctx: CommandContext): AsyncGenerator<string> {
  for await (const item of followJob(client, id, opts.followOptions)) {
    if (item.type === 'event') yield one(opts.output, item.event)
    else if (item.type === 'reconnect') ctx.warn(`stream broken: ${item.reason}; reconnecting (attempt ${item.attempt})`)
  }
}

/** The job's events so far, or (with follow) as they happen until the job ends. */
export async function jobLogs (client: ApiClient, id: string, opts: JobLogsOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  if (opts.follow === true) return follow(client, id, opts, ctx)
  const list = await client.jobEvents(id)
  return formatOutput(opts.output, list, () => list.map(renderEventLine).join(''))
}
