/**
 * Validation of role names, variable names and variable values shared by the role
 * configuration loader and the planner.
 */
import { ROLE_NAME_PATTERN } from '../../protocol/names.js'
import { MAX_VARS_BYTES, RESERVED_VAR_NAMES, RESERVED_VAR_PREFIXES, VAR_NAME_PATTERN } from './constants.js'

/** A JSON-like variable value as it may appear in roles.yaml, node records or requests. */
export type VarValue = string | number | boolean | null | VarValue[] | { [key: string]: VarValue }

/** A set of variables by name. */
export type Vars = Record<string, VarValue>

/** True when `name` is a valid role name. */
export function isRoleName (name: unknown): name is string {
  return typeof name === 'string' && ROLE_NAME_PATTERN.test(name)
}

/** Why `name` cannot be used as a user variable name, or undefined when it can. */
export function varNameProblem (name: string): string | undefined {
  if (!VAR_NAME_PATTERN.test(name)) return `must match ${String(VAR_NAME_PATTERN)}`
  if (RESERVED_VAR_PREFIXES.some(p => name.startsWith(p))) return `the prefixes ${RESERVED_VAR_PREFIXES.join(', ')} are reserved`
  if (RESERVED_VAR_NAMES.has(name)) return 'it is an Ansible magic variable'
  return undefined
}

/** Why `value` is not a plain JSON-like value, or undefined when it is. */
function valueProblem (value: unknown, depth: number): string | undefined {
  if (depth > 8) return 'nested too deeply'
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'numbers must be finite'
  if (Array.isArray(value)) {
    for (const v of value) {
      const p = valueProblem(v, depth + 1)
      if (p !== undefined) return p
    }
    return undefined
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) {
      const p = valueProblem(v, depth + 1)
      if (p !== undefined) return p
    }
    return undefined
  }
  return `unsupported value type ${typeof value}`
}

/**
 * Checks one variable layer; returns a list of human-readable problems (empty when fine).
 * `where` names the layer in messages, e.g. `request vars`.
 */
export function varsProblems (vars: unknown, where: string): string[] {
  if (vars === undefined) return []
  if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) return [`${where} must be a mapping`]
  const problems: string[] = []
  for (const [name, value] of Object.entries(vars)) {
    const n = varNameProblem(name)
    if (n !== undefined) problems.push(`${where}: variable '${name}' is not allowed: ${n}`)
    const v = valueProblem(value, 0)
    if (v !== undefined) problems.push(`${where}: variable '${name}': ${v}`)
  }
  if (problems.length === 0 && Buffer.byteLength(JSON.stringify(vars)) > MAX_VARS_BYTES) {
    problems.push(`${where} exceed ${MAX_VARS_BYTES} bytes`)
  }
  return problems
}
