/**
 * Loads and validates `<playbook dir>/roles.yaml`: which playbooks make up each role, which
 * roles apply to every node, the decommission and upgrade playbooks, and default variables.
 * Everything is checked up front so a bad playbook directory fails at start, not mid-job.
 */
import { readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseDocument } from 'yaml'
import { ClusterdError } from '../../protocol/errors.js'
import { ROLE_NAME_PATTERN } from '../../protocol/names.js'
import {
  ALL_HOSTS_PATTERN, CLEANUP_GROUP_PREFIX, PLAYBOOK_FILE_PATTERN, ROLE_CONFIG_FILE, ROLE_GROUP_PREFIX
} from './constants.js'
import { isRoleName, varNameProblem, varsProblems } from './names.js'
import type { Vars } from './names.js'

/** Playbooks plus the variables they need, for a role or a job kind. */
export interface PlaybookSet {
  /** Absolute playbook paths, in run order. */
  playbooks: string[]
  /** Variables that must have a value after layering, or planning fails. */
  requiredVars: string[]
  /** Default values; for a role they form the `role` layer. */
  vars: Vars
}

/** One role as defined in roles.yaml. */
export interface RoleDefinition extends PlaybookSet {
  name: string
  /** Applied to every commissioned node, whatever roles were asked for. */
  always: boolean
  description?: string
  /**
   * Post-upgrade test playbooks (absolute paths, in run order; may be empty): a rolling
   * upgrade runs them on the role's nodes after the upgrade and the check, and a failure
   * fails the node (CORTX's test stage). Absent: none.
   */
  test?: string[]
  /**
   * Playbooks that remove the role from a live node (`node set-roles` without it), targeting
   * `cleanup_<role>`; empty when the role defines none (it then cannot be removed that way).
   */
  cleanup: string[]
}

/** The validated content of roles.yaml. */
export interface RoleConfig {
  /** Absolute playbook directory. */
  dir: string
  /** Cluster-wide default variables (the lowest layer). */
  vars: Vars
  /** Roles in file order; planning keeps this order. */
  roles: RoleDefinition[]
  decommission: PlaybookSet
  upgrade: PlaybookSet
  /** The configuration revision it was loaded from (manager/revisions/), when it was. */
  revision?: number
}

/** Options for {@link loadRoleConfig}. */
export interface LoadRoleConfigOptions {
  signal?: AbortSignal
}

/** The inventory group a role's hosts are placed in; role playbooks must target it. */
export function roleGroup (role: string): string {
  return `${ROLE_GROUP_PREFIX}${role}`
}

/** The inventory group of hosts a role is removed from; its cleanup playbooks must target it. */
export function cleanupGroup (role: string): string {
  return `${CLEANUP_GROUP_PREFIX}${role}`
}

/** Looks a role up by name. */
export function findRole (config: RoleConfig, name: string): RoleDefinition | undefined {
  return config.roles.find(r => r.name === name)
}

const TOP_KEYS = new Set(['vars', 'roles', 'decommission', 'upgrade'])
const ROLE_KEYS = new Set(['playbooks', 'always', 'requiredVars', 'vars', 'description', 'test', 'cleanup'])
const KIND_KEYS = new Set(['playbooks', 'requiredVars', 'vars'])

