/** Local checks of positional arguments and flag values, so mistakes fail before any request. */

import { NODE_NAME_PATTERN, NODE_NAME_RULE } from '../protocol/names.js'
import { usageError } from './errors.js'

/** Commander argParser for a repeatable option: collects every value in order. */
export function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** Check node names (DNS-label-like) and that none is given twice. */
export function nodeNames (names: readonly string[]): string[] {
  const seen = new Set<string>()
  for (const name of names) {
    if (!NODE_NAME_PATTERN.test(name)) throw usageError(`${JSON.stringify(name)} is not a valid node name (${NODE_NAME_RULE})`)
    if (seen.has(name)) throw usageError(`node ${name} is named twice`)
    seen.add(name)
  }
  return [...seen]
}

/** Parse a whole number from 1 to `max` given to `flag`. */
export function positiveInt (flag: string, text: string, max: number): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw usageError(`${flag}: expected a whole number from 1 to ${max}; got ${JSON.stringify(text)}`)
  }
  return n
}
