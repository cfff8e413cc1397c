/**
 * ApiClient: one typed method per route of the agent's local API (one verb = one method =
 * one route), over the transport of agent-transport.ts (socket or http(s), deadlines, errors).
 */

import { LOCAL_ROUTES, MANAGER_ROUTES, type CommissionRequest, type DecommissionRequest, type MaintenanceRequest, type RetryJobRequest, type UpgradeRequest } from '../protocol/api-routes.js'
import { DIAGNOSTICS_ROUTES, type AgentDiagnostics, type LogsReply } from '../protocol/diagnostics.js'
import type { LeaseStatus } from '../protocol/fencing-wire.js'
import type { JobEvent, JobRecord, JobStatus } from '../protocol/jobs.js'
import type { ConfigEntry, ConfigMap, JobFeedItem, NodeDetail } from '../protocol/manager-api.js'
import type { ManagerInfo } from '../protocol/manager-wire.js'
import type { Member } from '../protocol/members.js'
import { DEFAULT_NODES_PAGE, MAX_NODES_PAGE, type BindingChangeResponse, type ForgetRequest, type LabelRequest, type LabelResponse, type LifecycleEvent, type MarkBrokenRequest, type NodeChangeResponse, type NodeRecord, type NodesPage, type RebindRequest, type SetRolesRequest } from '../protocol/nodes.js'
import type { HistoryEntry, PushRevisionRequest, PushRevisionResponse, RevisionDiff, RevisionInfo, RevisionSummary, UpgradePlan, UpgradePlanRequest } from '../protocol/revisions.js'
import { AgentTransport, routePath, type CallOptions } from './agent-transport.js'

export { routePath, type ApiClientInit, type CallOptions } from './agent-transport.js'

/** Filters of `GET /v1/jobs`. */
export interface JobsFilter {
  status?: JobStatus
  node?: string
}

/** Filters of `GET /v1/events`. */
export interface EventsFilter {
  node?: string
  limit?: number
  after?: number
}

/** Client for the agent's local API: the transport plus one typed method per route. */
export class ApiClient extends AgentTransport {
  /**
   * `GET /v1/members`: every member this agent knows, with their facts fetched from them
   * (`facts: 'cached'`: only the facts the agent already holds, answered at once); with
   * `bindings`, each marked with its name binding from the manager's records (`bindings=1`, one
   * round trip to the manager).
   */
  async members (options: CallOptions & { facts?: 'cached' | 'fetch', bindings?: boolean } = {}): Promise<Member[]> {
    const query = { facts: options.facts === 'cached' ? 'cached' : undefined, bindings: options.bindings === true ? '1' : undefined }
    return await this.call<Member[]>(LOCAL_ROUTES.members, { query }, options.signal !== undefined ? { signal: options.signal } : {})
  }

  /** `GET /v1/manager`: the elected manager as this agent sees it. */
  async manager (options: CallOptions = {}): Promise<ManagerInfo> {
    return await this.call<ManagerInfo>(LOCAL_ROUTES.manager, {}, options)
  }

  /** `GET /v1/lease`: this node's highest manager epoch seen and the lease on record. */
  async lease (options: CallOptions = {}): Promise<LeaseStatus> {
    return await this.call<LeaseStatus>(LOCAL_ROUTES.lease, {}, options)
  }

  /** `GET /v1/nodes?limit=N&after=NAME[&selector=K=V]`: one page of node records in name order (only those matching `selector`). */
  async nodesPage (page: { limit: number, after?: string, selector?: string }, options: CallOptions = {}): Promise<NodesPage> {
    return await this.call<NodesPage>(MANAGER_ROUTES.listNodes, { query: { limit: page.limit, after: page.after, selector: page.selector } }, options)
  }

