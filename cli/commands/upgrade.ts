/** `clusterctl upgrade NAME...|--all|-l SELECTOR [--var K=V] [--wait]` (`POST /v1/upgrade`). */

import type { UpgradeRequest } from '../../protocol/api-routes.js'
import { nodeNames } from '../arguments.js'
import type { ApiClient } from '../client.js'
import type { CommandContext } from '../context.js'
import type { WaitOptions } from '../job-progress.js'
import { oneTarget, selectorFlag } from '../selector.js'
import { parseVarFlags } from '../vars.js'
import { jobResult } from './commission.js'

/** Options of `clusterctl upgrade`. */
export interface UpgradeOptions {
  all?: boolean
  selector?: string
  var?: string[]
  wait?: boolean
  /** Overrides of the wait's terminal and reconnect settings, for tests. */
  waitOptions?: Partial<WaitOptions>
}

/** Check the request locally and create the upgrade job. */
export async function upgrade (client: ApiClient, names: string[], opts: UpgradeOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  const nodes = nodeNames(names)
  const all = opts.all === true
  const target = oneTarget('upgrade', nodes, all, '--all', selectorFlag(opts.selector))
  const body: UpgradeRequest = { nodes, all, vars: parseVarFlags(opts.var ?? []), ...target }
  return jobResult(client, await client.upgrade(body), opts, ctx)
}
