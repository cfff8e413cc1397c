/**
 * Puts the node leases into a plan: only hosts that hold a lease stay, and every SSH session
 * Ansible opens to a host presents that host's lease to the node's gate (`CLUSTERD_LEASE` in the
 * session environment, `ssh -o SetEnv=...`; see agent/fencing/clusterd-gate.py), which runs the
 * session's command only while the node's own agent holds that lease. The epoch and lease id are
 * also inventory variables (`clusterd_epoch`, `clusterd_lease_id`: data, tagged `!unsafe`) for
 * playbooks that record them.
 */

import { gateEnv } from '../../protocol/fencing-wire.js'
import type { PlaybookPlan } from '../roles/plan.js'

/** The lease a host's sessions present. */
export interface PlanLease {
  leaseId: string
  epoch: number
}

/** The plan restricted to hosts that hold a lease, each host's sessions presenting its lease. */
export function withLeases (plan: PlaybookPlan, leases: ReadonlyMap<string, PlanLease>): PlaybookPlan {
  const hosts = plan.hosts.filter(h => leases.has(h.name)).map(h => {
    const l = leases.get(h.name) as PlanLease
    return { ...h, sshEnv: gateEnv(l), vars: { ...h.vars, clusterd_lease_id: l.leaseId, clusterd_epoch: String(l.epoch) } }
  })
  return { ...plan, hosts }
}
