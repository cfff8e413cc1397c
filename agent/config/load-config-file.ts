/**
 * Reads the agent's YAML config file into a map of raw values keyed by kebab-case option
 * name (the flag name without `--`). Values are checked later by the same parsers as flags.
 */

import { readFileSync } from 'node:fs'
import { parseDocument } from 'yaml'
import { ClusterdError } from '../../protocol/errors.js'

/** Raw values from the config file, keyed by kebab-case option name. */
export type RawConfigFile = Map<string, unknown>

/** `dataDir` → `data-dir`: used to point camelCase keys at their kebab-case spelling. */
function kebab (key: string): string {
  return key.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`).replace(/_/g, '-')
}

/** Throw the config file error every problem in the file is reported with. */
export function configError (file: string, message: string): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `config file ${file}: ${message}`)
}

/**
 * Read and parse `file`. Only keys in `knownKeys` are accepted; an empty file is an empty
 * config. Throws CLUSTERD_ERR_INVALID_CONFIG naming the file (and line, for YAML errors).
 */
export function loadConfigFile (file: string, knownKeys: readonly string[]): RawConfigFile {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message
    throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `cannot read config file ${file}: ${why}`)
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true })
  const first = doc.errors[0]
  if (first !== undefined) {
    // The pretty message carries line/column plus a code excerpt; the first line is enough.
    throw configError(file, `invalid YAML: ${first.message.split('\n')[0] ?? ''}`)
  }
  const value: unknown = doc.toJS()
  if (value === null || value === undefined) return new Map()
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw configError(file, 'expected a mapping of option names to values at the top level')
  }
  const out: RawConfigFile = new Map()
  for (const [key, v] of Object.entries(value)) {
    if (!knownKeys.includes(key)) {
      const hint = knownKeys.includes(kebab(key))
        ? `keys are kebab-case like the flags: did you mean "${kebab(key)}"?`
        : `known keys: ${knownKeys.join(', ')}`
      throw configError(file, `unknown key "${key}" (${hint})`)
    }
    out.set(key, v)
  }
  return out
}
