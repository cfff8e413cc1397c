/** `clusterctl decommission NAME...|-l SELECTOR [--yes] [--wait]` (`POST /v1/decommission`). */

import { nodeNames } from '../arguments.js'
import type { ApiClient } from '../client.js'
import { EXIT_DECLINED } from '../constants.js'
import type { CommandContext } from '../context.js'
import { ExitError, usageError } from '../errors.js'
import type { WaitOptions } from '../job-progress.js'
import { oneTarget, selectorFlag } from '../selector.js'
import { jobResult } from './commission.js'

/** Options of `clusterctl decommission`. */
export interface DecommissionOptions {
  yes?: boolean
  selector?: string
  wait?: boolean
  /** Overrides of the wait's terminal and reconnect settings, for tests. */
  waitOptions?: Partial<WaitOptions>
}

/** Confirm (unless --yes), then create the decommission job. */
export async function decommission (client: ApiClient, names: string[], opts: DecommissionOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  const nodes = nodeNames(names)
  const target = oneTarget('decommission', nodes, false, null, selectorFlag(opts.selector))
  if (opts.yes !== true) {
    const list = target.selector === undefined ? nodes.join(', ') : `the nodes matching ${target.selector}`
    // A script must say --yes: with no terminal there is nobody to ask.
    if (ctx.confirm === undefined) throw usageError(`refusing to decommission ${list} without confirmation: stdin is not a terminal; pass --yes`)
    const ok = await ctx.confirm(`Decommission ${list}? This runs the decommission playbook and removes their roles. [y/N] `)
    if (!ok) throw new ExitError('not confirmed; nothing was changed', EXIT_DECLINED)
  }
  return jobResult(client, await client.decommission({ nodes, ...target }), opts, ctx)
}
