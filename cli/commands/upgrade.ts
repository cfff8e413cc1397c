/**
 * `clusterctl upgrade NAME...|--all [--var K=V] [--batch-size N [--max-unavailable N]
 * [--max-failures N] [--pause-between S]] [--wait]` (`POST /v1/upgrade`).
 */

import type { UpgradeRequest } from '../../protocol/api-routes.js'
import { nodeNames } from '../arguments.js'
import type { ApiClient } from '../client.js'
import type { CommandContext } from '../context.js'
import { usageError } from '../errors.js'
import type { WaitOptions } from '../job-progress.js'
import { rolloutRequest, type RolloutFlags } from '../rollout-flags.js'
import { parseVarFlags } from '../vars.js'
import { jobResult } from './commission.js'

/** Options of `clusterctl upgrade`. */
export interface UpgradeOptions extends RolloutFlags {
  all?: boolean
  var?: string[]
  wait?: boolean
  /** Overrides of the wait's terminal and reconnect settings, for tests. */
  waitOptions?: Partial<WaitOptions>
}

/** Check the request locally and create the upgrade job. */
export async function upgrade (client: ApiClient, names: string[], opts: UpgradeOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  const nodes = nodeNames(names)
  const all = opts.all === true
  if (all && nodes.length > 0) throw usageError('give node names or --all, not both')
  if (!all && nodes.length === 0) throw usageError('name at least one node to upgrade, or pass --all')
  const rollout = rolloutRequest(opts)
  const body: UpgradeRequest = { nodes, all, vars: parseVarFlags(opts.var ?? []), ...(rollout !== undefined ? { rollout } : {}) }
  return jobResult(client, await client.upgrade(body), opts, ctx)
}