  /**
   * Every node's lifecycle record, by name, fetched page by page (`pageSize` each); at most
   * `max` records when given.
   */
  async nodes (options: CallOptions & { pageSize?: number, max?: number, selector?: string } = {}): Promise<NodeRecord[]> {
    const out: NodeRecord[] = []
    let after: string | undefined
    const max = options.max ?? Number.POSITIVE_INFINITY
    // Bounded: each page moves `after` strictly forward through a finite set of names.
    for (;;) {
      const limit = Math.min(options.pageSize ?? DEFAULT_NODES_PAGE, MAX_NODES_PAGE, max - out.length)
      if (limit <= 0) return out
      const page = await this.nodesPage({ limit, ...(after !== undefined ? { after } : {}), ...(options.selector !== undefined ? { selector: options.selector } : {}) }, options)
      out.push(...page.items)
      if (page.next === null || (after !== undefined && page.next <= after)) return out
      after = page.next
    }
  }

  /** `GET /v1/nodes/:name`: one node's record, membership entry, facts and recent events. */
  async node (name: string, options: CallOptions = {}): Promise<NodeDetail> {
    return await this.call<NodeDetail>(MANAGER_ROUTES.showNode, { params: { name } }, options)
  }

  /** `POST /v1/nodes/:name/rebind`: move the node's name to another peer; the record after and the `rebound` event. */
  async rebindNode (name: string, body: RebindRequest, options: CallOptions = {}): Promise<BindingChangeResponse> {
    return await this.call<BindingChangeResponse>(MANAGER_ROUTES.rebindNode, { params: { name }, body }, options)
  }

  /** `POST /v1/nodes/:name/forget`: remove the node's record; the record as it was and the `forgotten` event. */
  async forgetNode (name: string, body: ForgetRequest, options: CallOptions = {}): Promise<BindingChangeResponse> {
    return await this.call<BindingChangeResponse>(MANAGER_ROUTES.forgetNode, { params: { name }, body }, options)
  }

  /** `POST /v1/nodes/:name/cordon` (`cordoned` true) or `/uncordon`: the record after and the event (null: no change). */
  async cordonNode (name: string, cordoned: boolean, options: CallOptions = {}): Promise<NodeChangeResponse> {
    return await this.call<NodeChangeResponse>(cordoned ? MANAGER_ROUTES.cordonNode : MANAGER_ROUTES.uncordonNode, { params: { name }, body: {} }, options)
  }

  /** `POST /v1/nodes/:name/mark-broken`: take the node out of service with a reason. */
  async markBroken (name: string, body: MarkBrokenRequest, options: CallOptions = {}): Promise<NodeChangeResponse> {
    return await this.call<NodeChangeResponse>(MANAGER_ROUTES.markBroken, { params: { name }, body }, options)
  }

  /** `POST /v1/nodes/:name/mark-fixed`: return a broken node to the state it left. */
  async markFixed (name: string, options: CallOptions = {}): Promise<NodeChangeResponse> {
    return await this.call<NodeChangeResponse>(MANAGER_ROUTES.markFixed, { params: { name }, body: {} }, options)
  }

  /** `POST /v1/nodes/:name/labels`: set and remove operator labels; the reconfigure job that re-applies them, if one started. */
  async labelNode (name: string, body: LabelRequest, options: CallOptions = {}): Promise<LabelResponse> {
    return await this.call<LabelResponse>(MANAGER_ROUTES.labelNode, { params: { name }, body }, options)
  }

  /** `POST /v1/nodes/:name/roles`: a reconfigure job to the new roles, cleaning up removed ones (202). */
  async setNodeRoles (name: string, body: SetRolesRequest, options: CallOptions = {}): Promise<JobRecord> {
    return await this.call<JobRecord>(MANAGER_ROUTES.setNodeRoles, { params: { name }, body }, options)
  }

  /** `POST /v1/commission`: create a commission job (202). */
  async commission (body: CommissionRequest, options: CallOptions = {}): Promise<JobRecord> {
    return await this.call<JobRecord>(MANAGER_ROUTES.commission, { body }, options)
  }

