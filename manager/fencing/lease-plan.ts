/**
 * Puts the on-node lease check into a plan: `playbooks/lease-check.yml` runs before each of the
 * plan's playbooks, and every host gets the lease it must find in its lease file
 * (`clusterd_lease_file`, `clusterd_lease_id`, `clusterd_epoch`). A host whose check fails is
 * dropped by Ansible from the plays that follow, so it is not touched; and a run orphaned by a
 * dead manager stops at the next check once its lease has expired or passed to another manager.
 * The values travel as inventory variables (data, tagged `!unsafe`), never in a command line.
 */

import type { PlaybookPlan } from '../roles/plan.js'

/** What a host's lease check compares its lease file with. */
export interface LeaseCheckVars {
  leaseId: string
  epoch: number
  leaseFile: string
}

/** The plan restricted to hosts that hold a lease, with the lease check before every playbook. */
export function withLeaseCheck (plan: PlaybookPlan, leases: ReadonlyMap<string, LeaseCheckVars>, checkPlaybook: string): PlaybookPlan {
  const hosts = plan.hosts.filter(h => leases.has(h.name)).map(h => {
    const l = leases.get(h.name) as LeaseCheckVars
    return { ...h, vars: { ...h.vars, clusterd_lease_file: l.leaseFile, clusterd_lease_id: l.leaseId, clusterd_epoch: String(l.epoch) } }
  })
  return { ...plan, hosts, playbooks: plan.playbooks.flatMap(p => [checkPlaybook, p]) }
}
