/**
 * Start-up progress and deadline of the agent. Each start-up step is logged (debug) as it
 * begins, so a start that stalls says where; a start that has not finished by the deadline
 * fails loudly (one line on stderr naming the step, then the process kills itself, so a
 * supervisor restarts it) instead of hanging silently. The line is written synchronously: the
 * logger's own writes go through libuv's thread pool, which a stuck file-system call may hold.
 */

import { writeSync } from 'node:fs'
import type { Logger } from 'pino'

/** How long start-up may take before the agent gives up (normally 1-4 s on the test machine). */
export const STARTUP_DEADLINE_MS = 60_000

/** Environment variable overriding the deadline (ms), for tests. */
export const STARTUP_DEADLINE_ENV = 'CLUSTERD_STARTUP_DEADLINE_MS'

/** Collaborators of the watch. */
export interface StartupWatchComponents {
  logger: Logger
  /** Called once when the deadline passes; default: one line on stderr, then SIGKILL to itself. */
  onTimeout?: (message: string) => void
  now?: () => number
}

/** Settings of the watch. */
export interface StartupWatchInit {
  deadlineMs?: number
}

/** The deadline from the environment, if it holds a positive number; else the default. */
export function startupDeadlineFromEnv (env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env[STARTUP_DEADLINE_ENV])
  return Number.isFinite(n) && n > 0 ? n : STARTUP_DEADLINE_MS
}

/** Times the agent's start-up steps against one deadline. */
export class StartupWatch {
  private readonly log: Logger
  private readonly onTimeout: (message: string) => void
  private readonly now: () => number
  private readonly started: number
  private current = 'begin'
  private currentAt: number
  private timer: NodeJS.Timeout | null

  constructor (components: StartupWatchComponents, init: StartupWatchInit = {}) {
    this.log = components.logger
    this.now = components.now ?? Date.now
    this.onTimeout = components.onTimeout ?? failLoudly
    this.started = this.currentAt = this.now()
    const deadlineMs = init.deadlineMs ?? STARTUP_DEADLINE_MS
    this.timer = setTimeout(() => { this.expire(deadlineMs) }, deadlineMs)
    // The deadline must not keep a process alive whose start-up failed and unwound.
    this.timer.unref()
  }

  /** The step now running. */
  get step (): string { return this.current }

  /** A new step begins. */
  begin (step: string): void {
    const at = this.now()
    this.log.debug({ step, previous: this.current, previousMs: at - this.currentAt, elapsedMs: at - this.started }, 'start-up step')
    this.current = step
    this.currentAt = at
  }

  /** Start-up finished (or failed and unwound): the deadline is off. */
  done (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }

  private expire (deadlineMs: number): void {
    this.timer = null
    const stuckMs = this.now() - this.currentAt
    const message = `start-up did not finish within ${deadlineMs} ms: stuck in step "${this.current}" for ${stuckMs} ms; exiting`
    this.log.fatal({ step: this.current, stuckMs, deadlineMs }, message)
    this.onTimeout(message)
  }
}

function failLoudly (message: string): void {
  try {
    writeSync(2, `clusterd: ${message}\n`)
  } finally {
    // Not process.exit(): libuv joins its thread-pool threads at exit, so a thread blocked in a
    // file-system call (what a stuck start-up may be) would make the exit hang as well (tried:
    // an open() of a FIFO without a writer). SIGKILL ends the process whatever its threads do.
    process.kill(process.pid, 'SIGKILL')
  }
}
