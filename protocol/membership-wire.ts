/**
 * Membership wire contract: the small signed node record every member gossips about itself,
 * the facts it serves on demand (`/clusterd/facts/1.0.0`), and the name and label rules. The
 * SWIM datagrams and push-pull states that carry records are protocol/swim-wire.ts. Decoders
 * never throw on bad input: they return a `WireError` value so a caller can drop and log a
 * hostile or malformed message and keep running.
 *
 * The record holds only what membership and election need plus a digest of the facts (a few
 * hundred bytes, so several `alive` updates share one datagram); the facts (SSH host keys,
 * disks, ...; about 1 KB) are fetched from the node by whoever needs them and checked against
 * the digest, so they stay authenticated end to end by the record's signature.
 */

import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, NODE_NAME_PATTERN, isPeerId } from './names.js'
import { MAX_JSON_DEPTH, exceedsJsonDepth } from './json-limits.js'
import type { HostKey, NodeBoot, NodeFacts } from './members.js'

/** Largest signed record payload accepted, in characters. */
export const MAX_RECORD_BYTES = 16 * 1024
/** Largest facts document accepted (JSON bytes) on the facts stream. */
export const MAX_FACTS_BYTES = 64 * 1024
/** Record wire version; records of another version are refused (no mixed-version clusters). */
export const RECORD_VERSION = 2
/**
 * A facts digest: base64url of the first 16 bytes of the SHA-256 of the facts' exact JSON
 * bytes (22 characters). 128 bits keep a relay from finding other facts with the same digest.
 */
export const FACTS_DIGEST_PATTERN = /^[A-Za-z0-9_-]{22}$/
/** An eligibility attestation: base64url of a 64-byte Ed25519 signature by the cluster SSH CA (86 characters). */
export const ATTESTATION_PATTERN = /^[A-Za-z0-9_-]{85}[AQgw]$/

/**
 * The state a node asserts about itself in its signed record. Only the node itself can
 * produce one (it signs it), so `alive` refutations and graceful `left` cannot be forged.
 */
export type RecordState = 'alive' | 'left'

/** What a node says about itself; signed by its libp2p key (on the wire: encodeRecordPayload). */
export interface NodeRecord {
  v: 2
  name: string
  peerId: string
  incarnation: number
  state: RecordState
  /** Multiaddrs without the /p2p suffix, e.g. `/ip4/10.0.0.2/tcp/7946`. */
  addrs: string[]
  labels: Record<string, string>
  managerEligible: boolean
  agentVersion: string
  /** This boot and agent start (small, and the manager needs it with every change: see NodeBoot). */
  boot: NodeBoot | null
  /** Digest of the facts the node serves (FACTS_DIGEST_PATTERN); null while it has none. */
  facts: string | null
  /**
   * The cluster SSH CA's signature over this peer id and name (ATTESTATION_PATTERN;
   * agent/identity/eligibility-attestation.ts), only on eligible records: where agents know
   * the CA, eligibility counts only with a valid one. Absent without a CA.
   */
  attestation?: string
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

function isBoot (v: unknown): v is NodeBoot {
  return isObject(v) && typeof v.id === 'string' && v.id.length <= 64 && typeof v.agentStartedAt === 'string' && v.agentStartedAt.length <= 64
}

function checkFacts (v: unknown): WireResult<NodeFacts> {
  if (!isObject(v)) return fail('facts is not an object')
  const str = (x: unknown, max = 256): boolean => typeof x === 'string' && x.length <= max
  const num = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x >= 0
  if (!str(v.hostname) || !str(v.kernel) || !str(v.arch) || !str(v.agentVersion)) return fail('facts has a bad string field')
  if (!num(v.cpus) || !num(v.memoryBytes)) return fail('facts has a bad numeric field')
  if (!Array.isArray(v.addresses) || v.addresses.length > 64 || !v.addresses.every(a => str(a, 64))) return fail('facts.addresses is malformed')
  if (!isObject(v.os) || !str(v.os.platform) || !str(v.os.release) || !str(v.os.distro)) return fail('facts.os is malformed')
  if (!Array.isArray(v.disks) || v.disks.length > 64 || !v.disks.every(d => isObject(d) && str(d.mount, 1024) && num(d.sizeBytes) && num(d.freeBytes))) return fail('facts.disks is malformed')
  if (!checkHostKeys(v.sshHostKeys)) return fail('facts.sshHostKeys is malformed')
  if (v.boot !== undefined && !isBoot(v.boot)) return fail('facts.boot is malformed')
  return { ok: true, value: v as unknown as NodeFacts }
}

/** Validate a facts document fetched from a node (its digest is checked by the caller). */
export function decodeFacts (bytes: Uint8Array): WireResult<NodeFacts> {
  if (bytes.byteLength > MAX_FACTS_BYTES) return fail(`facts of ${bytes.byteLength} bytes exceed ${MAX_FACTS_BYTES}`)
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return fail('facts are not UTF-8 JSON')
  }
  if (exceedsJsonDepth(v)) return fail(`facts nest deeper than ${MAX_JSON_DEPTH} levels`)
  return checkFacts(v)
}

