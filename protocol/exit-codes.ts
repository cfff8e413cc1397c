/**
 * The exit codes of clusterd, clusterctl and bootstrap.sh, and the one fatal-error reporter
 * both programs end with. docs/errors.md ("Exit codes") lists the same table; the unit test
 * `test/unit/protocol/errors.test.ts` keeps the two in step, and checks that every error
 * code's exit (protocol/errors.ts) is one of these.
 */

import { CommanderError } from 'commander'
import { ClusterdError } from './errors.js'

/** Success, `--help`, `--version`. */
export const EXIT_OK = 0
/** clusterctl: the operator declined at a confirmation prompt (nothing changed); bootstrap.sh: failed. */
export const EXIT_DECLINED = 1
/** Usage: unknown command or flag, bad flag value or argument, bad config. */
export const EXIT_USAGE = 2
/** The API refused the request: no valid bearer token (CLUSTERD_ERR_UNAUTHORIZED). */
export const EXIT_UNAUTHORIZED = 3
/** A route, node or job does not exist. */
export const EXIT_NOT_FOUND = 4
/** The operation conflicts with the node's, job's or lease's state. */
export const EXIT_CONFLICT = 5
/** The agent, the manager or the store cannot be reached or used right now; bootstrap.sh `status`: clusterd is not running. */
export const EXIT_UNAVAILABLE = 6
/** A job waited for (`--wait`) ended with a node whose outcome is not `ok`. */
export const EXIT_JOB_FAILED = 7
/** The manager changed mid-request; the request may or may not have been applied. */
export const EXIT_MANAGER_CHANGED = 8
/** `verify --wait`: every node was checked and at least one has drift (tasks that would change it). */
export const EXIT_DRIFT = 9
/** An input file is damaged or not ours: `clusterd store restore` refused a backup (sysexits EX_DATAERR). */
export const EXIT_DATA = 65
/** A bug or an unexpected failure (sysexits EX_SOFTWARE). */
export const EXIT_INTERNAL = 70

/** Every exit code above, in order: the table of docs/errors.md. */
export const EXIT_CODES: readonly number[] = [
  EXIT_OK, EXIT_DECLINED, EXIT_USAGE, EXIT_UNAUTHORIZED, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_UNAVAILABLE,
  EXIT_JOB_FAILED, EXIT_MANAGER_CHANGED, EXIT_DRIFT, EXIT_DATA, EXIT_INTERNAL
]

/**
 * A failure a program detects itself (bad flag, agent unreachable, a job that failed): the
 * reporter prints `<program>: <message>` and exits with `exitCode`. Errors with a stable code
 * are ClusterdError and are printed with their code.
 */
export class ExitError extends Error {
  /** Process exit code. */
  readonly exitCode: number

  constructor (message: string, exitCode: number) {
    super(message)
    this.name = 'ExitError'
    this.exitCode = exitCode
  }
}

/** Where the reporter writes, and whether stack traces are wanted (CLUSTERD_DEBUG=1). */
export interface FatalOutput {
  /** Program name that starts every line, e.g. `clusterctl`. */
  program: string
  stderr: (text: string) => void
  debug: boolean
}

/**
 * Report the error a program ends with as one line on stderr and return its exit code; never
 * throws. A commander error has printed its message (or the help) already; an ExitError is
 * `<program>: <message>`; a ClusterdError adds its code; anything else is a bug: exit 70.
 * Stack traces only with `debug`.
 */
export function reportFatal (err: unknown, out: FatalOutput): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK
    if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE
    return EXIT_USAGE
  }
  if (err instanceof ExitError) {
    out.stderr(`${out.program}: ${err.message}\n`)
    return err.exitCode
  }
  let code: number
  if (err instanceof ClusterdError) {
    out.stderr(`${out.program}: ${err.message} (${err.code})\n`)
    code = err.exitCode
  } else {
    out.stderr(`${out.program}: internal error: ${err instanceof Error ? err.message : String(err)}\n`)
    code = EXIT_INTERNAL
  }
  if (out.debug && err instanceof Error && err.stack !== undefined) out.stderr(err.stack + '\n')
  return code
}
