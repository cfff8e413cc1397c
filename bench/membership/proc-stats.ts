/**
 * Per-process figures from /proc: resident memory and consumed CPU time, and simple
 * order statistics to summarise them.
 */
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

/** Clock ticks per second of /proc/PID/stat times. */
export const CLK_TCK = ((): number => {
  try {
    const n = Number.parseInt(execFileSync('/usr/bin/getconf', ['CLK_TCK'], { encoding: 'utf8' }), 10)
    return Number.isInteger(n) && n > 0 ? n : 100
  } catch {
    return 100
  }
})()

/** VmRSS of `pid` in bytes, or null when the process is gone. */
export function rssBytes (pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? null : Number(m[1]) * 1024
  } catch {
    return null
  }
}

/**
 * Memory of `pid` in bytes from /proc/PID/smaps_rollup, or null when the process is gone:
 * `anon` (its own heap and stacks), `file` (mapped files, mostly the Node binary's pages, which
 * every agent on the machine shares) and `pss` (the proportional share: its own pages plus its
 * part of the shared ones, so the sum over the agents is what they take from the machine).
 */
export function memoryBytes (pid: number): { anon: number, file: number, pss: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024
    const rss = kb('Rss')
    const anon = kb('Anonymous')
    const pss = kb('Pss')
    return Number.isNaN(rss) || Number.isNaN(anon) || Number.isNaN(pss) ? null : { anon, file: rss - anon, pss }
  } catch {
    return null
  }
}

/** utime + stime of `pid` in seconds, or null when the process is gone. */
export function cpuSeconds (pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return null
  }
}

/** Median of `xs` (null when empty). */
export function median (xs: readonly number[]): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** Largest of `xs` (null when empty). */
export function max (xs: readonly number[]): number | null {
  return xs.length === 0 ? null : Math.max(...xs)
}

/** Smallest of `xs` (null when empty). */
export function min (xs: readonly number[]): number | null {
  return xs.length === 0 ? null : Math.min(...xs)
}

/** Rounds to `digits` decimals, keeping null. */
export function round (x: number | null, digits = 0): number | null {
  if (x === null) return null
  const f = 10 ** digits
  return Math.round(x * f) / f
}
