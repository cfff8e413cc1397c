/**
 * The port between the agent and the manager role it hosts: the agent's ManagerHost
 * (agent/manager-role/manager-host.ts) starts and stops a ManagerRole built by a
 * ManagerFactory; the manager (manager/manager.ts) provides the factory. Neither imports the
 * other's code for it: both import this file.
 */

import type { ApiHandler } from './api-handler.js'
import type { ManagerFigures } from './manager-metrics.js'

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
  /** Figures for the agent's `GET /metrics`, read at scrape time (protocol/manager-metrics.ts); null before it started. */
  metrics?: () => ManagerFigures | null
}

/** Builds a manager for one epoch. */
export type ManagerFactory = (ctx: { epoch: number }) => ManagerRole
