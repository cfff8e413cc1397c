/**
 * `clusterctl verify NAME...|--all [--wait]` (`POST /v1/verify`) and
 * `clusterctl reconfigure NAME...|--all [--wait]` (`POST /v1/reconfigure`): check commissioned
 * nodes against their roles in Ansible check mode (drift is recorded on the node, nothing
 * changes), or re-apply their roles. Both keep the nodes commissioned.
 */

import type { MaintenanceRequest } from '../../protocol/api-routes.js'
import { nodeNames } from '../arguments.js'
import type { ApiClient } from '../client.js'
import type { CommandContext } from '../context.js'
import type { WaitOptions } from '../job-progress.js'
import { oneTarget, selectorFlag } from '../selector.js'
import { jobResult } from './commission.js'

/** Options of `clusterctl verify` and `clusterctl reconfigure`. */
export interface MaintenanceOptions {
  all?: boolean
  selector?: string
  wait?: boolean
  /** Overrides of the wait's terminal and reconnect settings, for tests. */
  waitOptions?: Partial<WaitOptions>
}

function request (verb: string, names: string[], opts: MaintenanceOptions): MaintenanceRequest {
  const nodes = nodeNames(names)
  const all = opts.all === true
  return { nodes, all, ...oneTarget(verb, nodes, all, '--all', selectorFlag(opts.selector)) }
}

/** Create a verify job. */
export async function verify (client: ApiClient, names: string[], opts: MaintenanceOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  return jobResult(client, await client.verify(request('verify', names, opts)), opts, ctx)
}

/** Create a reconfigure job. */
export async function reconfigure (client: ApiClient, names: string[], opts: MaintenanceOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  return jobResult(client, await client.reconfigure(request('reconfigure', names, opts)), opts, ctx)
}
