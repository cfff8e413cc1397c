/**
 * The node maintenance routes: cordon and uncordon (a flag beside the lifecycle: no new jobs),
 * mark-broken and mark-fixed (the `broken` lifecycle state), and operator labels. Each answers
 * the record after the change and the lifecycle event that recorded it; repeating a change
 * that is already in place (cordoning a cordoned node) writes nothing and answers event null.
 */

import type { ApiHandler } from '../../protocol/api-handler.js'
import { ClusterdError } from '../../protocol/errors.js'
import { labelProblem } from '../../protocol/names.js'
import { MAX_BROKEN_REASON_LENGTH, MAX_NODE_LABELS, type LabelResponse, type LifecycleEvent, type NodeChangeResponse, type NodeRecord } from '../../protocol/nodes.js'
import type { JobService } from '../jobs/job-service.js'
import { isSchedulable } from '../lifecycle/schedulable.js'
import type { NodeNote, NodeStore } from '../store/index.js'
import { asObject, invalid, onlyKeys } from './body-checks.js'

/** What the maintenance routes read and call. */
export interface NodeMaintenanceComponents {
  store: NodeStore
  jobs: Pick<JobService, 'nodeJob' | 'submit' | 'betweenSubmissions'>
  /** The record of `name`, or CLUSTERD_ERR_NODE_NOT_FOUND / INVALID_ARGUMENT (manager-routes.ts). */
  nodeNamed: (name: string) => Promise<NodeRecord>
}

/** Label keys a selector reads as state and role, so they cannot be labels. */
const RESERVED_LABEL_KEYS = ['state', 'role']

/** The body as an object; none at all counts as empty (these routes take no or few fields). */
function bodyOf (body: unknown): Record<string, unknown> {
  return body === undefined || body === null ? {} : asObject(body)
}

/** The new label map from `{ set, remove }`, checked; throws INVALID_ARGUMENT naming the bad label. */
export function applyLabelChange (current: Record<string, string>, body: Record<string, unknown>): Record<string, string> {
  const set = body.set ?? {}
  const remove = body.remove ?? []
  if (typeof set !== 'object' || set === null || Array.isArray(set)) throw invalid('set must be an object of label values')
  if (!Array.isArray(remove) || !remove.every(k => typeof k === 'string')) throw invalid('remove must be an array of label keys')
  const next = { ...current }
  for (const key of remove as string[]) {
    const problem = labelProblem(key, '')
    if (problem !== undefined) throw invalid(problem)
    delete next[key]
  }
  for (const [key, value] of Object.entries(set)) {
    const problem = labelProblem(key, value)
    if (problem !== undefined) throw invalid(problem)
    if (RESERVED_LABEL_KEYS.includes(key)) throw invalid(`label key ${key} is reserved: selectors read ${RESERVED_LABEL_KEYS.join(' and ')} as the node's state and roles`)
    if ((remove as string[]).includes(key)) throw invalid(`label ${key} is both set and removed`)
    next[key] = value as string
  }
  if (Object.keys(next).length > MAX_NODE_LABELS) throw invalid(`a node has at most ${MAX_NODE_LABELS} labels`)
  return next
}

/** Build the maintenance handlers. */
export function nodeMaintenanceRoutes (c: NodeMaintenanceComponents): Record<'cordonNode' | 'uncordonNode' | 'markBroken' | 'markFixed' | 'labelNode', ApiHandler> {
  /** Record a no-transition change and answer it with its event. */
  const note = async (node: NodeRecord, change: NodeNote): Promise<NodeChangeResponse> => {
    const record = await c.store.noteNode(node.name, change)
    if (record === undefined) throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node named ${node.name}`)
    const [event] = await c.store.listEvents({ node: node.name, limit: 1 })
    return { node: record, event: event ?? null }
  }
  // Both changes go between job submissions, not beside one: a submission validated before the
  // change and recorded after it would start a job on a node just cordoned or marked broken.
  const cordon = async (name: string, body: unknown, cordoned: boolean): Promise<NodeChangeResponse> => {
    onlyKeys(bodyOf(body), [])
    return await c.jobs.betweenSubmissions(async () => {
      const node = await c.nodeNamed(name)
      if (node.cordoned === cordoned) return { node, event: null }
      return await note(node, { type: cordoned ? 'cordoned' : 'uncordoned', actor: 'operator', cordoned })
    })
  }
  const transition = async (name: string, command: { type: 'MARK_BROKEN', reason: string } | { type: 'MARK_FIXED' }): Promise<NodeChangeResponse> => {
    const node = await c.nodeNamed(name)
    // Refused while the node is in a job: a verify or reconfigure keeps the node commissioned
    // while it runs, and only the runner knows.
    return await c.jobs.betweenSubmissions(async () => {
      const res = await c.store.applyTransition(node.name, command, { actor: 'operator' })
      if (!res.ok) throw new ClusterdError(res.code, res.message)
      return { node: res.record, event: res.changed ? res.event : null as LifecycleEvent | null }
    }, { idleNode: node.name })
  }

  return {
    cordonNode: async ({ params, body }) => await cordon(params.name ?? '', body, true),
    uncordonNode: async ({ params, body }) => await cordon(params.name ?? '', body, false),

    markBroken: async ({ params, body }) => {
      const o = bodyOf(body)
      onlyKeys(o, ['reason'])
      const reason = typeof o.reason === 'string' ? o.reason.trim() : ''
      if (reason.length === 0 || reason.length > MAX_BROKEN_REASON_LENGTH) throw invalid(`reason must be a non-empty text of at most ${MAX_BROKEN_REASON_LENGTH} characters (--reason TEXT)`)
      return await transition(params.name ?? '', { type: 'MARK_BROKEN', reason })
    },

    markFixed: async ({ params, body }) => {
      onlyKeys(bodyOf(body), [])
      return await transition(params.name ?? '', { type: 'MARK_FIXED' })
    },

    labelNode: async ({ params, body }): Promise<LabelResponse> => {
      const node = await c.nodeNamed(params.name ?? '')
      const o = bodyOf(body)
      onlyKeys(o, ['set', 'remove'])
      const labels = applyLabelChange(node.labels, o)
      if (JSON.stringify(Object.entries(labels).sort()) === JSON.stringify(Object.entries(node.labels).sort())) {
        return { node, event: null, job: null, notApplied: 'the labels did not change' }
      }
      const res = await note(node, { type: 'labels-set', actor: 'operator', labels })
      // Re-apply the node's configuration with its new labels (clusterd_labels) where a job may run.
      const busy = await c.jobs.nodeJob(node.name)
      const why = !isSchedulable(res.node) ? `the node is ${res.node.cordoned ? 'cordoned' : res.node.state}` : busy !== null ? `the node is in job ${busy}` : null
      if (why !== null) return { ...res, job: null, notApplied: `${why}; run clusterctl reconfigure ${node.name} later to apply them` }
      const job = await c.jobs.submit({ kind: 'reconfigure', nodes: [node.name], roles: [], vars: {}, actor: 'operator' })
      return { ...res, job }
    }
  }
}
