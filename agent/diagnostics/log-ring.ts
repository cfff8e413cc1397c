/**
 * The agent's recent log lines in memory: a pino destination that passes every line on (to
 * stdout, as JSON or made readable) and keeps the last LOG_RING_LINES, numbered, for
 * `GET /v1/logs` and the support bundle. Whatever the agent is run under (a terminal, the
 * supervised mode's log file, the journal), the lines can be read through the API, from any
 * member. Memory stays bounded: a line longer than MAX_LOG_LINE_CHARS is kept shortened.
 */

import { LOG_RING_LINES, MAX_LOG_LINE_CHARS, type LogLine } from '../../protocol/diagnostics.js'

/** Where each line goes on (as pino wrote it, newline included). */
export type LineSink = (line: string) => void

/** Settings. */
export interface LogRingInit {
  /** Lines kept. Default LOG_RING_LINES. */
  capacity?: number
  /** Lines the sink could not pass on (a slow reader of stdout: stdout-sink.ts); none by default. */
  droppedBySink?: () => number
}

/** A shortened copy of an over-long pino line that is still one JSON object (its message cut). */
export function shortenLine (line: string, max = MAX_LOG_LINE_CHARS): string {
  if (line.length <= max) return line
  let o: Record<string, unknown> | null = null
  try {
    const v: unknown = JSON.parse(line)
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) o = v as Record<string, unknown>
  } catch {}
  const keep = (x: unknown): unknown => typeof x === 'string' ? x.slice(0, 64) : typeof x === 'number' ? x : undefined
  const head = { level: keep(o?.level), time: keep(o?.time), node: keep(o?.node), component: keep(o?.component), truncatedChars: line.length }
  const room = max - JSON.stringify({ ...head, msg: '' }).length - 16
  const msg = typeof o?.msg === 'string' ? o.msg : line
  return JSON.stringify({ ...head, msg: JSON.stringify(msg).length <= room ? msg : msg.slice(0, Math.max(0, Math.floor(room / 6))) + '…' })
}

/** A pino destination keeping the last lines. */
export class LogRing {
  private readonly lines: Array<string | undefined>
  private next = 1
  private readonly sinkDropped: () => number

  /** `sink` receives every line first (the agent's stdout). */
  constructor (private readonly sink: LineSink, init: LogRingInit = {}) {
    this.lines = new Array<string | undefined>(Math.max(1, init.capacity ?? LOG_RING_LINES))
    this.sinkDropped = init.droppedBySink ?? (() => 0)
  }

  /** Lines the sink dropped (kept here all the same). */
  get droppedBySink (): number { return this.sinkDropped() }

  /** pino's destination interface: one serialised line, newline included. */
  write (line: string): void {
    this.sink(line)
    const text = line.endsWith('\n') ? line.slice(0, -1) : line
    this.lines[this.next % this.lines.length] = shortenLine(text)
    this.next++
  }

  /** Sequence number of the newest line (0: none yet). */
  get newest (): number { return this.next - 1 }

  /** Sequence number of the oldest line held (0: none yet). */
  get oldest (): number { return this.next === 1 ? 0 : Math.max(1, this.next - this.lines.length) }

  /** The newest `max` lines after sequence number `after`, oldest first. */
  tail (after: number, max: number): LogLine[] {
    const from = Math.max(after + 1, this.oldest, this.next - Math.max(0, max))
    const out: LogLine[] = []
    for (let seq = Math.max(1, from); seq < this.next; seq++) {
      const line = this.lines[seq % this.lines.length]
      if (line !== undefined) out.push({ seq, line })
    }
    return out
  }
}