/**
 * The record's JSON payload as signed and gossiped: short keys, and no peer id (the signature
 * binds the record to its author's key, and so to the id it travels under). About 220 bytes
 * for a typical node where the long-keyed form with facts was ~1,850 (docs/architecture.md).
 */
interface RecordWire {
  v: number
  n: string
  i: number
  s: RecordState
  a: string[]
  l: Record<string, string>
  e: boolean
  av: string
  b: [string, string] | null
  f: string | null
  /** Attestation; present only when `e` is true and the node holds the CA key. */
  ea?: string
}

/** Encode a record's signed payload (the peer id is not part of it). */
export function encodeRecordPayload (r: Omit<NodeRecord, 'peerId'>): string {
  const w: RecordWire = {
    v: r.v, n: r.name, i: r.incarnation, s: r.state, a: r.addrs, l: r.labels, e: r.managerEligible, av: r.agentVersion,
    b: r.boot === null ? null : [r.boot.id, r.boot.agentStartedAt], f: r.facts
  }
  if (r.attestation !== undefined) w.ea = r.attestation
  return JSON.stringify(w)
}

/**
 * Validate the JSON payload of a signed record that travels under `peerId` (the signature is
 * checked by the caller, against that id).
 */
export function decodeRecordPayload (payload: string, peerId: string): WireResult<NodeRecord> {
  if (payload.length > MAX_RECORD_BYTES) return fail(`record payload of ${payload.length} characters exceeds ${MAX_RECORD_BYTES}`)
  if (!isPeerId(peerId)) return fail('record peer id is malformed')
  let v: unknown
  try { v = JSON.parse(payload) } catch { return fail('record payload is not JSON') }
  if (!isObject(v)) return fail('record is not an object')
  if (exceedsJsonDepth(v)) return fail(`record nests deeper than ${MAX_JSON_DEPTH} levels`)
  if (v.v !== RECORD_VERSION) return fail(`unsupported record version ${typeof v.v === 'number' ? v.v : typeof v.v}`)
  if (typeof v.n !== 'string' || !NODE_NAME_PATTERN.test(v.n)) return fail('record name is not a valid node name')
  if (!isIncarnation(v.i)) return fail('record incarnation is not an integer in [0, 2^32)')
  if (v.s !== 'alive' && v.s !== 'left') return fail('record state must be alive or left')
  if (!Array.isArray(v.a) || v.a.length > 16 || !v.a.every(a => typeof a === 'string' && /^\/ip[46]\/[0-9a-f.:]+\/tcp\/\d{1,5}$/i.test(a))) return fail('record addresses are malformed')
  if (!isObject(v.l) || Object.keys(v.l).length > 64) return fail('record labels are malformed')
  for (const [k, val] of Object.entries(v.l)) {
    if (!LABEL_KEY_PATTERN.test(k) || typeof val !== 'string' || !LABEL_VALUE_PATTERN.test(val)) return fail(`record labels have an invalid label ${JSON.stringify(k)}`)
  }
  if (typeof v.e !== 'boolean') return fail('record eligibility is not a boolean')
  if (typeof v.av !== 'string' || v.av.length > 64) return fail('record agent version is malformed')
  const b = v.b
  if (b !== null && !(Array.isArray(b) && b.length === 2 && isBoot({ id: b[0], agentStartedAt: b[1] }))) return fail('record boot is malformed')
  if (v.f !== null && !(typeof v.f === 'string' && FACTS_DIGEST_PATTERN.test(v.f))) return fail('record facts digest is malformed')
  if (v.ea !== undefined && !(v.e === true && typeof v.ea === 'string' && ATTESTATION_PATTERN.test(v.ea))) return fail('record attestation is malformed or on an ineligible record')
  return {
    ok: true,
    value: {
      v: RECORD_VERSION,
      name: v.n,
      peerId,
      incarnation: v.i,
      state: v.s,
      addrs: v.a as string[],
      labels: v.l as Record<string, string>,
      managerEligible: v.e,
      agentVersion: v.av,
      boot: b === null ? null : { id: b[0] as string, agentStartedAt: b[1] as string },
      facts: v.f as string | null,
      ...(v.ea !== undefined ? { attestation: v.ea as string } : {})
    }
  }
}
