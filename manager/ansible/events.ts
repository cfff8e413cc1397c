/**
 * ansible-runner's `-j` event stream, one JSON object per line, turned into typed events and
 * folded into per-host outcomes. Pure: the runner feeds lines in, tests feed recorded ones.
 */
import { MAX_CHANGES_PER_HOST } from './constants.js'

/** Why an unreachable host could not be reached. */
export type ConnectFailure = 'unreachable' | 'host-key-mismatch' | 'auth-failed'

/** A host's final outcome in one run. */
export type HostOutcome = 'ok' | 'failed' | 'unreachable'

/** Why a host did not end `ok`. */
export type HostFailureReason = ConnectFailure | 'task-failed' | 'cancelled' | 'timeout' | 'not-run' | 'runner-error'

/** Counters from the final `playbook_on_stats` event. */
export interface HostStats {
  ok: number
  changed: number
  failures: number
  unreachable: number
  skipped: number
  rescued: number
  ignored: number
}

/** A typed event of a run; `host` is the node name, not the inventory alias. */
export type PlaybookEvent =
  | { type: 'play-start', play: string }
  | { type: 'task-start', play: string, task: string }
  | { type: 'host-start', host: string, task: string }
  | { type: 'host-ok', host: string, task: string, changed: boolean, diff?: unknown }
  | { type: 'host-skipped', host: string, task: string }
  | { type: 'host-failed', host: string, task: string, message: string, ignored: boolean }
  | { type: 'host-unreachable', host: string, task: string, message: string, reason: ConnectFailure }
  | { type: 'stats', hosts: Record<string, HostStats> }
  | { type: 'output', text: string }

/** A task that changed (or in check mode: would change) a host. */
export interface HostChange {
  task: string
  diff?: unknown
}

/** One host's result of a run. */
export interface HostResult {
  name: string
  alias: string
  outcome: HostOutcome
  reason?: HostFailureReason
  /** Tasks that changed something (would change, in check mode). */
  changed: number
  ok: number
  failedTask?: string
  message?: string
  changes: HostChange[]
  /** Milliseconds from this host's first task to its last event. */
  durationMs?: number
}

const MAX_MESSAGE = 2000
const MAX_DIFF_BYTES = 8 * 1024

function str (v: unknown): string {
  return typeof v === 'string' ? v : ''
}

function clip (s: string, max = MAX_MESSAGE): string {
  return s.length > max ? `${s.slice(0, max)}…` : s
}

/** Classifies an ssh failure message from an unreachable event. */
export function classifyConnectFailure (message: string): ConnectFailure {
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key is known for|No [A-Z0-9-]+ host key is known/i.test(message)) return 'host-key-mismatch'
  if (/Permission denied \(/i.test(message)) return 'auth-failed'
  return 'unreachable'
}

/** Drops OpenSSH's banner art and carriage returns, keeping the lines that say what failed. */
function cleanSshMessage (msg: string): string {
  return msg.split(/\r?\n|\r/).map(l => l.replace(/@{3,}/g, '').trim()).filter(l => l.length > 0 && !l.startsWith('@')).join(' ')
}

/** The node gate's refusal line (agent/fencing/clusterd-gate.py) in a module's stderr, if any. */
const GATE_REFUSAL = /clusterd-gate: refused \([a-z-]+\): [^\r\n]*/

/** A readable failure message from a module result. */
function failureMessage (res: Record<string, unknown>): string {
  const parts = [str(res.msg)]
  const stderr = str(res.stderr).trim()
  if (stderr.length > 0) parts.push(stderr)
  let failed: Record<string, unknown> | undefined
  if (Array.isArray(res.results)) {
    // A loop task only says "One or more items failed"; the item's own message is the news.
    failed = res.results.find((r: any) => r?.failed === true) as Record<string, unknown> | undefined
    if (failed !== undefined) parts.push(`item ${JSON.stringify(failed.item ?? null)}: ${str(failed.msg) || str(failed.stderr)}`)
  }
  // A session the node's gate refused fails as "MODULE FAILURE"; the gate's line says why.
  const refusal = GATE_REFUSAL.exec(str(res.module_stderr)) ?? GATE_REFUSAL.exec(str(failed?.module_stderr))
  if (refusal !== null) parts.push(refusal[0])
  return clip(parts.filter(p => p.length > 0).join(': ') || 'task failed')
}

