/**
 * The name vocabulary: node names, label keys and values, host names, peer ids and role
 * names, one rule each. Everything that takes a name checks it here (agent flags and config,
 * membership and fencing wire, manager API bodies, clusterctl arguments), so a name one part
 * accepts is never refused by another. bootstrap.sh repeats the patterns in bash; the unit
 * test `test/unit/protocol/names.test.ts` checks its copies against these.
 *
 * The checks return a reason (phrased to follow "expected ...") or undefined; they never throw.
 */

/**
 * Node names: 1-63 letters, digits, `.` and `-`, starting and ending with a letter or digit
 * (a DNS label with dots allowed, so `web-` is refused). Matched case-insensitively; an agent
 * lowercases its own name, as DNS treats host names, so `Web1` and `web1` are the same node.
 * Names end up in inventories, file names and logs, and must be safe there.
 */
export const NODE_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?$/i

/** Label keys: 1-63 letters, digits, `.`, `_`, `-`, `/`, starting and ending with a letter or digit; case-sensitive. */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$/

/** Label values: empty, or 1-63 letters, digits, `.`, `_`, `-`, starting and ending with a letter or digit; case-sensitive. */
export const LABEL_VALUE_PATTERN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/

/** One DNS host name (RFC 1123 labels, at most 253 characters), for `--advertise` and `--join` hosts. */
export const DNS_NAME_PATTERN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i

/** A libp2p peer id as text (base58btc; an Ed25519 identity is 52 characters). */
export const PEER_ID_PATTERN = /^[1-9A-HJ-NP-Za-km-z]{40,64}$/

/** A role name: lower-case identifier; it becomes the inventory group `role_<name>`. */
export const ROLE_NAME_PATTERN = /^[a-z][a-z0-9_]{0,31}$/

/** What a node name must look like, for messages. */
export const NODE_NAME_RULE = '1-63 letters, digits, "." or "-", starting and ending with a letter or digit'

/** What a label key must look like, for messages. */
export const LABEL_KEY_RULE = '1-63 letters, digits, ".", "_", "-" or "/", starting and ending with a letter or digit'

/** What a label value must look like, for messages. */
export const LABEL_VALUE_RULE = 'up to 63 letters, digits, ".", "_" or "-", starting and ending with a letter or digit'

/** Why `name` is not a node name, or undefined when it is. */
export function nodeNameProblem (name: unknown): string | undefined {
  if (typeof name === 'string' && NODE_NAME_PATTERN.test(name)) return undefined
  return `expected ${NODE_NAME_RULE}; got ${describe(name)}`
}

/** True when `name` is a node name. */
export function isNodeName (name: unknown): name is string {
  return typeof name === 'string' && NODE_NAME_PATTERN.test(name)
}

/** Why `key`=`value` is not a label, or undefined when it is. */
export function labelProblem (key: unknown, value: unknown): string | undefined {
  if (typeof key !== 'string' || !LABEL_KEY_PATTERN.test(key)) {
    return `label key ${describe(key)} is invalid: expected ${LABEL_KEY_RULE}`
  }
  if (typeof value !== 'string' || !LABEL_VALUE_PATTERN.test(value)) {
    return `label value ${describe(value)} for key ${JSON.stringify(key)} is invalid: expected ${LABEL_VALUE_RULE}`
  }
  return undefined
}

/** True when `id` is a libp2p peer id as text. */
export function isPeerId (id: unknown): id is string {
  return typeof id === 'string' && PEER_ID_PATTERN.test(id)
}

function describe (v: unknown): string {
  if (typeof v !== 'string') return v === null ? 'null' : typeof v
  return JSON.stringify(v)
}
