/**
 * Limits on decoded JSON shared by every wire decoder and the API. `JSON.parse` copes with any
 * nesting, but `JSON.stringify`, `structuredClone` and recursive code overflow the stack on a
 * value a few thousand levels deep: a hostile message must be refused at the door, before
 * anything re-encodes it (a relay, the API, the store).
 */

/** Deepest nesting of arrays and objects accepted in a message or request body. */
export const MAX_JSON_DEPTH = 32

/**
 * Whether `value` nests arrays/objects deeper than `max` (a scalar is depth 0, `[]` depth 1).
 * Iterative, so it never overflows the stack itself, and it stops at the first offender.
 */
export function exceedsJsonDepth (value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: Array<{ v: unknown, depth: number }> = [{ v: value, depth: 0 }]
  while (stack.length > 0) {
    const { v, depth } = stack.pop() as { v: unknown, depth: number }
    if (typeof v !== 'object' || v === null) continue
    if (depth + 1 > max) return true
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push({ v: child, depth: depth + 1 })
    }
  }
  return false
}
