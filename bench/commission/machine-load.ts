/**
 * Whole-machine CPU use from /proc/stat. Other work on a shared 2-core machine skews every
 * figure, so the benchmarks wait (bounded) for a quiet moment before each measured run and
 * record how busy the machine was.
 */
import { readFileSync } from 'node:fs'
import { delay } from '../../test/harness/proc.js'
import { cpuSeconds } from './proc-cpu.js'

/** USER_HZ: /proc/stat and /proc/PID/stat count in these ticks. */
const TICKS_PER_S = 100

function cpuTimes (): { busy: number, total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  const total = f.reduce((a, b) => a + b, 0)
  const idle = (f[3] ?? 0) + (f[4] ?? 0) // idle + iowait
  return { busy: total - idle, total }
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
