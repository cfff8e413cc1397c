/**
 * The manager's API handlers, keyed by route (protocol/api-routes.ts). Every body and query
 * is validated here with a clear error before anything is written.
 */

import { ApiReply, type ApiHandler, type ApiRequest } from '../../protocol/api-handler.js'
import { MANAGER_ROUTES, type ManagerRouteName, CONFIG_KEYS, type ConfigKey } from '../../protocol/api-routes.js'
import { MAX_VAR_VALUE_LENGTH, VAR_NAME_PATTERN } from '../../protocol/manager-api.js'
import { ClusterdError } from '../../protocol/errors.js'
import { JOB_STATUSES, isTerminalJobStatus, type JobKind, type JobStatus } from '../../protocol/jobs.js'
import type { Member } from '../../protocol/members.js'
import { NODE_NAME_PATTERN, isPeerId } from '../../protocol/names.js'
import { DEFAULT_NODES_PAGE, MAX_NODES_PAGE, MAX_UNPAGED_NODES, type BindingChangeResponse, type NameBinding, type NodeRecord, type NodesPage } from '../../protocol/nodes.js'
import { matchSelector, parseSelector, type NodeSelector } from '../../protocol/selector.js'
import type { JobService } from '../jobs/job-service.js'
import { rolloutSettings } from '../jobs/rollout-plan.js'
import { checkForget, checkRebind } from '../lifecycle/name-binding.js'
import { isSchedulable, selectForJob } from '../lifecycle/schedulable.js'
import type { ConfigStore, JobStore, NodeStore } from '../store/index.js'
import { backupRoute, type BackupSnapshots } from './backup-route.js'
import { asObject, invalid, onlyKeys } from './body-checks.js'
import { validateConfigValue } from './config-values.js'
import { AGENT_UPGRADE_FIELDS, agentFields, agentUpgradeRequest, isAgentUpgradeBody, type AgentUpgradeRequestContext } from '../agent-upgrade/agent-upgrade-request.js'
import { revisionNumber, revisionRoutes, upgradeNodes, type RevisionRoutesComponents } from './revision-routes.js'
import { nodeMaintenanceRoutes } from './node-maintenance-routes.js'

/** What the routes read and call. */
export interface ManagerRoutesComponents {
  /** The store's node, job and config faces (ManagerStore implements them). */
  store: NodeStore & JobStore & ConfigStore
  jobs: JobService
  members: () => Member[]
  /** Called after an operator rebound or forgot `name` (discovery judges its claimants again). */
  bindingChanged?: (name: string) => void
  /** The store's consistent snapshots, for `GET /v1/backup` (unavailable without). */
  backup?: BackupSnapshots
  /** Agent upgrades (`POST /v1/upgrade` with agentRelease or agentVersion); refused as unknown fields without. */
  agentUpgrade?: AgentUpgradeRequestContext
  /** Configuration revisions, upgrade plans and history (revision-routes.ts). */
  revisions?: RevisionRoutesComponents
}

const MAX_NODES_PER_REQUEST = 1000

function nodeList (v: unknown, field = 'nodes'): string[] {
  if (v === undefined) return []
  if (!Array.isArray(v) || v.length > MAX_NODES_PER_REQUEST) throw invalid(`${field} must be an array of at most ${MAX_NODES_PER_REQUEST} node names`)
  const names = v.map(n => {
    if (typeof n !== 'string' || !NODE_NAME_PATTERN.test(n)) throw invalid(`${JSON.stringify(n)} is not a valid node name`)
    return n
  })
  if (new Set(names).size !== names.length) throw invalid(`${field} lists a node twice`)
  return names
}

function stringList (v: unknown, field: string): string[] {
  if (v === undefined) return []
  if (!Array.isArray(v) || v.length > 32 || !v.every(x => typeof x === 'string' && x.length > 0 && x.length <= 64)) throw invalid(`${field} must be an array of names`)
  return [...new Set(v as string[])]
}

