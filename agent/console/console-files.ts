/**
 * The web console's static files: found beside the running code (`dist/ui/`, which
 * `npm run build` fills from agent/console/static/) and read once into memory. They hold no
 * data: the page fetches everything from the API with the operator's token.
 */

import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CONSOLE_CONTENT_TYPES, CONSOLE_DIST_DIR, CONSOLE_INDEX } from './constants.js'

/** One file of the console. */
export interface ConsoleFile {
  /** File name, e.g. `app.js`. */
  name: string
  contentType: string
  text: string
}

/**
 * The console directory: the nearest `ui/` holding index.html above this module (from
 * `dist/bundle/chunks/` or `dist/agent/console/` both reach `dist/ui/`); null when not built.
 */
export function findConsoleDir (from: string = dirname(fileURLToPath(import.meta.url))): string | null {
  let dir = from
  for (let i = 0; i < 8 && dir !== dirname(dir); i++) {
    if (existsSync(join(dir, CONSOLE_DIST_DIR, CONSOLE_INDEX))) return join(dir, CONSOLE_DIST_DIR)
    dir = dirname(dir)
  }
  return null
}

/** Read every servable file of `dir` (not recursive; files of unknown kinds are left out). */
export async function loadConsoleFiles (dir: string): Promise<ConsoleFile[]> {
  const files: ConsoleFile[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const contentType = CONSOLE_CONTENT_TYPES[extname(entry.name)]
    if (!entry.isFile() || contentType === undefined) continue
    files.push({ name: entry.name, contentType, text: await readFile(join(dir, entry.name), 'utf8') })
  }
  return files.sort((a, b) => a.name.localeCompare(b.name))
}
