/**
 * Node maintenance: `clusterctl cordon|uncordon NAME` (`POST /v1/nodes/:name/cordon|uncordon`),
 * `clusterctl mark-broken NAME --reason TEXT` / `mark-fixed NAME`
 * (`POST /v1/nodes/:name/mark-broken|mark-fixed`) and `clusterctl node label NAME K=V|K-...`
 * (`POST /v1/nodes/:name/labels`, which also starts a reconfigure job re-applying the node's
 * configuration with its labels). Each prints what changed, or that nothing had to.
 */

import type { LabelRequest, NodeChangeResponse } from '../../protocol/nodes.js'
import { labelProblem } from '../../protocol/names.js'
import { nodeNames } from '../arguments.js'
import type { ApiClient } from '../client.js'
import type { CommandContext } from '../context.js'
import { usageError } from '../errors.js'
import type { WaitOptions } from '../job-progress.js'
import { createdText, jobResult } from './commission.js'

/** Options of `clusterctl node label`. */
export interface NodeLabelOptions {
  wait?: boolean
  /** Overrides of the wait's terminal and reconnect settings, for tests. */
  waitOptions?: Partial<WaitOptions>
}

/** Options of `clusterctl mark-broken`. */
export interface MarkBrokenOptions {
  reason?: string
}

function checkedName (name: string): string {
  const [node = name] = nodeNames([name])
  return node
}

function labelsText (labels: Record<string, string>): string {
  const list = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`)
  return list.length === 0 ? '(none)' : list.join(',')
}

function unchanged (res: NodeChangeResponse, what: string): string | null {
  return res.event === null ? `node ${res.node.name} ${what} already; nothing changed\n` : null
}

/** Cordon (`cordoned` true) or uncordon a node. */
export async function cordon (client: ApiClient, name: string, cordoned: boolean): Promise<string> {
  const res = await client.cordonNode(checkedName(name), cordoned)
  const word = cordoned ? 'cordoned' : 'uncordoned'
  return unchanged(res, cordoned ? 'is cordoned' : 'is not cordoned') ??
    (cordoned
      ? `node ${res.node.name} cordoned: no new jobs but decommission, no on-return action, skipped by --all and selectors (state ${res.node.state})\n`
      : `node ${res.node.name} ${word}: it takes jobs again (state ${res.node.state})\n`)
}

/** Take a node out of service. */
export async function markBroken (client: ApiClient, name: string, opts: MarkBrokenOptions): Promise<string> {
  const reason = (opts.reason ?? '').trim()
  if (reason === '') throw usageError('mark-broken needs --reason TEXT (why the node is out of service)')
  const res = await client.markBroken(checkedName(name), { reason })
  return `node ${res.node.name} marked broken (was ${res.event?.from ?? res.node.state}): ${reason}\nclusterctl mark-fixed ${res.node.name} returns it to that state\n`
}

/** Return a broken node to the state it left. */
export async function markFixed (client: ApiClient, name: string): Promise<string> {
  const res = await client.markFixed(checkedName(name))
  return `node ${res.node.name} marked fixed: back to ${res.node.state}\n`
}

/** Parse `K=V` (set) and `K-` (remove) arguments into a label request. */
export function labelRequest (changes: readonly string[]): LabelRequest {
  if (changes.length === 0) throw usageError('give at least one label change: K=V sets, K- removes')
  const set: Record<string, string> = {}
  const remove: string[] = []
  for (const change of changes) {
    const eq = change.indexOf('=')
    if (eq < 0 && change.endsWith('-')) {
      const key = change.slice(0, -1)
      const problem = labelProblem(key, '')
      if (problem !== undefined) throw usageError(problem)
      remove.push(key)
      continue
    }
    if (eq < 0) throw usageError(`${JSON.stringify(change)}: expected K=V to set a label or K- to remove one`)
    const key = change.slice(0, eq)
    const value = change.slice(eq + 1)
    const problem = labelProblem(key, value)
    if (problem !== undefined) throw usageError(problem)
    if (Object.hasOwn(set, key) || remove.includes(key)) throw usageError(`label ${key} is changed twice`)
    set[key] = value
  }
  for (const key of remove) if (Object.hasOwn(set, key)) throw usageError(`label ${key} is changed twice`)
  return { ...(Object.keys(set).length > 0 ? { set } : {}), ...(remove.length > 0 ? { remove } : {}) }
}

/** Set and remove a node's labels; with `--wait`, follow the reconfigure job that re-applies them. */
export async function nodeLabel (client: ApiClient, name: string, changes: string[], opts: NodeLabelOptions = {}, ctx?: CommandContext): Promise<string | AsyncIterable<string>> {
  const res = await client.labelNode(checkedName(name), labelRequest(changes))
  const head = unchanged(res, `has these labels (${labelsText(res.node.labels)})`) ?? `node ${res.node.name} labels: ${labelsText(res.node.labels)}\n`
  if (res.job === null) return res.event === null ? head : `${head}not re-applied: ${res.notApplied ?? 'no job was started'}\n`
  if (opts.wait !== true || ctx === undefined) return head + createdText(res.job, false)
  const follow = jobResult(client, res.job, opts, ctx)
  return (async function * () {
    yield head
    yield * (typeof follow === 'string' ? [follow] : follow)
  })()
}
