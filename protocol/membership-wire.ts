/**
 * Membership wire contract: the signed node record every member publishes about itself, and
 * the name and label rules. The SWIM datagrams and push-pull states that carry records are
 * protocol/swim-wire.ts. Decoders never throw on bad input: they return a `WireError` value
 * so a caller can drop and log a hostile or malformed message and keep running.
 */

import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, NODE_NAME_PATTERN, isPeerId } from './names.js'
import { MAX_JSON_DEPTH, exceedsJsonDepth } from './json-limits.js'
import type { HostKey, NodeFacts } from './members.js'

/** Largest signed record payload accepted, in characters. */
export const MAX_RECORD_BYTES = 56 * 1024

/** @deprecated import from protocol/names.ts; kept until manager/api/manager-routes.ts does. */
export { NODE_NAME_PATTERN } from './names.js'

/**
 * The state a node asserts about itself in its signed record. Only the node itself can
 * produce one (it signs it), so `alive` refutations and graceful `left` cannot be forged.
 */
export type RecordState = 'alive' | 'left'

/** What a node says about itself; signed by its libp2p key. */
export interface NodeRecord {
  v: 1
  name: string
  peerId: string
  incarnation: number
  state: RecordState
  /** Multiaddrs without the /p2p suffix, e.g. `/ip4/10.0.0.2/tcp/7946`. */
  addrs: string[]
  labels: Record<string, string>
  managerEligible: boolean
  facts: NodeFacts | null
  /** Milliseconds since epoch when the record was signed (informational). */
  signedAt: number
}

/** Why a wire message was refused. */
export interface WireError { ok: false, reason: string }
/** A decoded, validated message. */
export interface WireOk<T> { ok: true, value: T }
/** Result of a decoder. */
export type WireResult<T> = WireOk<T> | WireError

/** Incarnations are u32 (the core and the datagram codec carry them as such). */
const MAX_INCARNATION = 2 ** 32 - 1

function fail (reason: string): WireError { return { ok: false, reason } }

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isIncarnation (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_INCARNATION
}

function checkHostKeys (v: unknown): v is HostKey[] {
  return Array.isArray(v) && v.length <= 16 && v.every(k => isObject(k) &&
    typeof k.type === 'string' && /^[a-z0-9@.-]{3,64}$/.test(k.type) &&
    typeof k.key === 'string' && /^[A-Za-z0-9+/=]{16,4096}$/.test(k.key))
}

function checkFacts (v: unknown): WireResult<NodeFacts | null> {
  if (v === null) return { ok: true, value: null }
  if (!isObject(v)) return fail('facts is not an object')
  const str = (x: unknown, max = 256): boolean => typeof x === 'string' && x.length <= max
  const num = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x >= 0
  if (!str(v.hostname) || !str(v.kernel) || !str(v.arch) || !str(v.agentVersion)) return fail('facts has a bad string field')
  if (!num(v.cpus) || !num(v.memoryBytes)) return fail('facts has a bad numeric field')
  if (!Array.isArray(v.addresses) || v.addresses.length > 64 || !v.addresses.every(a => str(a, 64))) return fail('facts.addresses is malformed')
  if (!isObject(v.os) || !str(v.os.platform) || !str(v.os.release) || !str(v.os.distro)) return fail('facts.os is malformed')
  if (!Array.isArray(v.disks) || v.disks.length > 64 || !v.disks.every(d => isObject(d) && str(d.mount, 1024) && num(d.sizeBytes) && num(d.freeBytes))) return fail('facts.disks is malformed')
  if (!checkHostKeys(v.sshHostKeys)) return fail('facts.sshHostKeys is malformed')
  if (v.boot !== undefined && !(isObject(v.boot) && str(v.boot.id, 64) && str(v.boot.agentStartedAt, 64))) return fail('facts.boot is malformed')
  return { ok: true, value: v as unknown as NodeFacts }
}

/** Validate the JSON payload of a signed record (the signature is checked by the caller). */
export function decodeRecordPayload (payload: string): WireResult<NodeRecord> {
  if (payload.length > MAX_RECORD_BYTES) return fail(`record payload of ${payload.length} characters exceeds ${MAX_RECORD_BYTES}`)
  let v: unknown
  try { v = JSON.parse(payload) } catch { return fail('record payload is not JSON') }
  if (!isObject(v)) return fail('record is not an object')
  if (exceedsJsonDepth(v)) return fail(`record nests deeper than ${MAX_JSON_DEPTH} levels`)
  if (v.v !== 1) return fail(`unsupported record version ${String(v.v)}`)
  if (typeof v.name !== 'string' || !NODE_NAME_PATTERN.test(v.name)) return fail('record.name is not a valid node name')
  if (!isPeerId(v.peerId)) return fail('record.peerId is malformed')
  if (!isIncarnation(v.incarnation)) return fail('record.incarnation is not an integer in [0, 2^32)')
  if (v.state !== 'alive' && v.state !== 'left') return fail('record.state must be alive or left')
  if (!Array.isArray(v.addrs) || v.addrs.length > 16 || !v.addrs.every(a => typeof a === 'string' && /^\/ip[46]\/[0-9a-f.:]+\/tcp\/\d{1,5}$/i.test(a))) return fail('record.addrs is malformed')
  if (!isObject(v.labels) || Object.keys(v.labels).length > 64) return fail('record.labels is malformed')
  for (const [k, val] of Object.entries(v.labels)) {
    if (!LABEL_KEY_PATTERN.test(k) || typeof val !== 'string' || !LABEL_VALUE_PATTERN.test(val)) return fail(`record.labels has an invalid label ${JSON.stringify(k)}`)
  }
  if (typeof v.managerEligible !== 'boolean') return fail('record.managerEligible is not a boolean')
  if (typeof v.signedAt !== 'number' || !Number.isFinite(v.signedAt)) return fail('record.signedAt is not a number')
  const facts = checkFacts(v.facts)
  if (!facts.ok) return facts
  return { ok: true, value: v as unknown as NodeRecord }
}
