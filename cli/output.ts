/**
 * Output formats for read commands (`-o table|json|yaml`): json is the API objects exactly,
 * pretty-printed; yaml is the same data as YAML; table is aligned columns for people.
 */

import { Option } from 'commander'
import { stringify as toYaml } from 'yaml'

/** The formats every read command accepts. */
export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const

/** One output format. */
export type OutputFormat = typeof OUTPUT_FORMATS[number]

/** The `-o, --output` option every read command carries. */
export function outputOption (): Option {
  return new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table')
}

/** One table column: a header and how to render a row's cell. */
export interface Column<T> {
  header: string
  cell: (row: T) => string
}

/** Replace control characters so remote data cannot move the cursor or recolour the terminal. */
export function safe (text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')
}

/** Render rows as columns separated by three spaces; the last column is not padded. */
export function renderTable<T> (columns: ReadonlyArray<Column<T>>, rows: readonly T[]): string {
  const cells = [columns.map(c => c.header), ...rows.map(row => columns.map(c => safe(c.cell(row))))]
  const widths = columns.map((_, i) => Math.max(...cells.map(line => line[i]?.length ?? 0)))
  return cells
    .map(line => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('   ').trimEnd())
    .join('\n') + '\n'
}

/** Format `data` as json or yaml, or call `table()` for the table form. */
export function formatOutput (format: OutputFormat, data: unknown, table: () => string): string {
  switch (format) {
    case 'json': return JSON.stringify(data, null, 2) + '\n'
    case 'yaml': return toYaml(data)
    case 'table': return table()
  }
}

/** How long ago `iso` was, relative to `now`, e.g. `4s ago`, `3m ago`; unparsable input is returned as is. */
export function formatAge (iso: string, now: Date): string {
  const then = Date.parse(iso)
  if (Number.isNaN(then)) return iso
  const seconds = Math.max(0, Math.floor((now.getTime() - then) / 1000))
  if (seconds < 60) return `${seconds}s ago`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`
  return `${Math.floor(seconds / 86400)}d ago`
}

/** Render `label: value` lines with the values aligned; values are made safe. */
export function renderFields (fields: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...fields.map(([label]) => label.length + 1))
  return fields.map(([label, value]) => `${(label + ':').padEnd(width)}  ${safe(value)}`.trimEnd()).join('\n') + '\n'
}

/** A cell for an optional value: the value, or `-` when it is missing or empty. */
export function orDash (value: string | null | undefined): string {
  return value === null || value === undefined || value === '' ? '-' : value
}
