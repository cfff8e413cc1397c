/**
 * The routes every agent answers from its own state, as named in protocol/api-routes.ts
 * `LOCAL_ROUTES`: the member list (member-routes.ts), the elected manager, this agent's
 * replication role and revision, and this node's lease. The composition root (agent/agent.ts)
 * says where each answer comes from; manager routes are registered beside these, forwarded.
 */

import { LOCAL_ROUTES } from '../../protocol/api-routes.js'
import { ClusterdError } from '../../protocol/errors.js'
import type { LeaseStatus } from '../../protocol/fencing-wire.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { ReplicaStatus } from '../../protocol/replication-wire.js'
import { registerMemberRoutes, type MemberRoutesComponents } from './member-routes.js'
import type { ApiServer } from './server.js'

/** Where the local routes' answers come from. */
export interface LocalRoutesComponents extends MemberRoutesComponents {
  /** The elected manager as this agent sees it, or null while none is. */
  manager: () => ManagerInfo | null
  /** This agent's replication role and revision (the manager's when it runs the role here). */
  replicaStatus: () => ReplicaStatus
  /** This node's highest manager epoch seen and the lease on record. */
  leaseStatus: () => LeaseStatus
}

/** Register every route of `LOCAL_ROUTES` on `server`. */
export function registerLocalRoutes (server: Pick<ApiServer, 'route'>, c: LocalRoutesComponents): void {
  registerMemberRoutes(server, c)
  server.route(LOCAL_ROUTES.manager.method, LOCAL_ROUTES.manager.pattern, async () => {
    const m = c.manager()
    if (m === null) throw new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'no manager is elected yet; an election may be in progress, retry shortly')
    return m
  })
  server.route(LOCAL_ROUTES.replica.method, LOCAL_ROUTES.replica.pattern, async (): Promise<ReplicaStatus> => c.replicaStatus())
  server.route(LOCAL_ROUTES.lease.method, LOCAL_ROUTES.lease.pattern, async (): Promise<LeaseStatus> => c.leaseStatus())
}