  /** `POST /v1/decommission`: create a decommission job (202). */
  async decommission (body: DecommissionRequest, options: CallOptions = {}): Promise<JobRecord> {
    return await this.call<JobRecord>(MANAGER_ROUTES.decommission, { body }, options)
  }

  /** `POST /v1/upgrade`: create an upgrade job (202). */
  async upgrade (body: UpgradeRequest, options: CallOptions = {}): Promise<JobRecord> {
    return await this.call<JobRecord>(MANAGER_ROUTES.upgrade, { body }, options)
  }

  /** `POST /v1/revisions`: store a playbook directory as the next configuration revision. */
  async pushRevision (body: PushRevisionRequest, options: CallOptions = {}): Promise<PushRevisionResponse> {
    return await this.call<PushRevisionResponse>(MANAGER_ROUTES.pushRevision, { body }, options)
  }

  /** `GET /v1/revisions`: every configuration revision, oldest first. */
  async revisions (options: CallOptions = {}): Promise<RevisionSummary[]> {
    return await this.call<RevisionSummary[]>(MANAGER_ROUTES.listRevisions, {}, options)
  }

  /** `GET /v1/revisions/:rev`: one revision's files, hash and roles. */
  async revision (rev: number, options: CallOptions = {}): Promise<RevisionInfo & { current: boolean }> {
    return await this.call<RevisionInfo & { current: boolean }>(MANAGER_ROUTES.showRevision, { params: { rev: String(rev) } }, options)
  }

  /** `GET /v1/revisions/:rev/diff/:other`: what changed from one revision to another, per file. */
  async diffRevisions (rev: number, other: number, options: CallOptions = {}): Promise<RevisionDiff> {
    return await this.call<RevisionDiff>(MANAGER_ROUTES.diffRevisions, { params: { rev: String(rev), other: String(other) } }, options)
  }

  /** `POST /v1/upgrade/plan`: what an upgrade would do, grouped by current revision. */
  async upgradePlan (body: UpgradePlanRequest, options: CallOptions = {}): Promise<UpgradePlan> {
    return await this.call<UpgradePlan>(MANAGER_ROUTES.upgradePlan, { body }, options)
  }

  /** `GET /v1/history`: what was applied where and when (one node's with `node`). */
  async history (node?: string, options: CallOptions = {}): Promise<HistoryEntry[]> {
    return await this.call<HistoryEntry[]>(MANAGER_ROUTES.history, { query: { node } }, options)
  }

  /** `POST /v1/verify`: create a verify job, Ansible check mode reporting drift (202). */
  async verify (body: MaintenanceRequest, options: CallOptions = {}): Promise<JobRecord> {
    return await this.call<JobRecord>(MANAGER_ROUTES.verify, { body }, options)
  }

  /** `POST /v1/reconfigure`: create a reconfigure job re-applying the nodes' roles (202). */
  async reconfigure (body: MaintenanceRequest, options: CallOptions = {}): Promise<JobRecord> {
    return await this.call<JobRecord>(MANAGER_ROUTES.reconfigure, { body }, options)
  }

  /** `GET /v1/jobs`: jobs, newest first as the manager orders them. */
  async jobs (filter: JobsFilter = {}, options: CallOptions = {}): Promise<JobRecord[]> {
    return await this.call<JobRecord[]>(MANAGER_ROUTES.listJobs, { query: { status: filter.status, node: filter.node } }, options)
  }

  /** `GET /v1/jobs/:id`: one job. */
  async job (id: string, options: CallOptions = {}): Promise<JobRecord> {
    return await this.call<JobRecord>(MANAGER_ROUTES.showJob, { params: { id } }, options)
  }

  /** `GET /v1/jobs/:id/events`: the job's events recorded so far, after sequence number `after`. */
  async jobEvents (id: string, after = 0, options: CallOptions = {}): Promise<JobEvent[]> {
    return await this.call<JobEvent[]>(MANAGER_ROUTES.jobEvents, { params: { id }, query: { after: after > 0 ? after : undefined } }, options)
  }

