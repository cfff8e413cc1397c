/**
 * `clusterctl node set-roles NAME --role ROLE... [--var K=V] [--vars-file FILE] [--wait]`
 * (`POST /v1/nodes/:name/roles`): change a commissioned node's roles with a reconfigure job.
 * Removed roles are cleaned up by their `cleanup:` playbooks (roles.yaml), the new set is
 * applied, and on success it becomes the node's roles (with the variables given).
 */

import { nodeNames } from '../arguments.js'
import type { ApiClient } from '../client.js'
import type { CommandContext } from '../context.js'
import { usageError } from '../errors.js'
import type { WaitOptions } from '../job-progress.js'
import { requestVars } from '../vars.js'
import { jobResult } from './commission.js'

/** Options of `clusterctl node set-roles`. */
export interface SetRolesOptions {
  role?: string[]
  var?: string[]
  varsFile?: string
  wait?: boolean
  /** Overrides of the wait's terminal and reconnect settings, for tests. */
  waitOptions?: Partial<WaitOptions>
}

/** Create the reconfigure job that moves the node to its new roles. */
export async function nodeSetRoles (client: ApiClient, name: string, opts: SetRolesOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  const [node = name] = nodeNames([name])
  const roles = opts.role ?? []
  if (roles.length === 0) throw usageError('set-roles needs at least one --role ROLE (the whole new set)')
  return jobResult(client, await client.setNodeRoles(node, { roles, vars: await requestVars(opts) }), opts, ctx)
}
