/**
 * Routes for supervisors, load balancers and Prometheus that every agent answers from its
 * own state (agent/metrics/ops-routes.ts), beside LOCAL_ROUTES (api-routes.ts). On the TCP
 * listener `/healthz` and `/readyz` need no bearer token; `/metrics` does (README, trust model).
 */

/** The operations routes. */
export const OPS_ROUTES = {
  /** Prometheus text exposition format 0.0.4. */
  metrics: { method: 'GET', pattern: '/metrics' },
  /** 200 while the process is alive and its event loop is not stalled, else 503. */
  healthz: { method: 'GET', pattern: '/healthz' },
  /** 200 once joined, a manager is elected and (on the manager) its role serves, else 503. */
  readyz: { method: 'GET', pattern: '/readyz' }
} as const

/** Body of `/healthz` and `/readyz`: `ok`, and the reason when not. */
export interface ProbeResponse {
  ok: boolean
  /** Why not, e.g. `no manager is elected yet`; absent when ok. */
  reason?: string
}
