/**
 * Typed exit errors: commands throw these instead of calling process.exit. ExitError is a
 * failure detected on the client side (bad flag, agent unreachable); errors the agent returns
 * stay ClusterdError. protocol/exit-codes.ts reports both.
 */

import { ERROR_CODES } from '../protocol/errors.js'
import { ExitError } from '../protocol/exit-codes.js'
import { EXIT_USAGE } from './constants.js'

/** Commands import ExitError from here, beside the helpers that make one. */
export { ExitError }

/** A bad flag value or argument (exit 2). */
export function usageError (message: string): ExitError {
  return new ExitError(message, EXIT_USAGE)
}

/** The agent could not be reached or did not answer (exit code of CLUSTERD_ERR_UNAVAILABLE). */
export function unreachableError (message: string): ExitError {
  return new ExitError(message, ERROR_CODES.CLUSTERD_ERR_UNAVAILABLE.exit)
}
