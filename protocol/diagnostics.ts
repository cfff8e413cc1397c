/**
 * An agent's diagnostics: what it is, how it is configured, how it sees the cluster and its
 * recent log lines. Served by every agent (`GET /v1/diagnostics`, `GET /v1/logs`), for itself
 * or, with `?node=NAME`, fetched from another member over `/clusterd/diagnostics/1.0.0` (one
 * bounded request frame, one bounded reply frame). `clusterctl support-bundle` and
 * `clusterctl logs` read them. Decoders never throw: they return a reason.
 */

import type { LeaseStatus } from './fencing-wire.js'
import { exceedsJsonDepth } from './json-limits.js'
import type { ManagerInfo } from './manager-wire.js'
import type { MemberStatus } from './members.js'
import type { WireResult } from './membership-wire.js'
import type { ReplicaStatus } from './replication-wire.js'

/**
 * Routes every agent answers from its own state or by asking the member named by `?node=`
 * (agent/diagnostics/diagnostics-routes.ts), beside LOCAL_ROUTES (api-routes.ts).
 */
export const DIAGNOSTICS_ROUTES = {
  /** This agent's diagnostics, or `?node=NAME` another member's (`AgentDiagnostics`). */
  diagnostics: { method: 'GET', pattern: '/v1/diagnostics' },
  /** Recent log lines, `?node=NAME&after=SEQ&lines=N` (`LogsReply`). */
  logs: { method: 'GET', pattern: '/v1/logs' }
} as const

/** Direct-stream protocol of a diagnostics or logs request to another member. */
export const DIAGNOSTICS_PROTOCOL = '/clusterd/diagnostics/1.0.0'

/** Cap of a request frame. */
export const MAX_DIAGNOSTICS_REQUEST_BYTES = 256

/** Cap of a reply frame: logs (LOG_RING_LINES of at most MAX_LOG_LINE_CHARS) plus a compact member view. */
export const MAX_DIAGNOSTICS_REPLY_BYTES = 8 * 1024 * 1024

/** Log lines each agent keeps in memory (the ring `GET /v1/logs` reads). */
export const LOG_RING_LINES = 1000

/** A longer log line is kept shortened (its message cut), so the ring's memory stays bounded. */
export const MAX_LOG_LINE_CHARS = 2048

/** Members listed in one agent's diagnostics; the rest are counted (`members.truncated`). */
export const MAX_VIEW_MEMBERS = 20_000

/** One log line as the agent wrote it (pino JSON, no newline) and its number in the agent's life. */
export interface LogLine {
  seq: number
  line: string
}

/** `GET /v1/logs`: an agent's recent log lines, oldest first. */
export interface LogsReply {
  node: string
  peerId: string
  /** Lines after the requested sequence number, at most the requested count (the newest). */
  lines: LogLine[]
  /** Sequence number of the oldest line still held (0: none yet): a follower that asked for an older one lost lines. */
  oldest: number
  /** Sequence number of the newest line written (0: none yet); ask `after` it next time. */
  newest: number
}

/** A member as one agent sees it, without facts (the bundle's members.json has those). */
export interface MemberView {
  name: string
  peerId: string
  status: MemberStatus
  incarnation: number
  managerEligible: boolean
  lastSeen: string
}

/** `GET /v1/diagnostics`: one agent's own state, secrets redacted by the agent. */
export interface AgentDiagnostics {
  node: string
  peerId: string
  version: string
  /** Node.js version, e.g. `v22.23.3`. */
  runtime: string
  pid: number
  startedAt: string
  collectedAt: string
  /** The agent's resolved configuration (paths, never file contents). */
  config: Record<string, unknown>
  manager: ManagerInfo | null
  epoch: number
  replica: ReplicaStatus
  lease: LeaseStatus
  members: { total: number, byStatus: Record<string, number>, list: MemberView[], truncated: number }
  logs: LogsReply
}

/** What a requester asks another member for. */
export type DiagnosticsRequest =
  | { want: 'diagnostics' }
  | { want: 'logs', after: number, lines: number }

/** What the member answers. */
export type DiagnosticsReply =
  | { ok: true, diagnostics: AgentDiagnostics }
  | { ok: true, logs: LogsReply }
  | { ok: false, reason: string }

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

function parseJson (bytes: Uint8Array, max: number): WireResult<unknown> {
  if (bytes.byteLength > max) return { ok: false, reason: `frame of ${bytes.byteLength} bytes exceeds ${max}` }
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return { ok: false, reason: 'not UTF-8 JSON' }
  }
  if (exceedsJsonDepth(v)) return { ok: false, reason: 'nests too deep' }
  return { ok: true, value: v }
}

/** Encode a request or reply as one frame. */
export function encodeDiagnostics (message: DiagnosticsRequest | DiagnosticsReply): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message))
}

/** Decode a request frame. */
export function decodeDiagnosticsRequest (bytes: Uint8Array): WireResult<DiagnosticsRequest> {
  const parsed = parseJson(bytes, MAX_DIAGNOSTICS_REQUEST_BYTES)
  if (!parsed.ok) return parsed
  const v = parsed.value
  if (!isObject(v)) return { ok: false, reason: 'request is not an object' }
  if (v.want === 'diagnostics') return { ok: true, value: { want: 'diagnostics' } }
  if (v.want === 'logs') {
    if (!isCount(v.after) || !isCount(v.lines) || v.lines > LOG_RING_LINES) return { ok: false, reason: 'logs request needs after >= 0 and lines in 0..' + LOG_RING_LINES }
    return { ok: true, value: { want: 'logs', after: v.after, lines: v.lines } }
  }
  return { ok: false, reason: 'want must be diagnostics or logs' }
}

/** Whether `v` is a LogsReply (shape only). */
export function isLogsReply (v: unknown): v is LogsReply {
  return isObject(v) && typeof v.node === 'string' && typeof v.peerId === 'string' && isCount(v.oldest) && isCount(v.newest) &&
    Array.isArray(v.lines) && v.lines.length <= LOG_RING_LINES &&
    v.lines.every(l => isObject(l) && isCount(l.seq) && typeof l.line === 'string' && l.line.length <= MAX_LOG_LINE_CHARS)
}

/** Whether `v` is an AgentDiagnostics (the fields a reader relies on; the rest is carried as is). */
export function isAgentDiagnostics (v: unknown): v is AgentDiagnostics {
  return isObject(v) && typeof v.node === 'string' && typeof v.peerId === 'string' && typeof v.version === 'string' &&
    isObject(v.config) && isObject(v.members) && Array.isArray(v.members.list) && isLogsReply(v.logs)
}

/** Decode a reply frame. */
export function decodeDiagnosticsReply (bytes: Uint8Array): WireResult<DiagnosticsReply> {
  const parsed = parseJson(bytes, MAX_DIAGNOSTICS_REPLY_BYTES)
  if (!parsed.ok) return parsed
  const v = parsed.value
  if (!isObject(v)) return { ok: false, reason: 'reply is not an object' }
  if (v.ok === false) return { ok: true, value: { ok: false, reason: typeof v.reason === 'string' ? v.reason.slice(0, 500) : 'refused' } }
  if (v.ok !== true) return { ok: false, reason: 'reply has no ok field' }
  if (v.diagnostics !== undefined) {
    return isAgentDiagnostics(v.diagnostics) ? { ok: true, value: { ok: true, diagnostics: v.diagnostics } } : { ok: false, reason: 'diagnostics are malformed' }
  }
  return isLogsReply(v.logs) ? { ok: true, value: { ok: true, logs: v.logs } } : { ok: false, reason: 'logs are malformed' }
}
