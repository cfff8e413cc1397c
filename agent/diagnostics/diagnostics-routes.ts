/**
 * `GET /v1/diagnostics[?node=NAME]` and `GET /v1/logs[?node=NAME][&after=SEQ][&lines=N]`:
 * this agent's diagnostics and recent log lines, or another live member's, fetched from it over
 * `/clusterd/diagnostics/1.0.0` (diagnostics-stream.ts). A member that cannot be asked is an
 * error naming why (CLUSTERD_ERR_UNAVAILABLE), an unknown name CLUSTERD_ERR_MEMBER_NOT_FOUND.
 */

import { DIAGNOSTICS_ROUTES, LOG_RING_LINES, type AgentDiagnostics, type DiagnosticsRequest, type LogsReply } from '../../protocol/diagnostics.js'
import { ClusterdError } from '../../protocol/errors.js'
import type { Member } from '../../protocol/members.js'
import type { ApiServer } from '../api/server.js'
import type { AgentDiagnosticsSource } from './agent-diagnostics.js'
import type { DiagnosticsStream } from './diagnostics-stream.js'

/** What the routes read. */
export interface DiagnosticsRoutesComponents {
  source: Pick<AgentDiagnosticsSource, 'diagnostics' | 'logs'>
  stream: Pick<DiagnosticsStream, 'fetch'>
  members: () => Member[]
  selfPeerId: string
}

/** A whole number in 0..max from a query value (`name` for the message), or `fallback` when absent. */
function count (value: string | undefined, name: string, max: number, fallback: number): number {
  if (value === undefined) return fallback
  const n = /^\d{1,16}$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n > max) throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `${name} must be a whole number from 0 to ${max}`)
  return n
}

/** The member to ask for `name`: null for this agent itself; its alive (else suspect) record otherwise. */
export function memberToAsk (members: readonly Member[], name: string | undefined, selfPeerId: string): Member | null {
  if (name === undefined || name === '') return null
  const named = members.filter(m => m.name === name)
  if (named.some(m => m.peerId === selfPeerId)) return null
  const target = named.find(m => m.status === 'alive') ?? named.find(m => m.status === 'suspect')
  if (target === undefined) throw new ClusterdError('CLUSTERD_ERR_MEMBER_NOT_FOUND', `no live member named ${JSON.stringify(name)} in this agent's view`)
  return target
}

/** Register both routes on `server`. */
export function registerDiagnosticsRoutes (server: Pick<ApiServer, 'route'>, c: DiagnosticsRoutesComponents): void {
  const ask = async (member: Member, req: DiagnosticsRequest, signal: AbortSignal): Promise<AgentDiagnostics | LogsReply> => {
    const addr = member.addresses[0]
    if (addr === undefined) throw new ClusterdError('CLUSTERD_ERR_UNAVAILABLE', `member ${member.name} advertises no address`)
    const r = await c.stream.fetch(member.peerId, addr, req, signal)
    if (!r.ok) throw new ClusterdError('CLUSTERD_ERR_UNAVAILABLE', `member ${member.name} did not answer: ${r.reason}`)
    if (!r.value.ok) throw new ClusterdError('CLUSTERD_ERR_UNAVAILABLE', `member ${member.name} refused: ${r.value.reason}`)
    return 'diagnostics' in r.value ? r.value.diagnostics : r.value.logs
  }
  server.route(DIAGNOSTICS_ROUTES.diagnostics.method, DIAGNOSTICS_ROUTES.diagnostics.pattern, async ({ query, signal }) => {
    const member = memberToAsk(c.members(), query.node, c.selfPeerId)
    return member === null ? await c.source.diagnostics() : await ask(member, { want: 'diagnostics' }, signal)
  })
  server.route(DIAGNOSTICS_ROUTES.logs.method, DIAGNOSTICS_ROUTES.logs.pattern, async ({ query, signal }) => {
    const after = count(query.after, 'after', Number.MAX_SAFE_INTEGER, 0)
    const lines = count(query.lines, 'lines', LOG_RING_LINES, LOG_RING_LINES)
    const member = memberToAsk(c.members(), query.node, c.selfPeerId)
    return member === null ? await c.source.logs(after, lines) : await ask(member, { want: 'logs', after, lines }, signal)
  })
}
