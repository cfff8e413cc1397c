/** Typed exit errors: commands throw these instead of calling process.exit. */

import { ERROR_CODES } from '../protocol/errors.js'
import { EXIT_USAGE } from './constants.js'

/**
 * A failure detected on the client side (bad flag, agent unreachable). The top-level catch
 * prints `clusterctl: <message>` and exits with `exitCode`. Errors the agent returns stay
 * ClusterdError and are printed with their code.
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

/** A bad flag value or argument (exit 2). */
export function usageError (message: string): ExitError {
  return new ExitError(message, EXIT_USAGE)
}

/** The agent could not be reached or did not answer (exit code of CLUSTERD_ERR_UNAVAILABLE). */
export function unreachableError (message: string): ExitError {
  return new ExitError(message, ERROR_CODES.CLUSTERD_ERR_UNAVAILABLE.exit)
}
