/** `clusterctl node show NAME`: one node's record, key facts and recent events (`GET /v1/nodes/:name`). */

import type { NodeFacts } from '../../protocol/members.js'
import type { NodeDetail } from '../../protocol/manager-api.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { nodeNames } from '../arguments.js'
import type { ApiClient } from '../client.js'
import { formatAge, formatOutput, orDash, renderFields, renderTable, type OutputFormat } from '../output.js'
import { EVENT_COLUMNS } from './events.js'

/** Options of `clusterctl node show`. */
export interface NodeShowOptions {
  output: OutputFormat
  /** Clock for ages; tests pin it. Default: now. */
  now?: Date
}

/** Bytes as a short binary size, e.g. `3.8 GiB`. */
export function formatBytes (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = bytes
  let i = 0
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024
    i++
  }
  return i === 0 ? `${value} B` : `${value.toFixed(1)} ${units[i] ?? ''}`
}

function factFields (facts: NodeFacts): Array<[string, string]> {
  const os = [facts.os.distro, `(${facts.os.platform} ${facts.os.release})`].filter(s => s !== '').join(' ')
  return [
    ['OS', os],
    ['KERNEL', facts.kernel],
    ['ARCH', facts.arch],
    ['CPUS', String(facts.cpus)],
    ['MEMORY', formatBytes(facts.memoryBytes)],
    ['ADDRESSES', orDash(facts.addresses.join(', '))],
    ['HOST-KEYS', orDash(facts.sshHostKeys.map(k => k.type).join(', '))],
    ['AGENT', facts.agentVersion]
  ]
}

function table (d: NodeDetail, now: Date): string {
  const n = d.node
  const vars = Object.entries(n.vars).map(([k, v]) => `${k}=${v}`).join(', ')
  let out = renderFields([
    ['NAME', n.name],
    ['PEER-ID', n.peerId],
    ['STATE', `${n.state} (since ${formatAge(n.since, now)}, ${n.since})`],
    ['ROLES', orDash(n.roles.join(', '))],
    ['REACHABLE', n.reachable ? 'yes' : 'no'],
    ['CORDONED', n.cordoned === true ? 'yes (no new jobs but decommission; clusterctl uncordon)' : 'no'],
    ['LABELS', orDash(Object.entries(n.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', '))],
    ['MEMBER', d.member === null ? 'not in membership' : d.member.status],
    ['CURRENT-JOB', orDash(n.currentJob)],
    ['LAST-JOB', orDash(n.lastJob)],
    ['REASON', orDash(n.reason)],
    ['VARS', orDash(vars)],
    ['DRIFT', driftText(n.drift, now)],
    ['CONFLICTS', conflictsText(n.nameConflicts)],
    ['DISCOVERED', n.discoveredAt]
  ])
  out += '\nFacts:\n'
  out += d.facts === null ? '  (none: the node reports no facts right now)\n' : indent(renderFields(factFields(d.facts)))
  out += '\nRecent events:\n'
  out += d.events.length === 0 ? '  (none)\n' : indent(renderTable(EVENT_COLUMNS, [...d.events].sort((a, b) => a.gseq - b.gseq)))
  return out
}

/** The newest verify result in one line: `-` when never checked. */
export function driftText (drift: NodeRecord['drift'] | undefined, now: Date): string {
  if (drift == null) return '-'
  const when = `checked ${formatAge(drift.checkedAt, now)} by ${drift.jobId}`
  return drift.changed === 0 ? `none (${when})` : `${drift.changed} task(s) would change: ${drift.tasks.join(', ')} (${when})`
}

/** Peers refused the node's name: `-`, or each peer id with when it was first seen. */
export function conflictsText (conflicts: NodeRecord['nameConflicts'] | undefined): string {
  if (conflicts === undefined || conflicts.length === 0) return '-'
  return conflicts.map(c => `${c.peerId} (since ${c.since})`).join(', ') + ' refused; clusterctl node rebind or forget decides'
}

function indent (text: string): string {
  return text.split('\n').map(l => (l === '' ? l : '  ' + l)).join('\n')
}

/** Fetch one node and format it. */
export async function nodeShow (client: ApiClient, name: string, opts: NodeShowOptions): Promise<string> {
  const detail = await client.node(nodeNames([name])[0] ?? name)
  return formatOutput(opts.output, detail, () => table(detail, opts.now ?? new Date()))
}
