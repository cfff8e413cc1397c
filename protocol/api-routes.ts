/**
 * The API route table shared by the agent (which serves or forwards), the manager (which
 * implements) and clusterctl (which calls). One CLI command = one client method = one route.
 */

import type { RolloutSettings } from './jobs.js'

/** Routes every agent answers from its own state (agent/api/local-routes.ts registers them). */
export const LOCAL_ROUTES = {
  /** This agent's membership view (protocol/members.ts `MembersResponse`). */
  members: { method: 'GET', pattern: '/v1/members' },
  /** The elected manager as this agent sees it (protocol/manager-wire.ts `ManagerInfo`). */
  manager: { method: 'GET', pattern: '/v1/manager' },
  /** This agent's replication role and revision (protocol/replication-wire.ts `ReplicaStatus`). */
  replica: { method: 'GET', pattern: '/v1/replica' },
  /** This node's fencing state (protocol/fencing-wire.ts `LeaseStatus`). */
  lease: { method: 'GET', pattern: '/v1/lease' }
} as const

/** Routes the elected manager implements; other agents forward them to it. */
export const MANAGER_ROUTES = {
  listNodes: { method: 'GET', pattern: '/v1/nodes' },
  showNode: { method: 'GET', pattern: '/v1/nodes/:name' },
  rebindNode: { method: 'POST', pattern: '/v1/nodes/:name/rebind' },
  forgetNode: { method: 'POST', pattern: '/v1/nodes/:name/forget' },
  /** Node maintenance (protocol/nodes.ts `NodeChangeResponse`): no new jobs / jobs again, out of service / back, labels. */
  cordonNode: { method: 'POST', pattern: '/v1/nodes/:name/cordon' },
  uncordonNode: { method: 'POST', pattern: '/v1/nodes/:name/uncordon' },
  markBroken: { method: 'POST', pattern: '/v1/nodes/:name/mark-broken' },
  markFixed: { method: 'POST', pattern: '/v1/nodes/:name/mark-fixed' },
  labelNode: { method: 'POST', pattern: '/v1/nodes/:name/labels' },
  /** `node set-roles`: a reconfigure job to the new roles, cleaning up the removed ones (202, a JobRecord). */
  setNodeRoles: { method: 'POST', pattern: '/v1/nodes/:name/roles' },
  nameBindings: { method: 'GET', pattern: '/v1/bindings' },
  commission: { method: 'POST', pattern: '/v1/commission' },
  decommission: { method: 'POST', pattern: '/v1/decommission' },
  upgrade: { method: 'POST', pattern: '/v1/upgrade' },
  verify: { method: 'POST', pattern: '/v1/verify' },
  reconfigure: { method: 'POST', pattern: '/v1/reconfigure' },
  listJobs: { method: 'GET', pattern: '/v1/jobs' },
  showJob: { method: 'GET', pattern: '/v1/jobs/:id' },
  jobEvents: { method: 'GET', pattern: '/v1/jobs/:id/events' },
  cancelJob: { method: 'POST', pattern: '/v1/jobs/:id/cancel' },
  /** Continue a paused rolling upgrade, accepting its failures (protocol/jobs.ts `RolloutState`). */
  resumeJob: { method: 'POST', pattern: '/v1/jobs/:id/resume' },
  /** Re-run a job's failed nodes (`RetryJobRequest`): in place for a paused rollout, else as a new job. */
  retryJob: { method: 'POST', pattern: '/v1/jobs/:id/retry' },
  listEvents: { method: 'GET', pattern: '/v1/events' },
  getConfig: { method: 'GET', pattern: '/v1/config' },
  getConfigKey: { method: 'GET', pattern: '/v1/config/:key' },
  setConfigKey: { method: 'PUT', pattern: '/v1/config/:key' },
  /** A consistent snapshot of the manager store, streamed (protocol/backup-format.ts `BackupStreamItem`). */
  backup: { method: 'GET', pattern: '/v1/backup' },
  /** Configuration revisions (protocol/revisions.ts): push a playbook directory, list, show, compare. */
  pushRevision: { method: 'POST', pattern: '/v1/revisions' },
  listRevisions: { method: 'GET', pattern: '/v1/revisions' },
  showRevision: { method: 'GET', pattern: '/v1/revisions/:rev' },
  diffRevisions: { method: 'GET', pattern: '/v1/revisions/:rev/diff/:other' },
  /** What an upgrade would do, grouped by current revision (protocol/revisions.ts `UpgradePlan`). */
  upgradePlan: { method: 'POST', pattern: '/v1/upgrade/plan' },
  /** What was applied where and when (protocol/revisions.ts `HistoryEntry[]`); `?node=NAME`. */
  history: { method: 'GET', pattern: '/v1/history' }
} as const

