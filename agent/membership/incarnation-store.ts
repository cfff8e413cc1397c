/**
 * Durable incarnation counter. A restarted agent starts above every incarnation it ever
 * announced, so its fresh `alive` record supersedes its own earlier `left` record and any
 * stale suspicion without a round of refutation.
 */

import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Load/save the incarnation in `<dataDir>/incarnation`. */
export function incarnationStore (dataDir: string): { load: () => Promise<number>, save: (inc: number) => Promise<void> } {
  const path = join(dataDir, 'incarnation')
  return {
    load: async () => {
      try {
        const n = Number.parseInt(await readFile(path, 'utf8'), 10)
        return Number.isSafeInteger(n) && n >= 0 ? n : 0
      } catch {
        return 0
      }
    },
    save: async (inc: number) => {
      const tmp = `${path}.tmp`
      await writeFile(tmp, String(inc), { mode: 0o600 })
      await rename(tmp, path)
    }
  }
}