function boundedDiff (diff: unknown): unknown {
  if (diff === undefined || (Array.isArray(diff) && diff.length === 0)) return undefined
  const json = JSON.stringify(diff)
  return json.length > MAX_DIFF_BYTES ? { truncated: true, bytes: json.length } : diff
}

/**
 * Parses one stdout line into an event. `nameOf` maps inventory aliases to node names.
 * Lines that are not runner events come back as `output` (warnings, tracebacks); events
 * clusterd does not use return undefined.
 */
export function parseEventLine (line: string, nameOf: (alias: string) => string): PlaybookEvent | undefined {
  const trimmed = line.trim()
  if (trimmed.length === 0) return undefined
  let e: any
  try {
    e = JSON.parse(trimmed)
  } catch {
    return { type: 'output', text: clip(trimmed) }
  }
  if (e === null || typeof e !== 'object' || typeof e.event !== 'string') return { type: 'output', text: clip(trimmed) }
  const d = (e.event_data ?? {}) as Record<string, any>
  const res = (d.res !== null && typeof d.res === 'object' ? d.res : {}) as Record<string, unknown>
  const host = typeof d.host === 'string' ? nameOf(d.host) : ''
  const task = str(d.task)
  switch (e.event) {
    case 'playbook_on_play_start': return { type: 'play-start', play: str(d.play) }
    case 'playbook_on_task_start': return { type: 'task-start', play: str(d.play), task }
    case 'runner_on_start': return { type: 'host-start', host, task }
    case 'runner_on_ok': {
      const diff = boundedDiff(res.diff)
      return { type: 'host-ok', host, task, changed: res.changed === true, ...(diff !== undefined ? { diff } : {}) }
    }
    case 'runner_on_skipped': return { type: 'host-skipped', host, task }
    case 'runner_on_failed':
      return { type: 'host-failed', host, task, message: failureMessage(res), ignored: d.ignore_errors === true }
    case 'runner_on_unreachable': {
      // A loop task reports "All items completed"; the ssh error sits in the items.
      const items = Array.isArray(res.results) ? res.results.map((r: any) => str(r?.msg)).filter(m => m.length > 0) : []
      const raw = [str(res.msg), ...items.slice(0, 1)].filter(m => m.length > 0).join(': ')
      const reason = classifyConnectFailure(raw)
      const cleaned = cleanSshMessage(raw)
      const fingerprint = /key sent by the remote host is\s*(SHA256:[A-Za-z0-9+/=]+)/.exec(raw)?.[1]
      const message = clip(reason === 'host-key-mismatch'
        ? `SSH host key does not match the key pinned for this node; nothing ran there${fingerprint !== undefined ? ` (it presented ${fingerprint})` : ''}`
        : cleaned)
      return { type: 'host-unreachable', host, task, message, reason }
    }
    case 'playbook_on_stats': {
      const hosts: Record<string, HostStats> = {}
      const count = (key: string, alias: string): number => Number(d[key]?.[alias] ?? 0)
      const aliases = new Set<string>()
      for (const key of ['processed', 'ok', 'changed', 'failures', 'dark', 'skipped']) {
        for (const alias of Object.keys(d[key] ?? {})) aliases.add(alias)
      }
      for (const alias of aliases) {
        hosts[nameOf(alias)] = {
          ok: count('ok', alias),
          changed: count('changed', alias),
          failures: count('failures', alias),
          unreachable: count('dark', alias),
          skipped: count('skipped', alias),
          rescued: count('rescued', alias),
          ignored: count('ignored', alias)
        }
      }
      return { type: 'stats', hosts }
    }
    case 'verbose':
    case 'error':
    case 'warning':
    case 'deprecated': {
      const text = str(e.stdout).trim()
      return text.length > 0 ? { type: 'output', text: clip(text) } : undefined
    }
    default: return undefined
  }
}

