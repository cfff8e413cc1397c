/**
 * `clusterctl logs [--node NAME] [--lines N] [--follow]`: an agent's recent log lines from its
 * in-memory ring (`GET /v1/logs`; the local agent's, or with --node another live member's,
 * fetched by the local agent). One readable line per event by default (protocol/log-lines.ts);
 * `-o json` prints the agent's pino JSON lines as they are, `-o yaml` one document per line.
 * --follow asks again every second for the lines after the last one seen, saying on stderr
 * when lines were lost between two asks (more were written than the ring holds) or the agent
 * could not be reached, until interrupted.
 */

import { setTimeout as sleep } from 'node:timers/promises'
import { stringify as toYaml } from 'yaml'
import { LOG_RING_LINES, type LogLine, type LogsReply } from '../../protocol/diagnostics.js'
import { formatLogLine } from '../../protocol/log-lines.js'
import { nodeNames, positiveInt } from '../arguments.js'
import type { ApiClient } from '../client.js'
import type { CommandContext } from '../context.js'
import type { OutputFormat } from '../output.js'

/** Options of `clusterctl logs`. */
export interface LogsOptions {
  output: OutputFormat
  node?: string
  lines?: string
  follow?: boolean
  /** Pause between two asks of --follow (tests shorten it). */
  followIntervalMs?: number
  /** Ends --follow (tests). */
  signal?: AbortSignal
}

/** Lines shown without --lines. */
export const DEFAULT_LOG_LINES = 100

/** Asks in a row --follow lets fail before it gives up. */
const MAX_FOLLOW_FAILURES = 30

/** One line in the chosen format. */
export function renderLogLine (format: OutputFormat, l: LogLine): string {
  switch (format) {
    case 'json': return l.line + '\n'
    case 'yaml': {
      let v: unknown = l.line
      try { v = JSON.parse(l.line) } catch {}
      return '---\n' + toYaml(v)
    }
    case 'table': return formatLogLine(l.line) + '\n'
  }
}

/** The lines lost between `after` and the reply (the ring moved past them), or 0. */
export function linesLost (after: number, reply: Pick<LogsReply, 'oldest' | 'lines'>): number {
  const first = reply.lines[0]?.seq ?? reply.oldest
  return after > 0 && first > after + 1 ? first - after - 1 : 0
}

async function * follow (client: ApiClient, opts: LogsOptions, ctx: CommandContext, node: string | undefined, lines: number): AsyncGenerator<string> {
  let after = 0
  let failures = 0
  let first = true
  const stopped = (): boolean => opts.signal?.aborted === true
  while (!stopped()) {
    try {
      const reply = await client.logs({ node, after, lines: first ? lines : LOG_RING_LINES }, { ...(opts.signal !== undefined ? { signal: opts.signal } : {}) })
      const lost = first ? 0 : linesLost(after, reply)
      if (lost > 0) ctx.warn(`${lost} log lines were written faster than followed and are not shown`)
      // An agent that restarted counts from 1 again.
      if (reply.newest < after) after = 0
      for (const l of reply.lines) if (l.seq > after) yield renderLogLine(opts.output, l)
      after = Math.max(after, reply.lines.at(-1)?.seq ?? reply.newest)
      failures = 0
      first = false
    } catch (err) {
      if (stopped()) return
      if (++failures >= MAX_FOLLOW_FAILURES) throw err
      ctx.warn(`cannot read the logs (${(err as Error).message}); asking again`)
    }
    await sleep(opts.followIntervalMs ?? 1000, undefined, opts.signal !== undefined ? { signal: opts.signal } : {}).catch(() => {})
  }
}

/** The recent lines, or (with follow) the lines as they come. */
export async function logs (client: ApiClient, opts: LogsOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  const node = opts.node !== undefined ? nodeNames([opts.node])[0] : undefined
  const lines = opts.lines !== undefined ? positiveInt('--lines', opts.lines, LOG_RING_LINES) : DEFAULT_LOG_LINES
  if (opts.follow === true) return follow(client, opts, ctx, node, lines)
  const reply = await client.logs({ node, lines })
  return reply.lines.map(l => renderLogLine(opts.output, l)).join('')
}
