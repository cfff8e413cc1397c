/**
 * Defaults and name rules for role configuration. Names end up as Ansible group names and
 * variable names, so they are held to patterns Ansible accepts without warnings or quoting.
 */

/** File name of the role configuration inside the playbook directory. */
export const ROLE_CONFIG_FILE = 'roles.yaml'

/** A variable name: lower-case identifier as Jinja and Ansible accept it. */
export const VAR_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,63}$/

/** A playbook file name relative to the playbook directory: no paths, no hidden files. */
export const PLAYBOOK_FILE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\.ya?ml$/

/** Prefix of the inventory group each role's hosts are placed in. */
export const ROLE_GROUP_PREFIX = 'role_'

/**
 * Prefix of the inventory group of hosts losing a role (`clusterctl node set-roles`); a role's
 * `cleanup:` playbooks must target it.
 */
export const CLEANUP_GROUP_PREFIX = 'cleanup_'

/** Host pattern the decommission and upgrade playbooks must target. */
export const ALL_HOSTS_PATTERN = 'all'

/**
 * Variable names users may not set: Ansible connection and magic variables (a request
 * setting `ansible_ssh_common_args` could turn host-key checking off or run a local
 * command), and the `clusterd_` facts the planner injects itself.
 */
export const RESERVED_VAR_PREFIXES = ['ansible_', 'clusterd_'] as const

/** Ansible magic variable names that must never be shadowed by user variables. */
export const RESERVED_VAR_NAMES: ReadonlySet<string> = new Set([
  'hostvars', 'groups', 'group_names', 'inventory_hostname', 'inventory_hostname_short',
  'inventory_dir', 'inventory_file', 'playbook_dir', 'play_hosts', 'role_name', 'role_names',
  'role_path', 'omit', 'vars', 'environment', 'item', 'ansible_loop_var', 'lookup', 'query',
  'q', 'now', 'undef'
])

/** Largest serialized size of one variable layer, so a request cannot bloat every host's vars. */
export const MAX_VARS_BYTES = 64 * 1024
