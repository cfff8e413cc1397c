/**
 * A durable, monotonically used counter in one small file (atomic replace). Used for the
 * membership incarnation (a restarted agent's news must supersede its old records) and the
 * highest manager epoch seen (the fencing token).
 */

import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** A counter persisted in `<dataDir>/<name>`. */
export interface CounterStore {
  load: () => Promise<number>
  save: (value: number) => Promise<void>
}

/**
 * Load/save a non-negative integer in `<dataDir>/<name>`; a missing or unreadable file reads as 0.
 * Saves run one at a time (concurrent ones shared one temporary file: the second rename failed
 * with ENOENT, found by the fault-injection suite under load), and a save never replaces a
 * higher value saved before it: the counter only grows.
 */
export function counterStore (dataDir: string, name: string): CounterStore {
  const path = join(dataDir, name)
  let chain: Promise<void> = Promise.resolve()
  let saved = -1
  return {
    load: async () => {
      try {
        const n = Number.parseInt(await readFile(path, 'utf8'), 10)
        return Number.isSafeInteger(n) && n >= 0 ? n : 0
      } catch {
        return 0
      }
    },
    save: async (value: number) => {
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