interface HostTrack {
  firstAt?: number
  lastAt?: number
  changes: HostChange[]
  changedEvents: number
  okEvents: number
  failed?: { task: string, message: string }
  unreachable?: { task: string, message: string, reason: ConnectFailure }
}

/** How a run ended, as the collector sees it. */
export type RunEnd = 'completed' | 'cancelled' | 'timeout' | 'error'

/** Folds events into per-host results. */
export class ResultCollector {
  private readonly track = new Map<string, HostTrack>()
  private stats: Record<string, HostStats> | undefined

  constructor (private readonly hosts: ReadonlyArray<{ name: string, alias: string }>) {
    for (const h of hosts) this.track.set(h.name, { changes: [], changedEvents: 0, okEvents: 0 })
  }

  /** True once the final stats event arrived. */
  get hasStats (): boolean { return this.stats !== undefined }

  /** Records one event observed at `now` (ms). */
  add (event: PlaybookEvent, now: number): void {
    if (event.type === 'stats') {
      this.stats = event.hosts
      return
    }
    if (!('host' in event)) return
    const t = this.track.get(event.host)
    if (t === undefined) return
    t.firstAt ??= now
    t.lastAt = now
    switch (event.type) {
      case 'host-ok':
        t.okEvents++
        if (event.changed) {
          t.changedEvents++
          if (t.changes.length < MAX_CHANGES_PER_HOST) t.changes.push({ task: event.task, ...(event.diff !== undefined ? { diff: event.diff } : {}) })
        }
        break
      case 'host-failed':
        if (!event.ignored) t.failed ??= { task: event.task, message: event.message }
        break
      case 'host-unreachable':
        t.unreachable ??= { task: event.task, message: event.message, reason: event.reason }
        break
    }
  }

  /** Per-host results for a run that ended as `end`. */
  results (end: RunEnd): HostResult[] {
    return this.hosts.map(h => this.resultFor(h.name, h.alias, end))
  }

  private resultFor (name: string, alias: string, end: RunEnd): HostResult {
    const t = this.track.get(name) ?? { changes: [], changedEvents: 0, okEvents: 0 }
    const st = this.stats?.[name]
    const base = {
      name,
      alias,
      changed: st?.changed ?? t.changedEvents,
      ok: st?.ok ?? t.okEvents,
      changes: t.changes,
      ...(t.firstAt !== undefined && t.lastAt !== undefined ? { durationMs: t.lastAt - t.firstAt } : {})
    }
    if (t.unreachable !== undefined) {
      // A wrong host key or refused login will not heal by waiting: report it as a failure.
      const outcome: HostOutcome = t.unreachable.reason === 'unreachable' ? 'unreachable' : 'failed'
      return { ...base, outcome, reason: t.unreachable.reason, failedTask: t.unreachable.task, message: t.unreachable.message }
    }
    if (t.failed !== undefined || (st !== undefined && st.failures > 0)) {
      return { ...base, outcome: 'failed', reason: 'task-failed', failedTask: t.failed?.task ?? '', message: t.failed?.message ?? 'task failed' }
    }
    if (end === 'completed' && this.stats !== undefined) {
      if (st === undefined) return { ...base, outcome: 'failed', reason: 'not-run', message: 'no play in the plan targeted this host' }
      return { ...base, outcome: 'ok' }
    }
    const reason: HostFailureReason = end === 'completed' || end === 'error' ? 'runner-error' : end
    const message = reason === 'runner-error' ? 'the run failed before this host finished; see the run message' : `the run was stopped (${reason}) before this host finished`
    return { ...base, outcome: 'failed', reason, message }
  }
}
