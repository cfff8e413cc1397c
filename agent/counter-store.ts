/**
 * A durable, monotonically used counter in one small file (atomic replace). Used for the
 * membership incarnation (a restarted agent's news must supersede its old records) and the
 * highest manager epoch seen (the fencing token).
 *
 * Bounded numbers: both are u32 on the wire, so a counter has a `max` (2^32 - 1 by default),
 * far below 2^53, and the file is read back strictly (decimal digits only) and range-checked:
 * a value above `max`, or text that is not a plain number (a file written by an old version
 * that accepted a forged claim, or damaged), is not used; `onInvalid` says why and the counter
 * starts from 0, learning the cluster's current value again from its members.
 */

import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** A counter persisted in `<dataDir>/<name>`. */
export interface CounterStore {
  load: () => Promise<number>
  save: (value: number) => Promise<void>
}

/** Settings of a counter store. */
export interface CounterStoreInit {
  /** Largest value it holds (inclusive); default 2^32 - 1. */
  max?: number
  /** Called when the file holds something other than a number in [0, max]. */
  onInvalid?: (reason: string) => void
}

/** Largest value of a counter by default: the wire carries u32s. */
export const COUNTER_MAX = 2 ** 32 - 1

/**
 * Load/save a non-negative integer in `<dataDir>/<name>`; a missing file reads as 0, an invalid
 * one too (reported through `onInvalid`). Saves run one at a time (concurrent ones shared one
 * temporary file: the second rename failed with ENOENT, found by the fault-injection suite under
 * load), and a save never replaces a higher value saved before it: the counter only grows. A
 * value outside [0, max] is never written.
 */
export function counterStore (dataDir: string, name: string, init: CounterStoreInit = {}): CounterStore {
  const path = join(dataDir, name)
  const max = init.max ?? COUNTER_MAX
  let chain: Promise<void> = Promise.resolve()
  let saved = -1
  return {
    load: async () => {
      let text: string
      try {
        text = await readFile(path, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') init.onInvalid?.(`${path} cannot be read: ${(err as Error).message}`)
        return 0
      }
      const trimmed = text.trim()
      const n = /^\d{1,16}$/.test(trimmed) ? Number(trimmed) : NaN
      if (!Number.isSafeInteger(n) || n > max) {
        init.onInvalid?.(`${path} holds ${JSON.stringify(trimmed.slice(0, 40))}, not an integer in [0, ${max}]; starting from 0`)
        return 0
      }
      return n
    },
    save: async (value: number) => {
      if (!Number.isSafeInteger(value) || value < 0 || value > max) throw new RangeError(`${name} ${value} is outside [0, ${max}]`)
      const run = chain.then(async () => {
        if (value <= saved) return
        const tmp = `${path}.tmp`
        await writeFile(tmp, String(value), { mode: 0o600 })
        await rename(tmp, path)
        saved = value
      })
      chain = run.catch(() => {})
      await run
    }
  }
}
