/**
 * Turns a job request into a playbook plan: which playbooks run, in which order, on which
 * hosts with which roles, and each host's variables layered cluster < role < node < request.
 * Pure: no I/O, so the lifecycle machine and the API can validate requests before queuing.
 */
import { ClusterdError } from '../../protocol/errors.js'
import type { HostKey } from '../../protocol/members.js'
import { findRole } from './role-config.js'
import type { PlaybookSet, RoleConfig, RoleDefinition } from './role-config.js'
import { isRoleName, varsProblems } from './names.js'
import type { VarValue, Vars } from './names.js'

/**
 * What a plan does to its nodes. `verify` and `reconfigure` run the same role playbooks as
 * `commission` with the node's recorded roles (verify in check mode, chosen by the runner).
 */
export type PlanKind = 'commission' | 'decommission' | 'upgrade' | 'verify' | 'reconfigure'

/** True for kinds that run the roles' playbooks rather than a playbook set of their own. */
function byRoles (kind: PlanKind): kind is 'commission' | 'verify' | 'reconfigure' {
  return kind === 'commission' || kind === 'verify' || kind === 'reconfigure'
}

/** A node to run against, as the manager knows it from membership and its own records. */
export interface PlanTarget {
  /** Node name as in membership; any text, mapped to a safe inventory alias later. */
  name: string
  /** IP address (or DNS name) sshd listens on. */
  address: string
  port?: number
  /** Pinned SSH host keys from the node's signed facts; the only keys accepted. */
  hostKeys: HostKey[]
  /** Roles asked for this node (commission, set-roles) or that it has (decommission, upgrade). */
  roles: string[]
  /**
   * Reconfigure only (`node set-roles`): roles the node loses; their `cleanup:` playbooks run
   * on it (group `cleanup_<role>`) before the role playbooks. Roles no longer in roles.yaml
   * are skipped, as decommission does.
   */
  cleanupRoles?: string[]
  /** Node-level variables (third layer). */
  vars?: Vars
  /** The node's operator labels (`clusterctl node label`), injected as `clusterd_labels`. */
  labels?: Record<string, string>
}

/** One host in a plan, with its final role list and variables. */
export interface PlannedHost {
  name: string
  address: string
  port?: number
  hostKeys: HostKey[]
  /** Always-roles first, then requested roles, in roles.yaml order. */
  roles: string[]
  /** Roles being removed from the host (their cleanup playbooks target it); absent: none. */
  cleanupRoles?: string[]
  /** Layered variables plus the injected `clusterd_*` facts. */
  vars: Vars
  /** Environment every SSH session to the host sends (the node lease its gate checks; see manager/fencing/lease-plan.ts). */
  sshEnv?: Record<string, string>
}

/** Everything a PlaybookRunner needs for one run. */
export interface PlaybookPlan {
  /** `agent-upgrade`: built by manager/agent-upgrade (one node, its own playbook), not by planFor. */
  kind: PlanKind | 'agent-upgrade'
  cluster: string
  /** Absolute playbook paths in run order; a host failing one is dropped from the rest. */
  playbooks: string[]
  hosts: PlannedHost[]
}

/** Variable layers supplied by the caller. */
export interface PlanVars {
  /** Cluster-wide settings held by the manager; override roles.yaml top-level vars. */
  cluster?: Vars
  /** Per-request overrides (highest layer). */
  request?: Vars
}

/** Options for {@link planFor}. */
export interface PlanOptions {
  /** Cluster name, injected as `clusterd_cluster`. */
  cluster: string
  vars?: PlanVars
  /** Configuration revision the playbooks come from, injected as `clusterd_revision`. */
  revision?: number
}

function invalid (message: string, details?: unknown): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', message, details)
}

/**
 * Builds the plan for `kind` on `targets`. Throws ClusterdError CLUSTERD_ERR_UNKNOWN_ROLE for
 * a role not in roles.yaml (commission only: decommission ignores roles that no longer exist
 * so a node can always be cleaned up), and CLUSTERD_ERR_INVALID_ARGUMENT for bad variables,
 * duplicate nodes or a required variable left without a value.
 */
