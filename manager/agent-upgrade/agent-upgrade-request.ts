/**
 * `POST /v1/upgrade` with `agentRelease` or `agentVersion`: an agent upgrade. Finds the release
 * (the archive named, or the one of that version in the manager's releases directory), compares
 * it with the version each node's agent reports (its record's agentVersion), refuses a no-op or
 * a downgrade without `force` (agent-upgrade-plan.ts) and builds the job request. Writes nothing.
 */

import { ClusterdError } from '../../protocol/errors.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import type { JobRequest } from '../jobs/job-service.js'
import { findRelease, readRelease } from './agent-release.js'
import { agentUpgradeNodes, agentUpgradeSteps, agentUpgradeVars } from './agent-upgrade-plan.js'

/** Fields of the upgrade body that make it an agent upgrade. */
export const AGENT_UPGRADE_FIELDS = ['agentRelease', 'agentVersion', 'force'] as const

/** What building the request reads. */
export interface AgentUpgradeRequestContext {
  listNodes: () => Promise<NodeRecord[]>
  /** Where `agentVersion` alone looks for `clusterd-VERSION-*.tar.gz` (the manager's `<data-dir>/releases`). */
  releasesDir: string
}

/** The checked body of an agent upgrade. */
export interface AgentUpgradeBody {
  nodes: string[]
  all: boolean
  vars: Record<string, string>
  agentRelease?: string
  agentVersion?: string
  force: boolean
}

/** True when an upgrade body asks for an agent upgrade. */
export function isAgentUpgradeBody (o: Record<string, unknown>): boolean {
  return o.agentRelease !== undefined || o.agentVersion !== undefined
}

function invalid (message: string): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', message)
}

/** Check the agent fields of an upgrade body (the route checked nodes, all and vars). */
export function agentFields (o: Record<string, unknown>): Pick<AgentUpgradeBody, 'agentRelease' | 'agentVersion' | 'force'> {
  const { agentRelease, agentVersion, force } = o
  if (agentRelease !== undefined && (typeof agentRelease !== 'string' || agentRelease.length === 0 || agentRelease.length > 4096 || agentRelease.includes('\n'))) throw invalid('agentRelease must be a path')
  if (agentVersion !== undefined && (typeof agentVersion !== 'string' || !/^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/.test(agentVersion))) throw invalid('agentVersion must be a version like 1.2.3')
  if (force !== undefined && typeof force !== 'boolean') throw invalid('force must be true or false')
  return {
    ...(agentRelease !== undefined ? { agentRelease } : {}),
    ...(agentVersion !== undefined ? { agentVersion } : {}),
    force: force === true
  }
}

/** The agent-upgrade job request for `body`; throws the refusal (bad release, no-op, downgrade, unknown node). */
export async function agentUpgradeRequest (ctx: AgentUpgradeRequestContext, body: AgentUpgradeBody): Promise<JobRequest> {
  if (body.all && body.nodes.length > 0) throw invalid('give node names or all, not both')
  const release = body.agentRelease !== undefined
    ? await readRelease(body.agentRelease)
    : await findRelease(ctx.releasesDir, body.agentVersion as string)
  if (body.agentVersion !== undefined && body.agentVersion !== release.version) {
    throw invalid(`agent release ${release.path} is version ${release.version}, not ${body.agentVersion}`)
  }
  const records = await ctx.listNodes()
  const byName = new Map(records.map(r => [r.name, r]))
  const chosen = body.all ? records.filter(r => r.reachable && r.cordoned !== true) : body.nodes.map(n => {
    const r = byName.get(n)
    if (r === undefined) throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node named ${n}`)
    return r
  })
  if (chosen.length === 0) throw invalid(body.all ? 'no node is reachable' : 'name at least one node to upgrade (or use all)')
  const steps = agentUpgradeSteps(chosen.map(r => ({ name: r.name, agentVersion: r.agentVersion ?? null })), release.version)
  const nodes = agentUpgradeNodes(steps, release.version, body.force)
  return { kind: 'agent-upgrade', nodes, roles: [], vars: agentUpgradeVars(release, body.vars), actor: 'operator' }
}
