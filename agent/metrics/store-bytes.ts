/** Size on disk of a LevelDB directory, for `clusterd_store_bytes`. */

import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Sum of the sizes of the regular files in `dir` (LevelDB keeps a flat directory of a few
 * dozen files at most); null when the directory does not exist. Never throws: a file removed
 * while it is read (a compaction) counts as 0.
 */
export async function directoryBytes (dir: string): Promise<number | null> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return null
  }
  const sizes = await Promise.all(names.map(async n => await stat(join(dir, n)).then(st => st.isFile() ? st.size : 0, () => 0)))
  return sizes.reduce((a, b) => a + b, 0)
}
