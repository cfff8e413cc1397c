/**
 * Whole-machine CPU use from /proc/stat. Other work on a shared 2-core machine skews every
 * figure, so the benchmarks wait (bounded) for a quiet moment before each measured run and
 * record how busy the machine was, and what the hypervisor took (steal).
 */
import { readFileSync } from 'node:fs'
import { delay } from '../../test/harness/proc.js'
import { cpuSeconds } from './proc-cpu.js'

/** USER_HZ: /proc/stat and /proc/PID/stat count in these ticks. */
const TICKS_PER_S = 100

/** Machine-wide CPU time from the first line of /proc/stat, all cores, in clock ticks. */
export interface MachineTicks {
  /** user, nice, system, irq and softirq: what ran on the machine (guest time is inside user). */
  busy: number
  /** Time a hypervisor gave another guest while this machine wanted to run. */
  steal: number
  /** Everything, idle and iowait included. */
  total: number
}

/** Parse the `cpu` line of /proc/stat; null when it is not one. */
export function parseProcStat (text: string): MachineTicks | null {
  const line = text.split('\n', 1)[0] ?? ''
  const f = line.trim().split(/\s+/)
  if (f[0] !== 'cpu' || f.length < 9) return null
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f.slice(1, 9).map(Number) as [number, number, number, number, number, number, number, number]
  if ([user, nice, system, idle, iowait, irq, softirq, steal].some(n => !Number.isFinite(n))) return null
  const busy = user + nice + system + irq + softirq
  return { busy, steal, total: busy + idle + iowait + steal }
}

/** The machine's CPU counters now (null when /proc/stat cannot be read). */
export function machineTicks (): MachineTicks | null {
  try {
    return parseProcStat(readFileSync('/proc/stat', 'utf8'))
  } catch {
    return null
  }
}

/** Between two readings: the share of all cores that ran, and the share the hypervisor took (%). */
export function machineShare (a: MachineTicks | null, b: MachineTicks | null): { busyPct: number, stealPct: number } | null {
  if (a === null || b === null || b.total <= a.total) return null
  const total = b.total - a.total
  return { busyPct: 100 * (b.busy - a.busy) / total, stealPct: 100 * (b.steal - a.steal) / total }
}

function cpuTimes (): { busy: number, total: number } {
  // Steal counts as busy here: another guest's work skews the figures as much as our own.
  const t = machineTicks()
  return t === null ? { busy: 0, total: 0 } : { busy: t.busy + t.steal, total: t.total }
}

/**
 * Fraction (0..1) of all CPUs busy over the next `windowMs`, not counting the processes in
 * `exclude` (the benchmark's own idle agents, which are part of what is measured).
 */
export async function cpuBusy (windowMs: number, exclude: readonly number[] = []): Promise<number> {
  const own = (): number => exclude.reduce((sum, pid) => sum + cpuSeconds(pid), 0) * TICKS_PER_S
  const a = cpuTimes()
  const ownA = own()
  await delay(windowMs)
  const b = cpuTimes()
  const ownB = own()
  const total = b.total - a.total
  const busy = Math.max(0, b.busy - a.busy - (ownB - ownA))
  return total <= 0 ? 0 : Math.round(busy / total * 1000) / 1000
}

/**
 * Waits until the machine is less than `threshold` busy over a 3 s window, for at most
 * `maxWaitMs`; resolves with the last measured fraction either way (the caller records it).
 */
export async function waitQuiet (threshold: number, maxWaitMs: number, exclude: readonly number[] = []): Promise<{ busy: number, waitedMs: number }> {
  const t0 = Date.now()
  let busy = await cpuBusy(3000, exclude)
  while (busy > threshold && Date.now() - t0 < maxWaitMs) busy = await cpuBusy(3000, exclude)
  return { busy, waitedMs: Date.now() - t0 }
}
