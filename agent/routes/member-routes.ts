/**
 * API routes served from the agent's own membership view.
 */

import type { Member } from '../../protocol/members.js'
import type { ApiServer } from '../api/server.js'

/** What the member routes read. */
export interface MemberRoutesComponents {
  members: () => Member[]
}

/** `GET /v1/members`: this agent's view of every member. */
export function registerMemberRoutes (server: ApiServer, c: MemberRoutesComponents): void {
  server.route('GET', '/v1/members', async () => c.members())
}
