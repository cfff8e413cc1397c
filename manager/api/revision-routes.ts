/**
 * Routes of configuration revisions, upgrade plans and history (protocol/revisions.ts):
 * `POST /v1/revisions` (push), `GET /v1/revisions` (list), `GET /v1/revisions/:rev` (show),
 * `GET /v1/revisions/:rev/diff/:other`, `POST /v1/upgrade/plan`, `GET /v1/history`.
 */
import { isSchedulable, selectForJob } from '../lifecycle/schedulable.js'
import { parseSelector } from '../../protocol/selector.js'
import { ApiReply, type ApiHandler } from '../../protocol/api-handler.js'
import { ClusterdError } from '../../protocol/errors.js'
import { isTerminalJobStatus, jobNodeRevision, type JobRecord } from '../../protocol/jobs.js'
import { NODE_NAME_PATTERN } from '../../protocol/names.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import type { HistoryEntry, RevisionDiff, RevisionFileDiff, RevisionInfo, RevisionSummary, UpgradePlan } from '../../protocol/revisions.js'
import { decodePush } from '../revisions/revision-files.js'
import { diffFile } from '../revisions/revision-diff.js'
import type { Revisions } from '../revisions/revisions.js'
import { planUpgrade } from '../revisions/upgrade-plan.js'
import type { JobStore, NodeStore, RevisionStore } from '../store/index.js'

/** What the revision routes read and call. */
export interface RevisionRoutesComponents {
  store: NodeStore & JobStore & RevisionStore
  revisions: Revisions
  /** The `agent_version` a job would apply now (cluster vars over the manager's version). */
  agentVersion: () => Promise<string | null>
}

/** The route names this file answers (protocol/api-routes.ts MANAGER_ROUTES). */
export type RevisionRouteName = 'pushRevision' | 'listRevisions' | 'showRevision' | 'diffRevisions' | 'upgradePlan' | 'history'

/** Kinds whose history a node keeps (what was applied to it, or checked). */
const HISTORY_KINDS = new Set(['commission', 'upgrade', 'reconfigure', 'decommission', 'verify'])
/** Most history entries one answer holds (newest kept). */
const MAX_HISTORY = 1000

function invalid (message: string): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', message)
}

/** A revision number from a path or body: a positive integer. */
export function revisionNumber (v: unknown, field: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : NaN
  if (!Number.isSafeInteger(n) || n < 1) throw invalid(`${field} must be a revision number (1, 2, ...)`)
  return n
}

/**
 * The nodes an upgrade (or its plan) names: `nodes`, or with `all` every commissioned node.
 * Shared by `POST /v1/upgrade` and `POST /v1/upgrade/plan` so both pick the same nodes.
 */
export async function upgradeNodes (store: Pick<NodeStore, 'listNodes'>, nodes: string[], all: unknown): Promise<string[]> {
  if (all === true) {
    if (nodes.length > 0) throw invalid('give node names or all, not both')
    // Cordoned nodes are skipped by --all (manager/lifecycle/schedulable.ts).
    const names = (await store.listNodes()).filter(isSchedulable).map(n => n.name)
    if (names.length === 0) throw invalid('no node is commissioned and uncordoned')
    return names
  }
  if (all !== undefined && all !== false) throw invalid('all must be a boolean')
  if (nodes.length === 0) throw invalid('name at least one node to upgrade (or use all)')
  return nodes
}

/**
 * The nodes a plan covers: those named, `all` (as the upgrade picks them), or the ones a selector
 * matches that can take an upgrade (as `upgrade -l` picks them), exactly one of the three.
 */
async function planNodes (store: Pick<NodeStore, 'listNodes'>, named: string[], all: unknown, selector: unknown): Promise<string[]> {
  if (selector === undefined) return await upgradeNodes(store, named, all)
  if (named.length > 0 || all === true) throw invalid('give node names, all or a selector: only one of them')
  const parsed = parseSelector(selector)
  if (!parsed.ok) throw invalid(parsed.reason)
  const names = selectForJob(await store.listNodes(), parsed.selector, 'upgrade')
  if (names.length === 0) throw invalid(`no node matching ${String(selector)} can take an upgrade (cordoned nodes and nodes in other states are left out)`)
  return names
}

