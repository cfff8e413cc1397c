/**
 * What `clusterctl support-bundle` collects, through the local agent: its own diagnostics and
 * those of up to `maxAgents` live members (asked in parallel, at most `concurrency` at a time,
 * each within `agentTimeoutMs`: the local agent fetches them over `/clusterd/diagnostics/1.0.0`),
 * the members with their facts, and from the manager the nodes, recent lifecycle events, jobs
 * with the logs of the newest ones, and the cluster configuration. Every file passes through a
 * Redactor (secret-named fields, the client's token); each agent has already redacted the
 * secrets it holds. A part that fails is recorded in the manifest, not fatal: a bundle is most
 * wanted when the cluster is unwell. Only the local agent must answer.
 */

import { CLUSTERD_VERSION } from '../protocol/version.js'
import type { AgentDiagnostics, LogsReply } from '../protocol/diagnostics.js'
import type { JobRecord } from '../protocol/jobs.js'
import type { Member } from '../protocol/members.js'
import type { NodeRecord } from '../protocol/nodes.js'
import { Redactor, hasSecretField, secretFilesOfConfig } from '../protocol/redact.js'
import type { ApiClient } from './client.js'

/** One file of the bundle, its path relative to the bundle's top directory. */
export interface BundleFile {
  path: string
  data: Buffer
}

/** How much to collect. */
export interface CollectOptions {
  /** Agents asked for their diagnostics, the local one included. */
  maxAgents: number
  /** Agents asked at once. */
  concurrency: number
  /** How long one agent's diagnostics may take. */
  agentTimeoutMs: number
  /** Jobs whose logs are included (the newest). */
  maxJobLogs: number
  /** Lifecycle events included (the newest). */
  maxEvents: number
}

/** Defaults of CollectOptions. */
export const COLLECT_DEFAULTS: CollectOptions = { maxAgents: 64, concurrency: 8, agentTimeoutMs: 15_000, maxJobLogs: 20, maxEvents: 1000 }

/** Names listed in the manifest for members not asked or not live; the rest are counted. */
const MAX_LISTED = 200

/** What the bundle says about how it was made (manifest.json). */
export interface BundleManifest {
  format: 'clusterd-support-bundle/1'
  createdAt: string
  clusterctl: { version: string, runtime: string, platform: string }
  /** The agent clusterctl talked to. */
  via: string
  agents: {
    members: number
    asked: string[]
    answered: string[]
    failed: Array<{ node: string, reason: string }>
    notAsked: { count: number, names: string[], why: string }
    notLive: { count: number, members: Array<{ node: string, status: string }> }
    maxAgents: number
    concurrency: number
    timeoutSeconds: number
  }
  /** Every part collected (or not), with why not. */
  parts: Array<{ file: string, ok: boolean, error?: string }>
  /**
   * Redaction by value beyond what each agent did: the secret files the local agent's
   * configuration names that clusterctl could read (their values are kept out of every file),
   * and those it could not (not on this machine, or no permission).
   */
  redaction: { secretFilesRead: string[], secretFilesUnreadable: string[] }
}

/** The secret values in files, and which files could not be read (the caller reads them). */
export type ReadSecretFiles = (paths: string[]) => Promise<{ values: string[], unreadable: string[] }>

/** The client calls the collector makes. */
export type BundleClient = Pick<ApiClient, 'diagnostics' | 'members' | 'nodes' | 'events' | 'jobs' | 'jobEvents' | 'config' | 'secretValues'>

/** A name safe as one path segment (node names and job ids already are; this holds for anything). */
export function pathSegment (name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100)
  return s === '' || s === '.' || s === '..' ? '_' : s
}

/**
 * The live members to ask, in order (the manager first, then the eligible, then by name), without
 * the local agent; and the live ones left over.
 */
export function agentsToAsk (members: readonly Member[], self: string, manager: string | null, max: number): { ask: string[], rest: string[] } {
  const rank = (m: Member): number => m.name === manager ? 0 : m.managerEligible ? 1 : 2
  const live = members.filter(m => m.status === 'alive' || m.status === 'suspect')
    .sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name))
  const names = [...new Set(live.map(m => m.name))].filter(n => n !== self)
  return { ask: names.slice(0, Math.max(0, max)), rest: names.slice(Math.max(0, max)) }
}

