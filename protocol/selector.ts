/**
 * Node selectors (`clusterctl ... -l, --selector K=V[,K=V]`): the one parser both sides use.
 * clusterctl checks the text before sending it; the manager parses it again from the API body
 * field `selector` (or the `selector` query of `GET /v1/nodes`) and matches node records.
 *
 * Terms are ANDed. `state=S` matches the lifecycle state, `role=R` a role the node has (may be
 * given more than once: every one must be present), any other key an operator label
 * (`clusterctl node label`). `state` and `role` are therefore not usable as label keys here.
 * Pure: never throws on bad input, returns the reason.
 */

import { LABEL_KEY_PATTERN, LABEL_KEY_RULE, LABEL_VALUE_PATTERN, LABEL_VALUE_RULE, ROLE_NAME_PATTERN } from './names.js'
import { LIFECYCLE_STATES, isLifecycleState, type LifecycleState, type NodeRecord } from './nodes.js'

/** Longest selector text accepted. */
export const MAX_SELECTOR_LENGTH = 1024
/** Most terms in one selector. */
export const MAX_SELECTOR_TERMS = 16

/** A parsed selector: every part must match. */
export interface NodeSelector {
  /** Operator labels that must be equal. */
  labels: Record<string, string>
  /** Lifecycle state the node must be in. */
  state?: LifecycleState
  /** Roles the node must all have. */
  roles: string[]
}

/** The outcome of `parseSelector`. */
export type SelectorParse = { ok: true, selector: NodeSelector } | { ok: false, reason: string }

/** Parse `K=V[,K=V]`; the reason names the bad term. */
export function parseSelector (text: unknown): SelectorParse {
  if (typeof text !== 'string') return { ok: false, reason: 'selector must be a string like role=worker,zone=a' }
  if (text.length === 0) return { ok: false, reason: 'selector is empty; expected K=V[,K=V]' }
  if (text.length > MAX_SELECTOR_LENGTH) return { ok: false, reason: `selector is longer than ${MAX_SELECTOR_LENGTH} characters` }
  const terms = text.split(',')
  if (terms.length > MAX_SELECTOR_TERMS) return { ok: false, reason: `selector has more than ${MAX_SELECTOR_TERMS} terms` }
  const selector: NodeSelector = { labels: {}, roles: [] }
  for (const term of terms) {
    const eq = term.indexOf('=')
    if (eq < 0) return { ok: false, reason: `selector term ${JSON.stringify(term)} is not K=V` }
    const key = term.slice(0, eq)
    const value = term.slice(eq + 1)
    if (key === 'state') {
      if (!isLifecycleState(value)) return { ok: false, reason: `state=${JSON.stringify(value)}: expected one of ${LIFECYCLE_STATES.join(', ')}` }
      if (selector.state !== undefined) return { ok: false, reason: 'selector gives state twice' }
      selector.state = value
    } else if (key === 'role') {
      if (!ROLE_NAME_PATTERN.test(value)) return { ok: false, reason: `role=${JSON.stringify(value)} is not a role name` }
      if (!selector.roles.includes(value)) selector.roles.push(value)
    } else {
      if (!LABEL_KEY_PATTERN.test(key)) return { ok: false, reason: `selector key ${JSON.stringify(key)} is invalid: expected state, role or a label key (${LABEL_KEY_RULE})` }
      if (!LABEL_VALUE_PATTERN.test(value)) return { ok: false, reason: `selector value for ${key} is invalid: expected ${LABEL_VALUE_RULE}` }
      if (Object.hasOwn(selector.labels, key)) return { ok: false, reason: `selector gives ${key} twice` }
      selector.labels[key] = value
    }
  }
  return { ok: true, selector }
}

/** True when `node` matches every term of `selector`. */
export function matchSelector (selector: NodeSelector, node: Pick<NodeRecord, 'state' | 'roles' | 'labels'>): boolean {
  if (selector.state !== undefined && node.state !== selector.state) return false
  if (!selector.roles.every(r => node.roles.includes(r))) return false
  const labels = node.labels ?? {}
  return Object.entries(selector.labels).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v)
}
