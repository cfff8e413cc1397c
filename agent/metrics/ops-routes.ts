/**
 * Registers OPS_ROUTES (protocol/ops-routes.ts) on the agent's API: `/metrics` renders the
 * agent's registry; `/healthz` and `/readyz` answer 200 or 503 with `{ ok, reason }`. The
 * probes are served on TCP without the bearer token (a load balancer or supervisor has none,
 * and they reveal only a yes/no and a reason); `/metrics` keeps the token (it describes the
 * cluster).
 */

import { ApiReply } from '../../protocol/api-handler.js'
import { OPS_ROUTES, type ProbeResponse } from '../../protocol/ops-routes.js'
import { TextReply } from '../api/respond.js'
import type { ApiServer } from '../api/server.js'

/** What the routes answer from. */
export interface OpsRoutesComponents {
  /** Renders the metrics (agent-metrics.ts). */
  render: () => Promise<{ contentType: string, text: string }>
  /** Liveness (probes.ts `judgeHealth`). */
  health: () => ProbeResponse
  /** Readiness (probes.ts `judgeReadiness`). */
  readiness: () => ProbeResponse
}

/** Register `/metrics`, `/healthz` and `/readyz` on `server`. */
export function registerOpsRoutes (server: Pick<ApiServer, 'route'>, c: OpsRoutesComponents): void {
  server.route(OPS_ROUTES.metrics.method, OPS_ROUTES.metrics.pattern, async () => {
    const { contentType, text } = await c.render()
    return new TextReply(200, contentType, text)
  })
  const probe = (judge: () => ProbeResponse) => async (): Promise<ApiReply> => {
    const r = judge()
    return new ApiReply(r.ok ? 200 : 503, r)
  }
  server.route(OPS_ROUTES.healthz.method, OPS_ROUTES.healthz.pattern, probe(c.health), { withoutToken: true })
  server.route(OPS_ROUTES.readyz.method, OPS_ROUTES.readyz.pattern, probe(c.readiness), { withoutToken: true })
}
