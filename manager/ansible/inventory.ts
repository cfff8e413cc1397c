/**
 * Inventory and known_hosts generation for one run. Written as YAML data (never shell
 * strings); node names become safe host aliases; every user variable string is tagged
 * `!unsafe` so Ansible treats it as data and never evaluates Jinja found in a node name or a
 * request (which would run lookups on the manager).
 */
import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { isAbsolute } from 'node:path'
import { Document, Scalar, visit } from 'yaml'
import { ClusterdError } from '../../protocol/errors.js'
import type { PlaybookPlan } from '../roles/plan.js'
import { cleanupGroup, roleGroup } from '../roles/role-config.js'
import { hostKeyProblem, knownHostsLine } from '../ssh/host-key.js'
import { PYTHON_INTERPRETER, REMOTE_USER } from './constants.js'

/** Host aliases used as-is; anything else is mapped to `node_<hash>`. No `_`, so no clash. */
const SAFE_ALIAS = /^[a-z0-9][a-z0-9.-]{0,62}$/
/** Names Ansible gives meaning to as host patterns. */
const RESERVED_ALIASES: ReadonlySet<string> = new Set(['all', 'ungrouped', 'localhost'])
const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/
/** Session environment names and values that may travel in an ssh option string (Ansible shlex-splits it). */
const SSH_ENV_NAME = /^[A-Z][A-Z0-9_]{0,63}$/
const SSH_ENV_VALUE = /^[A-Za-z0-9_.:-]{1,200}$/

/** One host of an inventory: the node name and the alias Ansible knows it by. */
export interface InventoryHost {
  alias: string
  name: string
}

/** A generated inventory, ready to be written. */
export interface Inventory {
  hosts: InventoryHost[]
  /** YAML inventory for Ansible's yaml plugin. */
  yaml: string
  /** known_hosts content: one line per pinned key, keyed by host alias (HostKeyAlias). */
  knownHosts: string
}

/** Options for {@link buildInventory}. */
export interface InventoryOptions {
  /** Absolute path of the manager's SSH private key. */
  privateKeyPath: string
}

function invalid (message: string, details?: unknown): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', message, details)
}

/**
 * The inventory alias for a node name: the name itself when it is a plain lower-case host
 * name, else a stable hash-derived alias. Throws for names that are empty, too long or hold
 * control characters (these cannot be valid membership names either).
 */
export function hostAlias (name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255 || /[\p{Cc}]/u.test(name)) {
    throw invalid(`node name ${JSON.stringify(name)} must be 1-255 printable characters`)
  }
  if (SAFE_ALIAS.test(name) && !RESERVED_ALIASES.has(name)) return name
  return `node_${createHash('sha256').update(name).digest('hex').slice(0, 16)}`
}

/** Why `address` cannot be an ssh target, or undefined. A leading `-` would read as an option. */
export function addressProblem (address: unknown): string | undefined {
  if (typeof address !== 'string') return 'address must be a string'
  if (isIP(address) !== 0) return undefined
  return HOSTNAME.test(address) ? undefined : `address ${JSON.stringify(address)} is not an IP address or host name`
}

/**
 * Builds the inventory for `plan`: group `all` with the connection settings, one group per
 * role (`role_<name>`), per-host variables from the plan, and the known_hosts content.
 * Throws ClusterdError CLUSTERD_ERR_INVALID_ARGUMENT for an unusable node record.
 */
export function buildInventory (plan: PlaybookPlan, options: InventoryOptions): Inventory {
  if (!isAbsolute(options.privateKeyPath)) throw invalid('the SSH private key path must be absolute')
  const hosts: InventoryHost[] = []
  const byAlias = new Map<string, string>()
  const hostVars: Record<string, unknown> = {}
  const groups: Record<string, { hosts: Record<string, null> }> = {}
  const known: string[] = []
  for (const h of plan.hosts) {
    const alias = hostAlias(h.name)
    const clash = byAlias.get(alias)
    if (clash !== undefined) throw invalid(`nodes ${JSON.stringify(clash)} and ${JSON.stringify(h.name)} map to the same inventory alias`)
    byAlias.set(alias, h.name)
    const ap = addressProblem(h.address)
    if (ap !== undefined) throw invalid(`node ${JSON.stringify(h.name)}: ${ap}`)
    if (h.port !== undefined && !(Number.isInteger(h.port) && h.port > 0 && h.port < 65536)) {
      throw invalid(`node ${JSON.stringify(h.name)}: port ${String(h.port)} is out of range`)
    }
    if (!Array.isArray(h.hostKeys) || h.hostKeys.length === 0) {
      throw invalid(`node ${JSON.stringify(h.name)} has no pinned SSH host key; refusing to connect unverified`)
    }
    for (const k of h.hostKeys) {
      const p = hostKeyProblem(k)
      if (p !== undefined) throw invalid(`node ${JSON.stringify(h.name)}: bad pinned host key: ${p}`)
      known.push(knownHostsLine(alias, k))
    }
    const setEnv: string[] = []
    for (const [k, v] of Object.entries(h.sshEnv ?? {})) {
      if (!SSH_ENV_NAME.test(k) || !SSH_ENV_VALUE.test(v)) throw invalid(`node ${JSON.stringify(h.name)}: session environment ${JSON.stringify(k)} cannot be sent safely`)
      setEnv.push(`-o SetEnv=${k}=${v}`)
    }
    hosts.push({ alias, name: h.name })
    hostVars[alias] = {
      ansible_host: h.address,
      ...(h.port !== undefined ? { ansible_port: h.port } : {}),
      // The pin is bound to the node, not to whatever address it reports today.
      ansible_ssh_extra_args: `-o HostKeyAlias=${alias}`,
      // Common args reach every session: commands (ssh), and file transfers (sftp, scp).
      ...(setEnv.length > 0 ? { ansible_ssh_common_args: setEnv.join(' ') } : {}),
      vars: h.vars
    }
    for (const role of h.roles) {
      const g = (groups[roleGroup(role)] ??= { hosts: {} })
      g.hosts[alias] = null
    }
    for (const role of h.cleanupRoles ?? []) {
      const g = (groups[cleanupGroup(role)] ??= { hosts: {} })
      g.hosts[alias] = null
    }
  }

  const doc = new Document({
    all: {
      vars: {
        ansible_user: REMOTE_USER,
        ansible_python_interpreter: PYTHON_INTERPRETER,
        ansible_ssh_private_key_file: options.privateKeyPath
      },
      hosts: {},
      children: groups
    }
  })
  const hostsNode = doc.getIn(['all', 'hosts'], true) as any
  for (const [alias, v] of Object.entries(hostVars)) {
    const { vars, ...conn } = v as { vars: Record<string, unknown> }
    const node = doc.createNode({ ...conn, ...vars }) as any
    // Tag every string below a user variable, map keys included, as data.
    for (const name of Object.keys(vars)) {
      const valueNode = node.get(name, true)
      if (valueNode === undefined) continue
      if (valueNode instanceof Scalar) {
        if (typeof valueNode.value === 'string') valueNode.tag = '!unsafe'
      } else {
        visit(valueNode, { Scalar (_key, s) { if (typeof s.value === 'string') s.tag = '!unsafe' } })
      }
    }
    hostsNode.set(alias, node)
  }
  return { hosts, yaml: doc.toString({ lineWidth: 0 }), knownHosts: known.join('\n') + '\n' }
}
