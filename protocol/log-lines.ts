/**
 * One pino JSON log line as one line for people: time, level, node, component, message and the
 * few other fields it carries (`key=value`). The agent writes it with `--log-format pretty`;
 * `clusterctl logs` prints the agents' ring of JSON lines with it. A line that is not a pino
 * object is returned as it is (made safe for a terminal). Pure, never throws.
 */

/** pino's numeric levels and their names. */
const LEVELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }

/** Fields shown in their own place (or not worth a column: pino's pid and hostname). */
const PLACED = new Set(['level', 'time', 'msg', 'node', 'component', 'pid', 'hostname', 'v'])

/** Longest rendering of one extra field's value. */
const MAX_FIELD_CHARS = 200

/** Replace control characters so a log line cannot move the cursor or recolour the terminal. */
function safe (text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')
}

function fieldValue (v: unknown): string {
  let text: string
  if (typeof v === 'string') text = /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)
  else if (typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string') {
    // An error: its message says it; the stack is in the JSON log.
    const e = v as { type?: unknown, message: string, code?: unknown }
    text = JSON.stringify(`${typeof e.type === 'string' ? e.type + ': ' : ''}${e.message}${typeof e.code === 'string' ? ` (${e.code})` : ''}`)
  } else text = JSON.stringify(v) ?? String(v)
  return text.length > MAX_FIELD_CHARS ? text.slice(0, MAX_FIELD_CHARS - 1) + '…' : text
}

/**
 * The agent's own node name: the first `"node"` key of the raw line. pino writes its base
 * bindings first and does not merge a field of the same name from the logged object (a
 * membership event about another node), so JSON.parse would give that one instead.
 */
function firstNode (line: string): string | undefined {
  const m = /"node":"((?:[^"\\]|\\.)*)"/.exec(line)
  if (m === null) return undefined
  try {
    return JSON.parse(`"${m[1] ?? ''}"`) as string
  } catch {
    return undefined
  }
}

/** `2026-12-06T13:10:01.123Z INFO  node-1 membership: agent started peer=12D3… listen=…` (no newline). */
export function formatLogLine (line: string): string {
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch {
    return safe(line.trimEnd())
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return safe(line.trimEnd())
  const o = v as Record<string, unknown>
  const time = typeof o.time === 'number' && Number.isFinite(o.time) && Math.abs(o.time) < 8.64e15
    ? new Date(o.time).toISOString()
    : typeof o.time === 'string' ? o.time : '-'
  const level = typeof o.level === 'number' ? (LEVELS[o.level] ?? String(o.level)) : typeof o.level === 'string' ? o.level.toUpperCase() : '-'
  const node = firstNode(line) ?? (typeof o.node === 'string' ? o.node : '-')
  const component = typeof o.component === 'string' ? `${o.component}: ` : ''
  const msg = typeof o.msg === 'string' ? o.msg : ''
  const extra = Object.entries(o).filter(([k]) => !PLACED.has(k)).map(([k, x]) => `${k}=${fieldValue(x)}`)
  // An event about another node names it as a field (see firstNode).
  if (o.node !== undefined && o.node !== node) extra.unshift(`node=${fieldValue(o.node)}`)
  return safe([time, level.padEnd(5), node, `${component}${msg}`, ...extra].filter(s => s !== '').join(' '))
}