function varMap (v: unknown): Record<string, string> {
  if (v === undefined) return {}
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('vars must be an object of string values')
  const out: Record<string, string> = {}
  for (const [k, val] of Object.entries(v)) {
    if (!VAR_NAME_PATTERN.test(k)) throw invalid(`variable name ${JSON.stringify(k)} is invalid (letters, digits, _; not starting with a digit)`)
    if (typeof val !== 'string' || val.length > MAX_VAR_VALUE_LENGTH) throw invalid(`variable ${k} must be a string of at most ${MAX_VAR_VALUE_LENGTH} characters`)
    out[k] = val
  }
  return out
}

/** A query integer: digits only (no sign, spaces, exponent, hex or empty string), 0..max. */
function positiveInt (v: string | undefined, name: string, fallback: number, max: number): number {
  if (v === undefined) return fallback
  const n = /^\d{1,16}$/.test(v) ? Number(v) : NaN
  if (!Number.isSafeInteger(n) || n > max) throw invalid(`${name} must be an integer from 0 to ${max} (digits only)`)
  return n
}

function selectorOf (text: unknown): NodeSelector {
  const parsed = parseSelector(text)
  if (!parsed.ok) throw invalid(parsed.reason)
  return parsed.selector
}

function bool (v: string | undefined): boolean {
  return v === '1' || v === 'true'
}

