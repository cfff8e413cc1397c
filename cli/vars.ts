/**
 * Request variables from `--var NAME=VALUE` and `--vars-file FILE` (YAML or JSON map of
 * string values). Checked here, with the flag or file named, before anything is sent.
 */

import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { MAX_VAR_VALUE_LENGTH, VAR_NAME_PATTERN } from '../protocol/manager-api.js'
import { usageError } from './errors.js'

const NAME_RULE = 'letters, digits and _, not starting with a digit, at most 64 characters'

function checkName (where: string, name: string): void {
  if (!VAR_NAME_PATTERN.test(name)) throw usageError(`${where}: variable name ${JSON.stringify(name)} is invalid (${NAME_RULE})`)
}

function checkValue (where: string, name: string, value: string): void {
  if (value.length > MAX_VAR_VALUE_LENGTH) throw usageError(`${where}: value of ${name} is longer than ${MAX_VAR_VALUE_LENGTH} characters`)
}

/** Parse repeated `--var NAME=VALUE` flags; a later flag for the same name wins. */
export function parseVarFlags (flags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const flag of flags) {
    const eq = flag.indexOf('=')
    if (eq <= 0) throw usageError(`--var: expected NAME=VALUE (e.g. --var ntp_server=10.0.0.1); got ${JSON.stringify(flag)}`)
    const name = flag.slice(0, eq)
    const value = flag.slice(eq + 1)
    checkName('--var', name)
    checkValue('--var', name, value)
    out[name] = value
  }
  return out
}

/** Parse the text of a vars file: a YAML (or JSON) mapping of names to string values. */
export function parseVarsText (file: string, text: string): Record<string, string> {
  const where = `--vars-file ${file}`
  let data: unknown
  try {
    data = parseYaml(text)
  } catch (err) {
    throw usageError(`${where}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0] ?? ''}`)
  }
  if (data === null || data === undefined) return {}
  if (typeof data !== 'object' || Array.isArray(data)) throw usageError(`${where}: expected a mapping of variable names to string values`)
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(data)) {
    checkName(where, name)
    // Numbers and booleans are refused rather than converted: YAML reads 1.10 as 1.1.
    if (typeof value !== 'string') throw usageError(`${where}: value of ${name} must be a string; quote it (e.g. ${name}: "${String(value)}")`)
    checkValue(where, name, value)
    out[name] = value
  }
  return out
}

/** Read and parse a vars file. */
export async function loadVarsFile (file: string): Promise<Record<string, string>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw usageError(`--vars-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  return parseVarsText(file, text)
}

/** The request variables: the file's, then the flags' (a flag wins over the file). */
export async function requestVars (opts: { var?: string[], varsFile?: string }): Promise<Record<string, string>> {
  const fromFlags = parseVarFlags(opts.var ?? [])
  const fromFile = opts.varsFile === undefined ? {} : await loadVarsFile(opts.varsFile)
  return { ...fromFile, ...fromFlags }
}
