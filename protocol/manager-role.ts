/**
 * The port between the agent and the manager role it hosts: the agent's ManagerHost
 * (agent/manager-role/manager-host.ts) starts and stops a ManagerRole built by a
 * ManagerFactory; the manager (manager/manager.ts) provides the factory. Neither imports the
 * other's code for it: both import this file.
 */

import type { ApiHandler } from './api-handler.js'

/** The manager as the agent sees it: started, stopped, and its API routes by route key. */
export interface ManagerRole {
  /** Start serving. */
  start: () => Promise<void>
  /** Stop serving. */
  stop: () => Promise<void>
  /** The role's API handlers by route key (protocol/api-handler.ts `routeKey`). */
  routes: () => Map<string, ApiHandler>
  /** Revision of the manager's store, when it has one. */
  revision?: () => number
}

/** Builds a manager for one epoch. */
export type ManagerFactory = (ctx: { epoch: number }) => ManagerRole
