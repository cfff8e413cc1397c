/** The rolling-upgrade flags of `clusterctl upgrade`, checked locally (the manager checks them again). */

import type { RolloutSettings } from '../protocol/jobs.js'
import { positiveInt } from './arguments.js'
import { usageError } from './errors.js'

/** The flags as commander gives them. */
export interface RolloutFlags {
  batchSize?: string
  maxUnavailable?: string
  maxFailures?: string
  pauseBetween?: string
}

/** Largest count accepted by the flags (the manager's own bound). */
const MAX_COUNT = 100_000

/** Longest --pause-between, in seconds (a day). */
const MAX_PAUSE_S = 86_400

/** A whole number from 0 (`zero`) or 1 to `max`. */
function count (flag: string, text: string, max: number, zero: boolean): number {
  return zero && text === '0' ? 0 : positiveInt(flag, text, max)
}

/**
 * The `rollout` of the upgrade request: undefined without --batch-size (every node at once);
 * the other flags need it. Omitted values take the manager's defaults (max-unavailable = batch
 * size, max-failures 0, no pause).
 */
export function rolloutRequest (opts: RolloutFlags): Partial<RolloutSettings> | undefined {
  if (opts.batchSize === undefined) {
    const stray = ([['--max-unavailable', opts.maxUnavailable], ['--max-failures', opts.maxFailures], ['--pause-between', opts.pauseBetween]] as const)
      .filter(([, v]) => v !== undefined).map(([f]) => f)
    if (stray.length > 0) throw usageError(`${stray.join(', ')} need --batch-size N (a rolling upgrade)`)
    return undefined
  }
  return {
    batchSize: count('--batch-size', opts.batchSize, MAX_COUNT, false),
    ...(opts.maxUnavailable !== undefined ? { maxUnavailable: count('--max-unavailable', opts.maxUnavailable, MAX_COUNT, false) } : {}),
    ...(opts.maxFailures !== undefined ? { maxFailures: count('--max-failures', opts.maxFailures, MAX_COUNT, true) } : {}),
    ...(opts.pauseBetween !== undefined ? { pauseBetweenS: count('--pause-between', opts.pauseBetween, MAX_PAUSE_S, true) } : {})
  }
}
