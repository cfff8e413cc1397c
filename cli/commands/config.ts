/**
 * `clusterctl config get [KEY]` (`GET /v1/config`, `GET /v1/config/:key`) and
 * `clusterctl config set KEY VALUE` (`PUT /v1/config/:key`). The value is sent as text; the
 * manager parses and validates it (e.g. auto-commission `off` or `worker@zone=a`).
 */

import { CONFIG_KEYS } from '../../protocol/api-routes.js'
import type { ApiClient } from '../client.js'
import { usageError } from '../errors.js'
import { formatOutput, renderTable, type OutputFormat } from '../output.js'

/** Options of `clusterctl config get`. */
export interface ConfigGetOptions {
  output: OutputFormat
}

/** A config value as one line: strings as they are, anything else as compact JSON. */
export function renderValue (value: unknown): string {
  if (value === null || value === undefined) return '(not set)'
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function checkKey (key: string): string {
  if (!Object.hasOwn(CONFIG_KEYS, key)) throw usageError(`unknown config key ${JSON.stringify(key)}; known keys: ${Object.keys(CONFIG_KEYS).join(', ')}`)
  return key
}

type Row = [string, unknown]

const COLUMNS = [
  { header: 'KEY', cell: (r: Row) => r[0] },
  { header: 'VALUE', cell: (r: Row) => renderValue(r[1]) }
]

/** One key (`{key, value}`), or every key that was set (a map); the table lists every known key. */
export async function configGet (client: ApiClient, key: string | undefined, opts: ConfigGetOptions): Promise<string> {
  if (key !== undefined) {
    const entry = await client.configKey(checkKey(key))
    return formatOutput(opts.output, entry, () => renderTable(COLUMNS, [[entry.key, entry.value]]))
  }
  const all = await client.config()
  const keys = [...new Set([...Object.keys(CONFIG_KEYS), ...Object.keys(all).sort()])]
  return formatOutput(opts.output, all, () => renderTable(COLUMNS, keys.map((k): Row => [k, all[k]])))
}

/** Set a key from its text form and print the value the manager stored. */
export async function configSet (client: ApiClient, key: string, value: string): Promise<string> {
  const entry = await client.setConfig(checkKey(key), value)
  return `${entry.key} = ${renderValue(entry.value)}\n`
}