  /**
   * `GET /v1/jobs/:id/events?follow=1`: the job's events after `after`, then live events and
   * job updates until the job ends (the stream then closes) or `options.signal` aborts.
   */
  jobFeed (id: string, after = 0, options: CallOptions = {}): AsyncGenerator<JobFeedItem> {
    const r = MANAGER_ROUTES.jobEvents
    return this.stream<JobFeedItem>(r.method, routePath(r.pattern, { id }, { follow: 1, after: after > 0 ? after : undefined }), undefined, options)
  }

  /** `POST /v1/jobs/:id/cancel`: cancel a queued or running job; returns the job after. */
  async cancelJob (id: string, options: CallOptions = {}): Promise<JobRecord> {
    return await this.call<JobRecord>(MANAGER_ROUTES.cancelJob, { params: { id } }, options)
  }

  /** `POST /v1/jobs/:id/resume`: continue a paused rolling upgrade; returns the job after. */
  async resumeJob (id: string, options: CallOptions = {}): Promise<JobRecord> {
    return await this.call<JobRecord>(MANAGER_ROUTES.resumeJob, { params: { id } }, options)
  }

  /** `POST /v1/jobs/:id/retry`: re-run the failed nodes; the same job (a paused rollout) or a new one. */
  async retryJob (id: string, body: RetryJobRequest, options: CallOptions = {}): Promise<JobRecord> {
    return await this.call<JobRecord>(MANAGER_ROUTES.retryJob, { params: { id }, body }, options)
  }

  /** `GET /v1/events`: lifecycle events, oldest first. */
  async events (filter: EventsFilter = {}, options: CallOptions = {}): Promise<LifecycleEvent[]> {
    return await this.call<LifecycleEvent[]>(MANAGER_ROUTES.listEvents, { query: { node: filter.node, limit: filter.limit, after: filter.after } }, options)
  }

  /** `GET /v1/diagnostics[?node=NAME]`: this agent's diagnostics, or those of the member `node`. */
  async diagnostics (node?: string, options: CallOptions = {}): Promise<AgentDiagnostics> {
    return await this.call<AgentDiagnostics>(DIAGNOSTICS_ROUTES.diagnostics, { query: { node } }, options)
  }

  /** `GET /v1/logs`: recent log lines of this agent or the member `node`, after sequence number `after`. */
  async logs (query: { node?: string, after?: number, lines?: number } = {}, options: CallOptions = {}): Promise<LogsReply> {
    return await this.call<LogsReply>(DIAGNOSTICS_ROUTES.logs, { query }, options)
  }

  /** `GET /v1/backup`: a consistent snapshot of the manager store, as stream items (protocol/backup-format.ts). */
  backup (options: CallOptions = {}): AsyncGenerator<unknown> {
    const r = MANAGER_ROUTES.backup
    return this.stream<unknown>(r.method, r.pattern, undefined, options)
  }

  /** `GET /v1/config`: every config key that was set. */
  async config (options: CallOptions = {}): Promise<ConfigMap> {
    return await this.call<ConfigMap>(MANAGER_ROUTES.getConfig, {}, options)
  }

  /** `GET /v1/config/:key`: one config key (value null when never set). */
  async configKey (key: string, options: CallOptions = {}): Promise<ConfigEntry> {
    return await this.call<ConfigEntry>(MANAGER_ROUTES.getConfigKey, { params: { key } }, options)
  }

  /** `PUT /v1/config/:key`: set a key from its text form; the manager parses and validates it. */
  async setConfig (key: string, value: string, options: CallOptions = {}): Promise<ConfigEntry> {
    return await this.call<ConfigEntry>(MANAGER_ROUTES.setConfigKey, { params: { key }, body: { value } }, options)
  }
}