/** Build the manager's route handlers. */
export function managerRoutes (c: ManagerRoutesComponents): Record<ManagerRouteName, ApiHandler> {
  const nodeNamed = async (name: string): Promise<NonNullable<Awaited<ReturnType<NodeStore['getNode']>>>> => {
    if (!NODE_NAME_PATTERN.test(name)) throw invalid(`${JSON.stringify(name)} is not a valid node name`)
    const node = await c.store.getNode(name)
    if (node === undefined) throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node named ${name}`)
    return node
  }
  const jobWithId = async (id: string): Promise<NonNullable<Awaited<ReturnType<JobStore['getJob']>>>> => {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw invalid(`${JSON.stringify(id)} is not a valid job id`)
    const job = await c.store.getJob(id)
    if (job === undefined) throw new ClusterdError('CLUSTERD_ERR_JOB_NOT_FOUND', `no job with id ${id}`)
    return job
  }

  /**
   * The nodes the body's `selector` picks for a `kind` job (schedulable.ts `selectForJob`);
   * undefined without one. A selector excludes naming nodes and `all`.
   */
  const selected = async (kind: JobKind, o: Record<string, unknown>, named: string[], all: boolean): Promise<string[] | undefined> => {
    if (o.selector === undefined) return undefined
    if (named.length > 0 || all) throw invalid('give node names, all or a selector: only one of them')
    const nodes = selectForJob(await c.store.listNodes(), selectorOf(o.selector), kind)
    if (nodes.length === 0) throw invalid(`no node matching ${String(o.selector)} can take a ${kind} job (cordoned nodes and nodes in other states are left out)`)
    return nodes
  }

  /** Verify or reconfigure: named nodes, every commissioned uncordoned node with `all`, or a selector. */
  const maintenance = async (kind: 'verify' | 'reconfigure', body: unknown): Promise<ApiReply> => {
    const o = asObject(body)
    onlyKeys(o, ['nodes', 'all', 'selector'])
    let nodes = nodeList(o.nodes)
    const bySelector = await selected(kind, o, nodes, o.all === true)
    if (bySelector !== undefined) {
      nodes = bySelector
    } else if (o.all === true) {
      if (nodes.length > 0) throw invalid('give node names or all, not both')
      nodes = (await c.store.listNodes()).filter(isSchedulable).map(n => n.name)
      if (nodes.length === 0) throw invalid('no node is commissioned and uncordoned')
    } else if (o.all !== undefined && o.all !== false) {
      throw invalid('all must be a boolean')
    }
    if (nodes.length === 0) throw invalid(`name at least one node to ${kind} (or use all)`)
    return new ApiReply(202, await c.jobs.submit({ kind, nodes, roles: [], vars: {}, actor: 'operator' }))
  }

  return {
    listNodes: async ({ query }) => {
      // `?selector=`: only matching records; a page may then hold fewer than `limit` (paging stays by name).
      const selector = query.selector === undefined ? undefined : selectorOf(query.selector)
      const keep = (list: NodeRecord[]): NodeRecord[] => selector === undefined ? list : list.filter(n => matchSelector(selector, n))
      if (query.limit === undefined && query.after === undefined) {
        // The unpaged form of clients written before paging; bounded, a larger fleet must page.
        if (c.store.nodeCount > MAX_UNPAGED_NODES) {
          throw invalid(`${c.store.nodeCount} nodes are more than ${MAX_UNPAGED_NODES} in one answer; page with ?limit=N&after=NAME (clusterctl nodes does)`)
        }
        return keep(await c.store.listNodes())
      }
      const limit = positiveInt(query.limit, 'limit', DEFAULT_NODES_PAGE, MAX_NODES_PAGE)
      if (limit < 1) throw invalid(`limit must be an integer from 1 to ${MAX_NODES_PAGE} (digits only)`)
      if (query.after !== undefined && query.after !== '' && !NODE_NAME_PATTERN.test(query.after)) throw invalid('after is not a valid node name')
      const page: NodesPage = await c.store.pageNodes({ after: query.after ?? '', limit })
      return { ...page, items: keep(page.items) }
    },

    showNode: async ({ params }) => {
      const node = await nodeNamed(params.name ?? '')
      // The bound peer's member, never another claimant of the name.
      const member = c.members().find(m => m.peerId === node.peerId) ?? null
      const events = await c.store.listEvents({ node: node.name, limit: 20 })
      return { node, member, facts: member?.facts ?? null, events }
    },

    rebindNode: async ({ params, body }): Promise<BindingChangeResponse> => {
      const node = await nodeNamed(params.name ?? '')
      const o = asObject(body)
      onlyKeys(o, ['peerId'])
      if (!isPeerId(o.peerId)) throw invalid('peerId must be a libp2p peer id, as `clusterctl members -o json` shows it')
      const peerId = o.peerId
      const claimant = c.members().find(m => m.peerId === peerId)
      const check = checkRebind(node, peerId, claimant, await c.jobs.nodeJob(node.name))
      if (!check.ok) throw new ClusterdError(check.code, check.message)
      const reachable = claimant === undefined ? node.reachable : claimant.status === 'alive' || claimant.status === 'suspect'
      const res = await c.store.rebindNode(node.name, { peerId, reachable, actor: 'operator' })
      c.bindingChanged?.(node.name)
      return { node: res.record, event: res.event }
    },

    forgetNode: async ({ params, body }): Promise<BindingChangeResponse> => {
      const node = await nodeNamed(params.name ?? '')
      const o = body === undefined || body === null ? {} : asObject(body)
      onlyKeys(o, ['force'])
      if (o.force !== undefined && typeof o.force !== 'boolean') throw invalid('force must be a boolean')
      const bound = c.members().find(m => m.peerId === node.peerId)
      const check = checkForget(node, bound, await c.jobs.nodeJob(node.name), o.force === true)
      if (!check.ok) throw new ClusterdError(check.code, check.message)
      const res = await c.store.forgetNode(node.name, { actor: 'operator' })
      c.bindingChanged?.(node.name)
      return { node: res.record, event: res.event }
    },

    nameBindings: async (): Promise<NameBinding[]> =>
      (await c.store.listNodes()).map(n => ({ name: n.name, peerId: n.peerId, conflicts: n.nameConflicts.map(x => x.peerId) })),

    commission: async ({ body }) => {
      const o = asObject(body)
      onlyKeys(o, ['nodes', 'allDiscovered', 'roles', 'vars', 'selector'])
      let nodes = nodeList(o.nodes)
      const bySelector = await selected('commission', o, nodes, o.allDiscovered === true)
      if (bySelector !== undefined) {
        nodes = bySelector
      } else if (o.allDiscovered === true) {
        if (nodes.length > 0) throw invalid('give node names or allDiscovered, not both')
        nodes = (await c.store.listNodes()).filter(n => n.state === 'discovered' && !n.cordoned).map(n => n.name)
        if (nodes.length === 0) throw invalid('no node is in the discovered state')
      } else if (o.allDiscovered !== undefined && o.allDiscovered !== false) {
        throw invalid('allDiscovered must be a boolean')
      }
      if (nodes.length === 0) throw invalid('name at least one node (or use allDiscovered)')
      const roles = stringList(o.roles, 'roles')
      if (roles.length === 0) throw invalid('commission needs at least one role (--role ROLE)')
      const job = await c.jobs.submit({ kind: 'commission', nodes, roles, vars: varMap(o.vars), actor: 'operator' })
      return new ApiReply(202, job)
    },

    decommission: async ({ body }) => {
      const o = asObject(body)
      onlyKeys(o, ['nodes', 'selector'])
      const nodes = await selected('decommission', o, nodeList(o.nodes), false) ?? nodeList(o.nodes)
      if (nodes.length === 0) throw invalid('name at least one node to decommission (or give a selector)')
      return new ApiReply(202, await c.jobs.submit({ kind: 'decommission', nodes, roles: [], vars: {}, actor: 'operator' }))
    },

    upgrade: async ({ body }) => {
      const o = asObject(body)
      if (isAgentUpgradeBody(o) && c.agentUpgrade !== undefined) {
        onlyKeys(o, ['nodes', 'all', 'vars', ...AGENT_UPGRADE_FIELDS])
        const req = await agentUpgradeRequest(c.agentUpgrade, { nodes: nodeList(o.nodes), all: o.all === true, vars: varMap(o.vars), ...agentFields(o) })
        return new ApiReply(202, await c.jobs.submit(req))
      }
      onlyKeys(o, ['nodes', 'all', 'vars', 'to', 'force', 'rollout', 'selector'])
      const named = nodeList(o.nodes)
      const nodes = await selected('upgrade', o, named, o.all === true) ?? await upgradeNodes(c.store, named, o.all)
      if (o.force !== undefined && typeof o.force !== 'boolean') throw invalid('force must be a boolean')
      const target = o.to === undefined ? {} : { revision: revisionNumber(o.to, 'to') }
      const rollout = o.rollout === undefined ? undefined : rolloutSettings(o.rollout)
      if (rollout !== undefined && 'problem' in rollout) throw invalid(rollout.problem)
      return new ApiReply(202, await c.jobs.submit({ kind: 'upgrade', nodes, roles: [], vars: varMap(o.vars), actor: 'operator', ...target, force: o.force === true, ...(rollout !== undefined ? { rollout } : {}) }))
    },

    verify: async ({ body }) => await maintenance('verify', body),

    reconfigure: async ({ body }) => await maintenance('reconfigure', body),

    listJobs: async ({ query }) => {
      const status = query.status
      if (status !== undefined && !(JOB_STATUSES as readonly string[]).includes(status)) throw invalid(`status must be one of ${JOB_STATUSES.join(', ')}`)
      if (query.node !== undefined && !NODE_NAME_PATTERN.test(query.node)) throw invalid('node is not a valid node name')
      return await c.store.listJobs({
        ...(status !== undefined ? { status: status as JobStatus } : {}),
        ...(query.node !== undefined ? { node: query.node } : {}),
        limit: positiveInt(query.limit, 'limit', 100, 10_000)
      })
    },

    showJob: async ({ params }) => await jobWithId(params.id ?? ''),

    jobEvents: async ({ params, query, signal }: ApiRequest) => {
      const job = await jobWithId(params.id ?? '')
      const afterSeq = positiveInt(query.after, 'after', 0, Number.MAX_SAFE_INTEGER)
      if (!bool(query.follow)) return await c.store.listJobEvents(job.id, { afterSeq })
      return c.jobs.feed(job.id, { afterSeq, follow: true, signal })
    },

    cancelJob: async ({ params, body }) => {
      const job = await jobWithId(params.id ?? '')
      const reason = body !== undefined && typeof asObject(body).reason === 'string' ? String(asObject(body).reason).slice(0, 500) : undefined
      if (isTerminalJobStatus(job.status)) throw new ClusterdError('CLUSTERD_ERR_JOB_FINISHED', `job ${job.id} already ${job.status}`)
      return await c.jobs.cancel(job.id, reason)
    },

    resumeJob: async ({ params }) => await c.jobs.resume((await jobWithId(params.id ?? '')).id, 'operator'),

    retryJob: async ({ params, body }) => {
      const o = asObject(body)
      onlyKeys(o, ['failed'])
      if (o.failed !== true) throw invalid('retry needs failed: true (clusterctl job retry ID --failed): only the failed nodes are re-run')
      const job = await jobWithId(params.id ?? '')
      const after = await c.jobs.retryFailed(job.id, 'operator')
      return after.id === job.id ? after : new ApiReply(202, after)
    },

    listEvents: async ({ query }) => {
      if (query.node !== undefined && !NODE_NAME_PATTERN.test(query.node)) throw invalid(`${JSON.stringify(query.node)} is not a valid node name`)
      const events = await c.store.listEvents({
        ...(query.node !== undefined ? { node: query.node } : {}),
        ...(query.after !== undefined ? { afterSeq: positiveInt(query.after, 'after', 0, Number.MAX_SAFE_INTEGER) } : {}),
        limit: positiveInt(query.limit, 'limit', 200, 100_000)
      })
      // A forgotten node has no record but keeps its history; a name with neither is unknown.
      if (query.node !== undefined && events.length === 0 && query.after === undefined) await nodeNamed(query.node)
      return events
    },

    getConfig: async () => await c.store.allConfig(),

    getConfigKey: async ({ params }) => {
      const key = configKey(params.key)
      return { key, value: (await c.store.getConfig(key)) ?? null }
    },

    setConfigKey: async ({ params, body }) => {
      const key = configKey(params.key)
      const o = asObject(body)
      onlyKeys(o, ['value'])
      const value = validateConfigValue(key, o.value)
      await c.store.setConfig(key, value)
      return { key, value }
    },

    ...nodeMaintenanceRoutes({ store: c.store, jobs: c.jobs, nodeNamed }),

    setNodeRoles: async ({ params, body }) => {
      const node = await nodeNamed(params.name ?? '')
      const o = asObject(body)
      onlyKeys(o, ['roles', 'vars'])
      const roles = stringList(o.roles, 'roles')
      if (roles.length === 0) throw invalid('set-roles needs at least one role (--role ROLE)')
      const vars = varMap(o.vars)
      if (Object.keys(vars).length === 0 && roles.length === node.roles.length && roles.every(r => node.roles.includes(r))) {
        throw invalid(`node ${node.name} already has roles ${node.roles.join(', ')}; clusterctl reconfigure re-applies them`)
      }
      // A reconfigure with roles: the job runner cleans up the removed roles, applies the new set
      // and records it on success (SET_ROLES); the submission checks refuse what cannot run.
      return new ApiReply(202, await c.jobs.submit({ kind: 'reconfigure', nodes: [node.name], roles, vars, actor: 'operator' }))
    },

    backup: backupRoute(c.backup),

    ...revisionRoutes(c.revisions, v => nodeList(v))
  }
}

function configKey (key: string | undefined): ConfigKey {
  if (key === undefined || !Object.hasOwn(CONFIG_KEYS, key)) {
    throw invalid(`unknown config key ${JSON.stringify(key)}; known keys: ${Object.keys(CONFIG_KEYS).join(', ')}`)
  }
  return key as ConfigKey
}

/** The handlers by route key (`GET /v1/nodes`), as the agent's gateway looks them up. */
export function managerRouteMap (handlers: Record<ManagerRouteName, ApiHandler>, key: (method: string, pattern: string) => string): Map<string, ApiHandler> {
  const map = new Map<string, ApiHandler>()
  for (const [name, r] of Object.entries(MANAGER_ROUTES)) map.set(key(r.method, r.pattern), handlers[name as ManagerRouteName])
  return map
}
