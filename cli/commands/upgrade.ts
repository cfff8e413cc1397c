/**
 * `clusterctl upgrade NAME...|--all|-l SELECTOR [--to REV] [--force] [--var K=V] [--batch-size N
 * [--max-unavailable N] [--max-failures N] [--pause-between S]] [--wait]` (`POST /v1/upgrade`),
 * `upgrade --plan [--to REV] NAME...|--all [-o json]` (`POST /v1/upgrade/plan`): what the
 * upgrade would do, grouped by each node's revision; and the agent upgrade:
 * `--agent-version V` / `--agent-release FILE` [`--force`].
 */

import { resolve } from 'node:path'
import { Option, type Command } from 'commander'
import type { UpgradeRequest } from '../../protocol/api-routes.js'
import type { UpgradePlan, UpgradePlanGroup } from '../../protocol/revisions.js'
import { nodeNames } from '../arguments.js'
import type { ApiClient } from '../client.js'
import type { CommandContext } from '../context.js'
import type { WaitOptions } from '../job-progress.js'
import { usageError } from '../errors.js'
import { formatOutput, renderTable, type OutputFormat } from '../output.js'
import { rolloutRequest, type RolloutFlags } from '../rollout-flags.js'
import { oneTarget, selectorFlag } from '../selector.js'
import { parseVarFlags } from '../vars.js'
import { jobResult } from './commission.js'
import { revisionArg } from './roles.js'

/** Options of `clusterctl upgrade`. */
export interface UpgradeOptions extends RolloutFlags {
  all?: boolean
  selector?: string
  var?: string[]
  wait?: boolean
  /** Print the plan instead of upgrading. */
  plan?: boolean
  /** Target configuration revision (default: the current one). */
  to?: string
  /** Upgrade also nodes for which it is a no-op or a downgrade. */
  force?: boolean
  /** Format of the plan (`--plan` only). */
  output?: OutputFormat
  /** Overrides of the wait's terminal and reconnect settings, for tests. */
  waitOptions?: Partial<WaitOptions>
  agentVersion?: string
  agentRelease?: string
}

/** The agent-upgrade flags of `clusterctl upgrade`. */
export function agentUpgradeOptions (cmd: Command): void {
  cmd.addOption(new Option('--agent-version <version>', 'install this clusterd version on the nodes and restart their agents one at a time, the manager\'s node last (the release comes from the manager\'s <data-dir>/releases, or from --agent-release)'))
    .addOption(new Option('--agent-release <file>', 'the release archive to install (clusterd-VERSION-HASH.tar.gz from npm run release, its .sha256 beside it), a path the manager reads on its own node'))
}

/** The agent-upgrade fields of the request, or none when neither --agent-version nor --agent-release is given. */
export function agentUpgradeFields (opts: Pick<UpgradeOptions, 'agentVersion' | 'agentRelease' | 'force'>): Pick<UpgradeRequest, 'agentVersion' | 'agentRelease' | 'force'> {
  if (opts.agentVersion === undefined && opts.agentRelease === undefined) return {}
  return {
    ...(opts.agentVersion !== undefined ? { agentVersion: opts.agentVersion } : {}),
    // The manager reads the path on its own node: an absolute path means the same there.
    ...(opts.agentRelease !== undefined ? { agentRelease: resolve(opts.agentRelease) } : {}),
    ...(opts.force === true ? { force: true } : {})
  }
}

/** `--to REV` and `--force`, as request fields. */
export function revisionFlags (opts: Pick<UpgradeOptions, 'to' | 'force'>): Pick<UpgradeRequest, 'to' | 'force'> {
  return {
    ...(opts.to !== undefined ? { to: revisionArg(opts.to, '--to') } : {}),
    ...(opts.force === true ? { force: true } : {})
  }
}

/** Check the request locally and create the upgrade job, or print its plan. */
export async function upgrade (client: ApiClient, names: string[], opts: UpgradeOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  const nodes = nodeNames(names)
  const all = opts.all === true
  const target = oneTarget('upgrade', nodes, all, '--all', selectorFlag(opts.selector))
  const rollout = rolloutRequest(opts)
  const agent = agentUpgradeFields(opts)
  const agentUpgrade = Object.keys(agent).length > 0
  const revision = revisionFlags(opts)
  if (opts.plan === true) {
    if (agentUpgrade || rollout !== undefined || opts.force === true || opts.wait === true || (opts.var ?? []).length > 0) throw usageError('--plan takes node names, --all or --selector, and --to only')
    const plan = await client.upgradePlan({ nodes, all, ...target, ...(revision.to !== undefined ? { to: revision.to } : {}) })
    return formatOutput(opts.output ?? 'table', plan, () => renderPlan(plan))
  }
  if (opts.output !== undefined && opts.output !== 'table') throw usageError('-o/--output applies to --plan')
  if (rollout !== undefined && agentUpgrade) throw usageError('--batch-size and the other rolling-upgrade flags do not go with --agent-version or --agent-release (an agent upgrade goes one node at a time)')
  if (agentUpgrade && opts.to !== undefined) throw usageError('--to (a configuration revision) does not go with --agent-version or --agent-release')
  if (agentUpgrade && target.selector !== undefined) throw usageError('--selector does not go with --agent-version or --agent-release: name the nodes or pass --all')
  const body: UpgradeRequest = { nodes, all, vars: parseVarFlags(opts.var ?? []), ...target, ...(agentUpgrade ? agent : revision), ...(rollout !== undefined ? { rollout } : {}) }
  return jobResult(client, await client.upgrade(body), opts, ctx)
}

const ACTION_TEXT: Record<UpgradePlanGroup['action'], string> = {
  upgrade: 'upgrade',
  'no-op': 'no-op (refused with --to unless --force)',
  downgrade: 'DOWNGRADE (refused with --to unless --force)'
}

/** The plan as a table of groups, current revision -> target. */
export function renderPlan (plan: UpgradePlan): string {
  const rev = (r: number | null): string => r === null ? '-' : String(r)
  const agent = (a: string | null): string => a ?? '-'
  const head = `upgrade to revision ${plan.toRevision}${plan.toAgentVersion !== null ? `, agent ${plan.toAgentVersion}` : ''}:\n`
  return head + renderTable([
    { header: 'REVISION', cell: (g: UpgradePlanGroup) => `${rev(g.fromRevision)} -> ${g.toRevision}` },
    { header: 'AGENT', cell: g => `${agent(g.fromAgentVersion)} -> ${agent(g.toAgentVersion)}` },
    { header: 'NODES', cell: g => String(g.nodes.length) },
    { header: 'ACTION', cell: g => ACTION_TEXT[g.action] },
    { header: 'NAMES', cell: g => g.nodes.join(',') }
  ], plan.groups)
}
