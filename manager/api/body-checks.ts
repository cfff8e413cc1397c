/**
 * The checks every manager route applies to a request body before anything is written: an
 * object, no unknown fields; failures are CLUSTERD_ERR_INVALID_ARGUMENT naming the field.
 */

import { ClusterdError } from '../../protocol/errors.js'

/** A CLUSTERD_ERR_INVALID_ARGUMENT error with `message`. */
export function invalid (message: string): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', message)
}

/** The body as an object, or INVALID_ARGUMENT. */
export function asObject (body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('request body must be a JSON object')
  return body as Record<string, unknown>
}

/** Refuse fields other than `allowed`. */
export function onlyKeys (o: Record<string, unknown>, allowed: string[]): void {
  const extra = Object.keys(o).filter(k => !allowed.includes(k))
  if (extra.length > 0) throw invalid(`unknown field(s) ${extra.map(k => JSON.stringify(k)).join(', ')}; allowed: ${allowed.join(', ') || 'none'}`)
}