function isMapping (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function configError (dir: string, problems: string[]): ClusterdError {
  const file = join(dir, ROLE_CONFIG_FILE)
  return new ClusterdError('CLUSTERD_ERR_PLAYBOOK_CONFIG',
    `${file} is invalid: ${problems.join('; ')}`, { file, problems })
}

/**
 * Reads and validates roles.yaml in `dir`, including every playbook it names (present,
 * parseable, and each play targeting the right hosts). Throws a ClusterdError with code
 * CLUSTERD_ERR_PLAYBOOK_CONFIG listing every problem found.
 */
export async function loadRoleConfig (dir: string, options: LoadRoleConfigOptions = {}): Promise<RoleConfig> {
  const root = resolve(dir)
  const file = join(root, ROLE_CONFIG_FILE)
  let text: string
  try {
    text = await readFile(file, { encoding: 'utf8', signal: options.signal })
  } catch (err: any) {
    if (err?.name === 'AbortError') throw err
    throw configError(root, [`cannot read it: ${err?.code ?? err?.message}`])
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    throw configError(root, doc.errors.map(e => `malformed YAML: ${e.message.split('\n')[0] ?? ''}`))
  }
  const raw: unknown = doc.toJS()
  const problems: string[] = []
  if (!isMapping(raw)) throw configError(root, ['the top level must be a mapping with a `roles` key'])
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.has(key)) problems.push(`unknown top-level key '${key}'`)
  }
  problems.push(...varsProblems(raw.vars, 'vars'))

  const pending: Array<{ where: string, file: string, hosts: string }> = []
  // A list of playbook file names; `optional`: absent is an empty list (a role's `test:`).
  const readPlaybookList = (value: unknown, where: string, hosts: string, optional: boolean): string[] => {
    const out: string[] = []
    if (optional && value === undefined) return out
    if (!Array.isArray(value) || (!optional && value.length === 0)) {
      problems.push(optional ? `${where} must be a list of playbook file names` : `${where}: 'playbooks' must be a non-empty list`)
      return out
    }
    for (const pb of value) {
      if (typeof pb !== 'string' || !PLAYBOOK_FILE_PATTERN.test(pb)) {
        problems.push(`${where}: playbook '${String(pb)}' must be a file name in the playbook directory matching ${String(PLAYBOOK_FILE_PATTERN)}`)
        continue
      }
      const abs = join(root, pb)
      out.push(abs)
      pending.push({ where, file: abs, hosts })
    }
    return out
  }
  const readSet = (value: unknown, where: string, keys: Set<string>, hosts: string): PlaybookSet => {
    const set: PlaybookSet = { playbooks: [], requiredVars: [], vars: {} }
    if (!isMapping(value)) {
      problems.push(`${where} must be a mapping with a 'playbooks' list`)
      return set
    }
    for (const key of Object.keys(value)) {
      if (!keys.has(key)) problems.push(`${where}: unknown key '${key}'`)
    }
    set.playbooks = readPlaybookList(value.playbooks, where, hosts, false)
    if (value.requiredVars !== undefined) {
      if (!Array.isArray(value.requiredVars)) {
        problems.push(`${where}: 'requiredVars' must be a list`)
      } else {
        for (const name of value.requiredVars) {
          const p = typeof name === 'string' ? varNameProblem(name) : 'must be a string'
          if (p !== undefined) problems.push(`${where}: required variable '${String(name)}' is not allowed: ${p}`)
          else set.requiredVars.push(name)
        }
      }
    }
    const vp = varsProblems(value.vars, `${where}.vars`)
    problems.push(...vp)
    if (vp.length === 0 && isMapping(value.vars)) set.vars = value.vars as Vars
    return set
  }

  // `cleanup:` (optional): playbooks run on a node losing the role, aimed at cleanup_<role>.
  const readCleanup = (value: unknown, role: string): string[] => {
    if (value === undefined) return []
    const where = `roles.${role}.cleanup`
    if (!Array.isArray(value) || value.length === 0) {
      problems.push(`${where} must be a non-empty list of playbook files`)
      return []
    }
    const out: string[] = []
    for (const pb of value) {
      if (typeof pb !== 'string' || !PLAYBOOK_FILE_PATTERN.test(pb)) {
        problems.push(`${where}: playbook '${String(pb)}' must be a file name in the playbook directory matching ${String(PLAYBOOK_FILE_PATTERN)}`)
        continue
      }
      out.push(join(root, pb))
      pending.push({ where, file: join(root, pb), hosts: cleanupGroup(role) })
    }
    return out
  }

  const roles: RoleDefinition[] = []
  if (!isMapping(raw.roles) || Object.keys(raw.roles).length === 0) {
    problems.push("'roles' must be a non-empty mapping of role name to definition")
  } else {
    for (const [name, value] of Object.entries(raw.roles)) {
      if (!isRoleName(name)) {
        problems.push(`role name '${name}' must match ${String(ROLE_NAME_PATTERN)}`)
        continue
      }
      const set = readSet(value, `roles.${name}`, ROLE_KEYS, roleGroup(name))
      const v = isMapping(value) ? value : {}
      if (v.always !== undefined && typeof v.always !== 'boolean') problems.push(`roles.${name}: 'always' must be true or false`)
      if (v.description !== undefined && typeof v.description !== 'string') problems.push(`roles.${name}: 'description' must be a string`)
      // rollout: the optional per-role `test:` list, checked like `playbooks`.
      const test = readPlaybookList(v.test, `roles.${name}.test`, roleGroup(name), true)
      roles.push({
        name,
        ...set,
        test,
        always: v.always === true,
        ...(typeof v.description === 'string' ? { description: v.description } : {}),
        cleanup: readCleanup(v.cleanup, name)
      })
    }
  }
  // Two roles defaulting the same variable would make a node's value depend on role order.
  const owner = new Map<string, string>()
  for (const role of roles) {
    for (const name of Object.keys(role.vars)) {
      const other = owner.get(name)
      if (other !== undefined) problems.push(`variable '${name}' has defaults in both roles '${other}' and '${role.name}'; define it once (e.g. in top-level vars)`)
      else owner.set(name, role.name)
    }
  }
  const decommission = readSet(raw.decommission, 'decommission', KIND_KEYS, ALL_HOSTS_PATTERN)
  const upgrade = readSet(raw.upgrade, 'upgrade', KIND_KEYS, ALL_HOSTS_PATTERN)

  for (const p of pending) {
    problems.push(...await playbookProblems(p.file, p.where, p.hosts, options.signal))
  }
  if (problems.length > 0) throw configError(root, problems)
  return { dir: root, vars: isMapping(raw.vars) ? raw.vars as Vars : {}, roles, decommission, upgrade }
}

/**
 * Checks that a playbook exists, parses, and that every play targets `hosts` exactly: a role
 * playbook aimed at `all` would configure that role on nodes that do not have it.
 */
async function playbookProblems (file: string, where: string, hosts: string, signal?: AbortSignal): Promise<string[]> {
  try {
    const s = await stat(file)
    if (!s.isFile()) return [`${where}: playbook ${file} is not a regular file`]
  } catch {
    return [`${where}: playbook file ${file} does not exist`]
  }
  const text = await readFile(file, { encoding: 'utf8', signal })
  const doc = parseDocument(text, { uniqueKeys: true })
  if (doc.errors.length > 0) return [`${where}: playbook ${file} is malformed YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`]
  const plays: unknown = doc.toJS()
  if (!Array.isArray(plays) || plays.length === 0) return [`${where}: playbook ${file} must be a non-empty list of plays`]
  const problems: string[] = []
  plays.forEach((play, i) => {
    if (!isMapping(play) || play.hosts !== hosts) {
      const got = isMapping(play) ? JSON.stringify(play.hosts ?? null) : 'not a play'
      problems.push(`${where}: play ${i + 1} of ${file} must have 'hosts: ${hosts}' (got ${got})`)
    }
  })
  return problems
}
