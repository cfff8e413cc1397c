/**
 * Where the fault suite writes what it found: one JSON file per scenario under
 * `.tmp/fault-results/` (git-ignored), summarized by hand in docs/benchmarks.md.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO } from '../harness/agent-process.js'
import { machineInfo } from '../../bench/commission/stats.js'

/** Directory of the result files. */
export const RESULTS_DIR = join(REPO, '.tmp', 'fault-results')

/** Rounds of the repeated scenarios (`FAULT_ROUNDS`, default 10). */
export function faultRounds (fallback = 10): number {
  const n = Number(process.env.FAULT_ROUNDS ?? fallback)
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`FAULT_ROUNDS must be a positive integer, got ${String(process.env.FAULT_ROUNDS)}`)
  return n
}

/** Write `.tmp/fault-results/<scenario>.json` with the machine and the time. */
export async function writeResult (scenario: string, startedAt: number, result: unknown): Promise<void> {
  await mkdir(RESULTS_DIR, { recursive: true })
  const body = { scenario, startedAt: new Date(startedAt).toISOString(), durationS: Math.round((Date.now() - startedAt) / 100) / 10, machine: machineInfo(), result }
  await writeFile(join(RESULTS_DIR, `${scenario}.json`), JSON.stringify(body, null, 2) + '\n')
}
