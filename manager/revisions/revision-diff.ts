/**
 * `roles diff A B`: what changed between two revisions, per file, as unified-style hunks
 * (`@@ -a,n +b,m @@`, then ` `, `-`, `+` lines with three lines of context). Pure. The line
 * diff is Myers' O((N+M)·D) algorithm with D bounded: two files that differ in more than
 * MAX_EDITS lines are shown as all removed and all added, so a diff costs bounded time.
 */
import type { RevisionFileDiff } from '../../protocol/revisions.js'

/** Most differing lines the search looks for before falling back to a whole replacement. */
export const MAX_EDITS = 2000
/** Lines of context around each change. */
export const CONTEXT_LINES = 3

type Op = { kind: ' ' | '-' | '+', text: string }

/** Split text into lines without the final newline's empty line. */
function lines (text: string): string[] {
  if (text === '') return []
  const out = text.split('\n')
  if (out[out.length - 1] === '') out.pop()
  return out
}

/** The edit script turning `a` into `b` (Myers), or null past MAX_EDITS differences. */
function editScript (a: string[], b: string[]): Op[] | null {
  const n = a.length
  const m = b.length
  const max = Math.min(n + m, MAX_EDITS)
  const offset = max + 1
  const v = new Int32Array(2 * max + 3)
  const trace: Int32Array[] = []
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice())
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number)) ? v[offset + k + 1] as number : (v[offset + k - 1] as number) + 1
      let y = x - k
      while (x < n && y < m && a[x] === b[y]) { x++; y++ }
      v[offset + k] = x
      if (x >= n && y >= m) return backtrack(trace, a, b, d, offset)
    }
  }
  return null
}

function backtrack (trace: Int32Array[], a: string[], b: string[], dEnd: number, offset: number): Op[] {
  const ops: Op[] = []
  let x = a.length
  let y = b.length
  for (let d = dEnd; d > 0; d--) {
    const v = trace[d] as Int32Array
    const k = x - y
    const prevK = k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number)) ? k + 1 : k - 1
    const prevX = v[offset + prevK] as number
    const prevY = prevX - prevK
    while (x > prevX && y > prevY) { ops.push({ kind: ' ', text: a[--x] as string }); y-- }
    if (x === prevX) ops.push({ kind: '+', text: b[--y] as string })
    else ops.push({ kind: '-', text: a[--x] as string })
  }
  while (x > 0 && y > 0) { ops.push({ kind: ' ', text: a[--x] as string }); y-- }
  return ops.reverse()
}

/** Unified-style hunks for `before` -> `after` (empty when equal). */
export function diffLines (before: string, after: string): string[] {
  const a = lines(before)
  const b = lines(after)
  const ops = editScript(a, b) ?? [...a.map(text => ({ kind: '-' as const, text })), ...b.map(text => ({ kind: '+' as const, text }))]
  const out: string[] = []
  let i = 0
  let aLine = 1
  let bLine = 1
  while (i < ops.length) {
    if ((ops[i] as Op).kind === ' ') { i++; aLine++; bLine++; continue }
    // A hunk: back up to CONTEXT_LINES of context, run until CONTEXT_LINES*2 equal lines follow.
    const start = Math.max(0, i - CONTEXT_LINES)
    let end = i
    let equalRun = 0
    while (end < ops.length && equalRun <= CONTEXT_LINES * 2) {
      equalRun = (ops[end] as Op).kind === ' ' ? equalRun + 1 : 0
      end++
    }
    end -= Math.max(0, equalRun - CONTEXT_LINES)
    const hunk = ops.slice(start, end)
    const aStart = aLine - (i - start)
    const bStart = bLine - (i - start)
    const aCount = hunk.filter(o => o.kind !== '+').length
    const bCount = hunk.filter(o => o.kind !== '-').length
    out.push(`@@ -${aCount === 0 ? aStart - 1 : aStart},${aCount} +${bCount === 0 ? bStart - 1 : bStart},${bCount} @@`)
    for (const o of hunk) out.push(`${o.kind}${o.text}`)
    for (let j = i; j < end; j++) {
      const kind = (ops[j] as Op).kind
      if (kind !== '+') aLine++
      if (kind !== '-') bLine++
    }
    i = end
  }
  return out
}

/** True when `bytes` is not UTF-8 text (holds NUL or does not decode). */
function isBinary (bytes: Buffer): boolean {
  if (bytes.includes(0)) return true
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    return false
  } catch {
    return true
  }
}

/** One file's difference; undefined when the two are the same bytes. */
export function diffFile (path: string, before: Buffer | undefined, after: Buffer | undefined): RevisionFileDiff | undefined {
  if (before !== undefined && after !== undefined && before.equals(after)) return undefined
  const change = before === undefined ? 'added' : after === undefined ? 'removed' : 'modified'
  if ((before !== undefined && isBinary(before)) || (after !== undefined && isBinary(after))) return { path, change, binary: true }
  return { path, change, lines: diffLines(before?.toString('utf8') ?? '', after?.toString('utf8') ?? '') }
}