const ROUTE_NAMES: readonly RevisionRouteName[] = ['pushRevision', 'listRevisions', 'showRevision', 'diffRevisions', 'upgradePlan', 'history']

/**
 * The revision routes. `nodeList` checks a body's node names as the other routes do. Without
 * components (route tests, benchmarks) every one answers CLUSTERD_ERR_UNAVAILABLE.
 */
export function revisionRoutes (c: RevisionRoutesComponents | undefined, nodeList: (v: unknown) => string[]): Record<RevisionRouteName, ApiHandler> {
  if (c === undefined) {
    const unavailable: ApiHandler = async () => { throw new ClusterdError('CLUSTERD_ERR_UNAVAILABLE', 'configuration revisions are not available here') }
    return Object.fromEntries(ROUTE_NAMES.map(n => [n, unavailable])) as Record<RevisionRouteName, ApiHandler>
  }
  return {
    pushRevision: async ({ body }) => {
      const res = await c.revisions.push(decodePush(body))
      return new ApiReply(res.created ? 201 : 200, res)
    },

    listRevisions: async (): Promise<RevisionSummary[]> =>
      (await c.store.listRevisions()).map(({ files, ...rest }) => ({ ...rest, fileCount: files.length })),

    showRevision: async ({ params }): Promise<RevisionInfo & { current: boolean }> => {
      const info = await c.revisions.info(revisionNumber(params.rev, 'revision'))
      return { ...info, current: info.revision === await c.revisions.current() }
    },

    diffRevisions: async ({ params }): Promise<RevisionDiff> => {
      const a = await c.revisions.info(revisionNumber(params.rev, 'revision'))
      const b = await c.revisions.info(revisionNumber(params.other, 'other revision'))
      const paths = [...new Set([...a.files, ...b.files].map(f => f.path))].sort()
      const files: RevisionFileDiff[] = []
      for (const path of paths) {
        const d = diffFile(path, await c.revisions.fileContent(a, path), await c.revisions.fileContent(b, path))
        if (d !== undefined) files.push(d)
      }
      return { from: a.revision, to: b.revision, files }
    },

    upgradePlan: async ({ body }): Promise<UpgradePlan> => {
      const o = body !== null && typeof body === 'object' && !Array.isArray(body) ? body as Record<string, unknown> : null
      if (o === null) throw invalid('request body must be a JSON object')
      const extra = Object.keys(o).filter(k => !['nodes', 'all', 'to', 'selector'].includes(k))
      if (extra.length > 0) throw invalid(`unknown field(s) ${extra.join(', ')}; allowed: nodes, all, to, selector`)
      const names = await planNodes(c.store, nodeList(o.nodes), o.all, o.selector)
      const to = o.to === undefined ? await c.revisions.current() : (await c.revisions.info(revisionNumber(o.to, 'to'))).revision
      if (to === null) throw new ClusterdError('CLUSTERD_ERR_NO_REVISION', 'the cluster holds no configuration revision; push one with clusterctl roles push DIR')
      const records: NodeRecord[] = []
      for (const name of names) {
        const node = await c.store.getNode(name)
        if (node === undefined) throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node named ${name}`)
        records.push(node)
      }
      return planUpgrade(records, to, await c.agentVersion())
    },

    history: async ({ query }): Promise<HistoryEntry[]> => {
      const node = query.node
      if (node !== undefined && !NODE_NAME_PATTERN.test(node)) throw invalid(`${JSON.stringify(node)} is not a valid node name`)
      const jobs = await c.store.listJobs(node !== undefined ? { node } : {})
      const out = jobs.filter(j => HISTORY_KINDS.has(j.kind)).flatMap(j => historyOf(j, node))
      return out.slice(-MAX_HISTORY)
    }
  }
}

/** One entry per node of `job` (only `node` when given), oldest job first as listed. */
export function historyOf (job: JobRecord, node?: string): HistoryEntry[] {
  return job.nodes.filter(n => node === undefined || n === node).map(n => {
    const p = job.perNode[n]
    return {
      node: n,
      jobId: job.id,
      kind: job.kind,
      outcome: isTerminalJobStatus(job.status) ? (p?.outcome ?? 'unknown') : job.status,
      revision: jobNodeRevision(job, n),
      agentVersion: job.agentVersion ?? null,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      ...(p?.message !== undefined ? { message: p.message } : {})
    }
  })
}
