/**
 * `clusterctl node forget NAME [--force] [--yes]` (`POST /v1/nodes/:name/forget`): remove a
 * node's record (a retired machine, or a name to give up); its lifecycle events stay.
 */

import { nodeNames } from '../arguments.js'
import type { ApiClient } from '../client.js'
import { EXIT_DECLINED } from '../constants.js'
import type { CommandContext } from '../context.js'
import { ExitError, usageError } from '../errors.js'

/** Options of `clusterctl node forget`. */
export interface NodeForgetOptions {
  /** Also when the node's bound peer is reachable. */
  force?: boolean
  yes?: boolean
}

/** Confirm (unless --yes), then forget the node. */
export async function nodeForget (client: ApiClient, name: string, opts: NodeForgetOptions, ctx: CommandContext): Promise<string> {
  const [node = name] = nodeNames([name])
  if (opts.yes !== true) {
    // A script must say --yes: with no terminal there is nobody to ask.
    if (ctx.confirm === undefined) throw usageError(`refusing to forget ${node} without confirmation: stdin is not a terminal; pass --yes`)
    const ok = await ctx.confirm(`Forget node ${node}? Its record (state, roles, vars) is removed; its events stay. [y/N] `)
    if (!ok) throw new ExitError('not confirmed; nothing was changed', EXIT_DECLINED)
  }
  const res = await client.forgetNode(node, opts.force === true ? { force: true } : {})
  return `node ${res.node.name} forgotten (was ${res.node.state}, peer ${res.node.peerId}); its history stays: clusterctl events --node ${res.node.name}\n`
}