export function planFor (config: RoleConfig, kind: PlanKind, targets: PlanTarget[], options: PlanOptions): PlaybookPlan {
  if (typeof options.cluster !== 'string' || options.cluster.length === 0 || /[\p{Cc}]/u.test(options.cluster)) {
    throw invalid('cluster name must be non-empty printable text')
  }
  if (targets.length === 0) throw invalid('a plan needs at least one node')
  const problems = [
    ...varsProblems(options.vars?.cluster, 'cluster vars'),
    ...varsProblems(options.vars?.request, 'request vars')
  ]
  for (const t of targets) problems.push(...varsProblems(t.vars, `node '${t.name}' vars`))
  if (problems.length > 0) throw invalid(problems.join('; '), { problems })

  const seen = new Set<string>()
  for (const t of targets) {
    if (seen.has(t.name)) throw invalid(`node '${t.name}' appears twice in one plan`)
    seen.add(t.name)
  }

  const used = new Set<string>()
  const cleaned = new Set<string>()
  const hosts: PlannedHost[] = []
  for (const t of targets) {
    const roles = resolveRoles(config, kind, t)
    for (const r of roles) used.add(r.name)
    const kindSet: PlaybookSet | undefined = byRoles(kind) ? undefined : config[kind]
    const vars: Vars = {
      ...config.vars,
      ...options.vars?.cluster,
      ...kindSet?.vars,
      ...Object.assign({}, ...roles.map(r => r.vars)) as Vars,
      ...t.vars,
      ...options.vars?.request
    }
    // An upgrade runs the upgrade set, then the node's role playbooks from the same revision.
    const required = kindSet === undefined
      ? roles.flatMap(r => r.requiredVars)
      : [...kindSet.requiredVars, ...(kind === 'upgrade' ? roles.flatMap(r => r.requiredVars) : [])]
    const missing = [...new Set(required)].filter(n => vars[n] === undefined || vars[n] === null)
    if (missing.length > 0) {
      throw invalid(`node '${t.name}': required variable(s) ${missing.join(', ')} have no value for ${kind}`, { node: t.name, missing })
    }
    const injected: Record<string, VarValue> = {
      clusterd_node_name: t.name,
      clusterd_roles: roles.map(r => r.name),
      clusterd_labels: { ...t.labels },
      clusterd_cluster: options.cluster,
      clusterd_plan_kind: kind,
      ...(options.revision !== undefined ? { clusterd_revision: options.revision } : {})
    }
    const cleanup = cleanupRoles(config, kind, t, roles)
    for (const r of cleanup) cleaned.add(r.name)
    hosts.push({
      name: t.name,
      address: t.address,
      ...(t.port !== undefined ? { port: t.port } : {}),
      hostKeys: t.hostKeys,
      roles: roles.map(r => r.name),
      ...(cleanup.length > 0 ? { cleanupRoles: cleanup.map(r => r.name) } : {}),
      vars: { ...vars, ...injected }
    })
  }

  // Cleanup of removed roles first: a role's playbooks may then reuse what another one freed.
  const rolePlaybooks = [...config.roles.filter(r => cleaned.has(r.name)).flatMap(r => r.cleanup), ...config.roles.filter(r => used.has(r.name)).flatMap(r => r.playbooks)]
  const playbooks = byRoles(kind)
    ? rolePlaybooks
    : kind === 'upgrade' ? [...config.upgrade.playbooks, ...rolePlaybooks] : config[kind].playbooks
  return { kind, cluster: options.cluster, playbooks: [...new Set(playbooks)], hosts }
}

/**
 * The roles `t` loses, in roles.yaml order: known, not kept, never an always-role. A removed
 * role without `cleanup:` playbooks is refused: its artifacts would stay on the node unseen.
 */
function cleanupRoles (config: RoleConfig, kind: PlanKind, t: PlanTarget, kept: RoleDefinition[]): RoleDefinition[] {
  if (t.cleanupRoles === undefined || t.cleanupRoles.length === 0) return []
  if (kind !== 'reconfigure') throw invalid(`node '${t.name}': roles are removed only by a reconfigure (node set-roles)`)
  const out: RoleDefinition[] = []
  for (const role of config.roles) {
    if (!t.cleanupRoles.includes(role.name) || role.always || kept.some(k => k.name === role.name)) continue
    if (role.cleanup.length === 0) {
      throw new ClusterdError('CLUSTERD_ERR_PLAYBOOK_CONFIG', `role '${role.name}' has no cleanup playbooks in roles.yaml, so it cannot be removed from node '${t.name}' (add a cleanup: list, or decommission the node)`, { node: t.name, role: role.name })
    }
    out.push(role)
  }
  return out
}

/** The node's roles in roles.yaml order, always-roles included (decommission skips unknown ones). */
function resolveRoles (config: RoleConfig, kind: PlanKind, t: PlanTarget): RoleDefinition[] {
  const wanted = new Set<string>()
  for (const name of t.roles) {
    const role = isRoleName(name) ? findRole(config, name) : undefined
    if (role === undefined) {
      if (kind === 'decommission') continue
      throw new ClusterdError('CLUSTERD_ERR_UNKNOWN_ROLE',
        `role '${String(name)}' for node '${t.name}' is not defined in roles.yaml (known: ${config.roles.map(r => r.name).join(', ')})`,
        { node: t.name, role: name })
    }
    wanted.add(role.name)
  }
  return config.roles.filter(r => r.always || wanted.has(r.name))
}