/** Name of a manager route. */
export type ManagerRouteName = keyof typeof MANAGER_ROUTES

/** Body of `POST /v1/commission`. */
export interface CommissionRequest {
  nodes: string[]
  /** Commission every node currently in `discovered` (nodes must then be empty). */
  allDiscovered?: boolean
  roles: string[]
  vars?: Record<string, string>
  /** Nodes matching this selector (protocol/selector.ts) that can be commissioned; nodes must then be empty. */
  selector?: string
}

/** Body of `POST /v1/decommission`. */
export interface DecommissionRequest {
  nodes: string[]
  /** Nodes matching this selector that can be decommissioned; nodes must then be empty. */
  selector?: string
}

/** Body of `POST /v1/upgrade`. */
export interface UpgradeRequest {
  nodes: string[]
  /** Upgrade every commissioned node (nodes must then be empty); with an agent upgrade, every reachable node. */
  all?: boolean
  vars?: Record<string, string>
  /**
   * Agent upgrade: a release archive (clusterd-VERSION-HASH.tar.gz, `npm run release`) at this
   * absolute path on the manager's node, with its .sha256 beside it.
   */
  agentRelease?: string
  /** Agent upgrade to this version: the release named (checked), or the one in the manager's `<data-dir>/releases`. */
  agentVersion?: string
  /** Target configuration revision; with it, no-ops and downgrades are refused unless `force`. */
  to?: number
  /** Run also when it changes nothing or downgrades a node (a revision with `to`, or an agent version). */
  force?: boolean
  /**
   * A rolling upgrade: batches with a post-upgrade check between them; absent, all nodes at
   * once. batchSize is required; maxUnavailable defaults to it, maxFailures and pauseBetweenS to 0.
   */
  rollout?: Partial<RolloutSettings>
  /** Commissioned, uncordoned nodes matching this selector; nodes must then be empty. */
  selector?: string
}

/** Body of `POST /v1/jobs/:id/retry`. */
export interface RetryJobRequest {
  /** Re-run only the nodes that failed (the one mode there is; required). */
  failed: true
}

/**
 * Body of `POST /v1/verify` (check the nodes' roles in Ansible check mode and record drift)
 * and `POST /v1/reconfigure` (re-apply the nodes' roles). Nodes must be commissioned.
 */
export interface MaintenanceRequest {
  nodes: string[]
  /** Every commissioned node (nodes must then be empty). */
  all?: boolean
  /** Commissioned, uncordoned nodes matching this selector; nodes must then be empty. */
  selector?: string
}

/** Body of `PUT /v1/config/:key`. */
export interface SetConfigRequest {
  value: unknown
}

/** Cluster configuration keys and their meaning (values are validated by the manager). */
export const CONFIG_KEYS = {
  'auto-commission': 'Auto-commission policy: {"enabled": bool, "roles": [..], "selector": {label: value}}; or the string "off".',
  'on-return': 'What to do when a commissioned node comes back: verify | reconfigure | none.',
  'job-timeout': 'Default job timeout in seconds.',
  'max-parallel-jobs': 'How many jobs may run at once (on disjoint nodes).',
  vars: 'Cluster-level Ansible variables (lowest precedence): {"name": "value"}.',
  'retention.jobs.max-count': 'Finished jobs kept (newest first); older ones are pruned with their events. Default 1000.',
  'retention.jobs.max-age': 'Finished jobs older than this are pruned: seconds, or a duration like 30d, 12h, 90m. Default 30d.',
  'retention.events.max-per-node': 'Lifecycle events kept per node (its newest is always kept). Default 100.',
  'retention.events.max-age': 'Lifecycle events older than this are pruned (each node keeps its newest): seconds or 90d, 12h... Default 90d.',
  'retention.revisions.max-count': 'Configuration revisions kept (newest first), besides those a node record or an unfinished job names; older ones are pruned. Default 50.',
  'replication.acks': 'Replicas that must persist a write before it is acknowledged (fewer when fewer are up; alone when none is reachable). Default 2.'
} as const

/** A cluster configuration key. */
export type ConfigKey = keyof typeof CONFIG_KEYS
