/**
 * Small statistics and machine facts shared by the manager benchmarks (commission, api).
 */
import { readFileSync } from 'node:fs'
import { availableParallelism, loadavg, release, totalmem } from 'node:os'

/** The value at quantile `q` (0..1) of `xs`, nearest-rank; null for no samples. */
export function quantile (xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null
  const sorted = [...xs].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)))
  return sorted[rank - 1] as number
}

/** Median (lower median for an even count, so it is always a measured value); null when empty. */
export function median (xs: readonly number[]): number | null {
  return quantile(xs, 0.5)
}

/** p50 / p95 / max / min / mean of latency samples, rounded to 0.1 ms. */
export interface LatencySummary { samples: number, min: number | null, p50: number | null, p95: number | null, max: number | null, mean: number | null }

const r1 = (x: number | null): number | null => x === null ? null : Math.round(x * 10) / 10

/** Summarizes latency samples in ms. */
export function summarize (xs: readonly number[]): LatencySummary {
  return {
    samples: xs.length,
    min: r1(quantile(xs, 0)),
    p50: r1(quantile(xs, 0.5)),
    p95: r1(quantile(xs, 0.95)),
    max: r1(quantile(xs, 1)),
    mean: xs.length === 0 ? null : r1(xs.reduce((a, b) => a + b, 0) / xs.length)
  }
}

/** The machine a figure was measured on. */
export interface MachineInfo {
  date: string
  nproc: number
  memoryGiB: number
  cpuModel: string
  kernel: string
  node: string
  /** 1-minute load average when the benchmark started: other work on the box skews figures. */
  loadavg1: number
}

/** Facts about this machine, for the report. */
export function machineInfo (): MachineInfo {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    cpuModel: cpu.trim(),
    kernel: release(),
    node: process.version,
    loadavg1: Math.round((loadavg()[0] ?? 0) * 100) / 100
  }
}

/** Progress on stderr: this is the benchmark program's own output, stdout carries the JSON. */
export function progress (bench: string, started: number): (msg: string) => void {
  return msg => { process.stderr.write(`[${bench} +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`) }
}
