/**
 * API routes served from the agent's own membership view.
 */

import { ClusterdError } from '../../protocol/errors.js'
import type { Member } from '../../protocol/members.js'
import type { ApiServer } from '../api/server.js'

/** How long `GET /v1/members` waits for members' facts before answering with what it has. */
export const MEMBER_FACTS_WAIT_MS = 3_000

/** What the member routes read. */
export interface MemberRoutesComponents {
  /** The view with facts as cached (none fetched). */
  members: () => Member[]
  /** The view with the reachable members' facts fetched on demand (agent/facts/facts-stream.ts). */
  membersWithFacts?: (signal: AbortSignal) => Promise<Member[]>
}

/**
 * `GET /v1/members`: this agent's view of every member, with their facts fetched from the
 * members (cached by digest; at most MEMBER_FACTS_WAIT_MS). `?facts=cached` answers at once with
 * the facts this agent already holds (pollers and tables that show no facts); `?facts=fetch`
 * is the default.
 */
export function registerMemberRoutes (server: ApiServer, c: MemberRoutesComponents): void {
  server.route('GET', '/v1/members', async ({ query, signal }) => {
    if (query.facts !== undefined && query.facts !== 'cached' && query.facts !== 'fetch') {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', 'facts must be cached or fetch')
    }
    if (query.facts === 'cached' || c.membersWithFacts === undefined) return c.members()
    return await c.membersWithFacts(AbortSignal.any([signal, AbortSignal.timeout(MEMBER_FACTS_WAIT_MS)]))
  })
}
