/**
 * `clusterctl upgrade NAME...|--all [--var K=V] [--batch-size N [--max-unavailable N]
 * [--max-failures N] [--pause-between S]] [--wait]` (`POST /v1/upgrade`), and the agent
 * upgrade: `--agent-version V` / `--agent-release FILE` [`--force`].
 */

import { resolve } from 'node:path'
import { Option, type Command } from 'commander'
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
  agentVersion?: string
  agentRelease?: string
  force?: boolean
}

/** The agent-upgrade flags of `clusterctl upgrade`. */
export function agentUpgradeOptions (cmd: Command): void {
  cmd.addOption(new Option('--agent-version <version>', 'install this clusterd version on the nodes and restart their agents one at a time, the manager\'s node last (the release comes from the manager\'s <data-dir>/releases, or from --agent-release)'))
    .addOption(new Option('--agent-release <file>', 'the release archive to install (clusterd-VERSION-HASH.tar.gz from npm run release, its .sha256 beside it), a path the manager reads on its own node'))
    .addOption(new Option('--force', 'an agent upgrade: also when it changes nothing or downgrades a node'))
}

/** The agent-upgrade fields of the request, or none when neither --agent-version nor --agent-release is given. */
export function agentUpgradeFields (opts: Pick<UpgradeOptions, 'agentVersion' | 'agentRelease' | 'force'>): Pick<UpgradeRequest, 'agentVersion' | 'agentRelease' | 'force'> {
  if (opts.agentVersion === undefined && opts.agentRelease === undefined) {
    if (opts.force === true) throw usageError('--force goes with --agent-version or --agent-release')
    return {}
  }
  return {
    ...(opts.agentVersion !== undefined ? { agentVersion: opts.agentVersion } : {}),
    // The manager reads the path on its own node: an absolute path means the same there.
    ...(opts.agentRelease !== undefined ? { agentRelease: resolve(opts.agentRelease) } : {}),
    ...(opts.force === true ? { force: true } : {})
  }
}

/** Check the request locally and create the upgrade job. */
export async function upgrade (client: ApiClient, names: string[], opts: UpgradeOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  const nodes = nodeNames(names)
  const all = opts.all === true
  if (all && nodes.length > 0) throw usageError('give node names or --all, not both')
  if (!all && nodes.length === 0) throw usageError('name at least one node to upgrade, or pass --all')
  const rollout = rolloutRequest(opts)
  const agent = agentUpgradeFields(opts)
  if (rollout !== undefined && Object.keys(agent).length > 0) throw usageError('--batch-size and the other rolling-upgrade flags do not go with --agent-version or --agent-release (an agent upgrade goes one node at a time)')
  const body: UpgradeRequest = { nodes, all, vars: parseVarFlags(opts.var ?? []), ...agent, ...(rollout !== undefined ? { rollout } : {}) }
  return jobResult(client, await client.upgrade(body), opts, ctx)
}
