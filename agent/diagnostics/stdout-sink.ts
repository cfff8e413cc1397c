/**
 * Where the agent's log lines go: stdout, without ever blocking the event loop.
 *
 * A synchronous write to a pipe or socket whose reader is slow (a journal under load, a
 * supervisor, a benchmark reading 64 agents) blocks the writer, and pino's synchronous
 * destination then sleeps 100 ms per retry. An agent that freezes while it logs misses its
 * probes' deadlines; the suspicions it causes are logged too, by every member, which loads the
 * reader further: on the 64-host benchmark this fed a suspicion storm (docs/benchmarks.md,
 * "Logging that froze the agents"). So lines are written asynchronously from a buffer of at
 * most `maxBytes`; while the reader cannot keep up and the buffer is full, further lines are
 * dropped from stdout and counted (`clusterd_log_lines_dropped_total`). They stay in the log
 * ring (`GET /v1/logs`, support bundles), which is written first. What is buffered at
 * `process.exit` is written out synchronously then.
 */

import { pino } from 'pino'

/** Largest amount of log text waiting for stdout before lines are dropped (bytes). */
export const STDOUT_BUFFER_MAX_BYTES = 4 * 1024 * 1024

/** What the sink needs from its destination (sonic-boom, as `pino.destination` makes it). */
interface Destination {
  write: (data: string) => boolean
  flushSync: () => void
  on: (event: 'drop' | 'error', listener: (arg: unknown) => void) => unknown
}

/** Non-blocking, bounded log output to a file descriptor (stdout by default). */
export class StdoutSink {
  private droppedLines = 0
  private readonly dest: Destination

  constructor (init: { fd?: number, maxBytes?: number } = {}) {
    this.dest = pino.destination({ fd: init.fd ?? 1, sync: false, maxLength: init.maxBytes ?? STDOUT_BUFFER_MAX_BYTES }) as unknown as Destination
    this.dest.on('drop', () => { this.droppedLines++ })
    // The reader went away (EPIPE): there is nowhere to write; the ring still has every line.
    this.dest.on('error', () => {})
    process.on('exit', () => { this.flush() })
  }

  /** Queue one line (newline included) for the descriptor; dropped when the buffer is full. */
  write (line: string): void {
    this.dest.write(line)
  }

  /** Lines dropped because the reader did not keep up. */
  get dropped (): number { return this.droppedLines }

  /** Write what is buffered now, synchronously (at exit). */
  flush (): void {
    try {
      this.dest.flushSync()
    } catch {
      // Not open yet, or already closed: nothing more can be written.
    }
  }
}