/** `fn` over `items`, at most `limit` at a time. */
async function pool<T> (items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T
      await fn(item)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
}

function reasonOf (err: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `no answer within ${timeoutMs / 1000} s`
  const e = err as { code?: unknown, message?: unknown }
  return `${typeof e.message === 'string' ? e.message : String(err)}${typeof e.code === 'string' ? ` (${e.code})` : ''}`
}

/**
 * Collect the bundle: each file goes to `sink` as it is ready (one at a time); `progress` hears
 * what is being done; `extra.local` is the local agent's diagnostics when the caller has them;
 * `extra.readSecrets` reads the secret files the local agent's configuration names, so their
 * values are kept out of every file (the manager's records and member labels included, which
 * no agent redacted). Returns the manifest (also written as `manifest.json`, last).
 */
export async function collectSupportBundle (client: BundleClient, sink: (file: BundleFile) => Promise<void>, opts: CollectOptions, progress: (text: string) => void, extra: { local?: AgentDiagnostics, readSecrets?: ReadSecretFiles } = {}): Promise<BundleManifest> {
  const parts: BundleManifest['parts'] = []
  let redactor = new Redactor(client.secretValues())
  // Writes are serialised: a file's bytes are never interleaved with another's.
  let writing: Promise<void> = Promise.resolve()
  const write = async (path: string, data: string): Promise<void> => {
    writing = writing.then(async () => { await sink({ path, data: Buffer.from(data) }) })
    await writing
  }
  const json = async (path: string, value: unknown): Promise<void> => { await write(path, JSON.stringify(redactor.value(value), null, 2) + '\n') }
  // A line is kept as the agent wrote it unless a secret-named field must go: re-encoding would
  // drop pino's repeated keys (its own `node`, then an event's `node` about another member).
  const logLines = (logs: LogsReply): string => logs.lines.map(l => {
    try {
      const parsed = JSON.parse(l.line) as unknown
      return hasSecretField(parsed) ? JSON.stringify(redactor.value(parsed)) : redactor.text(l.line)
    } catch {
      return redactor.text(l.line)
    }
  }).join('\n') + '\n'
  const agentFiles = async (d: AgentDiagnostics): Promise<void> => {
    const dir = `agents/${pathSegment(d.node)}`
    const { logs, ...rest } = d
    await json(`${dir}/diagnostics.json`, { ...rest, logs: { oldest: logs.oldest, newest: logs.newest, included: logs.lines.length } })
    await write(`${dir}/agent.log`, logLines(logs))
  }
  /** One part: its file, or the error recorded. */
  const part = async <T>(file: string, what: string, get: () => Promise<T>, keep: (v: T) => Promise<void> = async v => { await json(file, v) }): Promise<T | null> => {
    progress(what)
    try {
      const v = await get()
      await keep(v)
      parts.push({ file, ok: true })
      return v
    } catch (err) {
      parts.push({ file, ok: false, error: reasonOf(err, false, 0) })
      return null
    }
  }

  if (extra.local === undefined) progress('local agent: diagnostics')
  // The local agent must answer: without it there is nothing to bundle (the error ends the command).
  const local = extra.local ?? await client.diagnostics()
  const secretFiles = secretFilesOfConfig(local.config)
  const fromFiles = extra.readSecrets !== undefined ? await extra.readSecrets(secretFiles) : { values: [], unreadable: secretFiles }
  redactor = new Redactor([...client.secretValues(), ...fromFiles.values])
  await agentFiles(local)
  parts.push({ file: `agents/${pathSegment(local.node)}/diagnostics.json`, ok: true })

  const members = await part('cluster/members.json', 'members with their facts', async () => await client.members()) ?? []
  const nodes = await part('cluster/nodes.json', 'nodes (manager)', async () => await client.nodes())
  const events = await part('cluster/events.json', 'recent lifecycle events (manager)', async () => await client.events({ limit: opts.maxEvents }))
  const jobs = await part('cluster/jobs.json', 'jobs (manager)', async () => await client.jobs())
  await part('cluster/config.json', 'cluster configuration (manager)', async () => await client.config())
  const newest = [...(jobs ?? [])].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, opts.maxJobLogs)
  for (const j of newest) {
    await part(`cluster/job-logs/${pathSegment(j.id)}.json`, `job logs ${j.id}`, async () => await client.jobEvents(j.id))
  }

  // Every other live member, bounded in number, in parallel, each within the timeout.
  const memberList = members.length > 0 ? members : local.members.list.map(m => ({ ...m, addresses: [], labels: {}, facts: null, boot: null }))
  const { ask, rest } = agentsToAsk(memberList, local.node, local.manager?.name ?? null, opts.maxAgents - 1)
  const answered: string[] = [local.node]
  const failed: BundleManifest['agents']['failed'] = []
  const views: AgentDiagnostics[] = [local]
  let done = 0
  await pool(ask, opts.concurrency, async name => {
    // A referenced timer (AbortSignal.timeout's is not): the wait is bounded even when nothing else keeps the process alive.
    const timeout = new AbortController()
    const timer = setTimeout(() => { timeout.abort(new Error(`no answer within ${opts.agentTimeoutMs / 1000} s`)) }, opts.agentTimeoutMs)
    try {
      const d = await client.diagnostics(name, { signal: timeout.signal })
      await agentFiles(d)
      answered.push(name)
      views.push(d)
    } catch (err) {
      failed.push({ node: name, reason: reasonOf(err, timeout.signal.aborted, opts.agentTimeoutMs) })
    } finally {
      clearTimeout(timer)
    }
    progress(`agents: ${++done} of ${ask.length} asked (${failed.length} without an answer)`)
  })

  await json('cluster/store-summary.json', storeSummary(views, nodes, jobs, events))
  const notLive = memberList.filter(m => m.status !== 'alive' && m.status !== 'suspect')
  const manifest: BundleManifest = {
    format: 'clusterd-support-bundle/1',
    createdAt: new Date().toISOString(),
    clusterctl: { version: CLUSTERD_VERSION, runtime: process.version, platform: `${process.platform}-${process.arch}` },
    via: local.node,
    agents: {
      members: memberList.length,
      asked: [local.node, ...ask],
      answered: answered.sort(),
      failed: failed.sort((a, b) => a.node.localeCompare(b.node)),
      notAsked: { count: rest.length, names: rest.slice(0, MAX_LISTED), why: `over --max-agents ${opts.maxAgents}` },
      notLive: { count: notLive.length, members: notLive.slice(0, MAX_LISTED).map(m => ({ node: m.name, status: m.status })) },
      maxAgents: opts.maxAgents,
      concurrency: opts.concurrency,
      timeoutSeconds: opts.agentTimeoutMs / 1000
    },
    parts,
    redaction: { secretFilesRead: secretFiles.filter(f => !fromFiles.unreadable.includes(f)), secretFilesUnreadable: fromFiles.unreadable }
  }
  await json('manifest.json', manifest)
  return manifest
}

/** The store at a glance: each agent's replica revision, nodes by state, jobs by status and kind. */
export function storeSummary (views: readonly AgentDiagnostics[], nodes: NodeRecord[] | null, jobs: JobRecord[] | null, events: Array<{ gseq: number }> | null): unknown {
  const countBy = <T>(list: readonly T[], key: (x: T) => string): Record<string, number> => {
    const out: Record<string, number> = {}
    for (const x of list) out[key(x)] = (out[key(x)] ?? 0) + 1
    return out
  }
  return {
    replicas: Object.fromEntries([...views].sort((a, b) => a.node.localeCompare(b.node)).map(v => [v.node, v.replica])),
    managerAsSeen: Object.fromEntries(views.map(v => [v.node, v.manager === null ? null : { name: v.manager.name, epoch: v.manager.epoch }])),
    nodes: nodes === null ? null : { total: nodes.length, byState: countBy(nodes, n => n.state) },
    jobs: jobs === null ? null : { listed: jobs.length, byStatus: countBy(jobs, j => j.status), byKind: countBy(jobs, j => j.kind) },
    events: events === null ? null : { listed: events.length, newestSeq: events.reduce((m, e) => Math.max(m, e.gseq), 0) }
  }
}
