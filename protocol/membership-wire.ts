/**
 * Membership wire contract: the gossip topic, the direct-stream protocols and the schema of
 * every membership message. Decoders never throw on bad input: they return a `WireError`
 * value so a caller can drop and log a hostile or malformed message and keep running.
 */

import { MAX_JSON_DEPTH, exceedsJsonDepth } from './json-limits.js'
import type { HostKey, NodeFacts } from './members.js'

/** Gossipsub topic carrying membership messages. */
export const MEMBERSHIP_TOPIC = 'clusterd/membership/1'
/** Direct-stream protocol for SWIM probes (ping, ping-req). */
export const SWIM_PROTOCOL = '/clusterd/swim/1.0.0'
/** Direct-stream protocol for push-pull state exchange. */
export const SYNC_PROTOCOL = '/clusterd/sync/1.0.0'

/** Largest membership gossip message accepted, in bytes. */
export const MAX_GOSSIP_BYTES = 64 * 1024
/** Largest probe message accepted, in bytes. */
export const MAX_PROBE_BYTES = 1024
/** Largest push-pull state message accepted, in bytes (a few thousand members). */
export const MAX_SYNC_BYTES = 16 * 1024 * 1024

/** Node names: DNS-label-like, so they are safe in inventories, file names and logs. */
export const NODE_NAME_PATTERN = /^[a-z0-9]([a-z0-9.-]{0,62})$/i
/** Label keys: like Kubernetes label names. */
export const LABEL_KEY_PATTERN = /^[a-z0-9]([a-z0-9._/-]{0,62})$/i
/** Label values: printable, no shell metacharacters. */
export const LABEL_VALUE_PATTERN = /^[a-z0-9._:@/+=-]{0,128}$/i

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

/** A record with its signature: `payload` is the UTF-8 JSON of a NodeRecord. */
export interface SignedRecord {
  payload: string
  /** base64 Ed25519 signature of the payload bytes by the record's peer id key. */
  sig: string
}

/** A member's status as claimed in gossip about someone else. */
export type ClaimKind = 'suspect' | 'dead'

/** Gossip messages on MEMBERSHIP_TOPIC. */
export type GossipMessage =
  | { t: 'record', rec: SignedRecord }
  | { t: ClaimKind, peer: string, inc: number, from: string }
  | { t: 'user' } & UserEntry

/** An application broadcast (manager claim, replica revision): opaque base64 data, latest version per key wins. */
export interface UserEntry { key: string, data: string, version: number }

/** Probe messages on SWIM_PROTOCOL (one request, one response per stream). */
export type ProbeRequest =
  | { t: 'ping', seq: number }
  | { t: 'ping-req', seq: number, target: string, timeoutMs: number }
export type ProbeResponse =
  | { t: 'ack', seq: number }
  | { t: 'nack', seq: number }

/** One member's entry in a push-pull exchange. */
export interface SyncEntry {
  rec: SignedRecord
  /** The sender's view: alive, suspect or dead (failed), with the claim's incarnation. */
  status: 'alive' | 'suspect' | 'dead' | 'left'
  inc: number
}

/** Push-pull message: the sender's whole view. */
export interface SyncMessage {
  t: 'sync'
  entries: SyncEntry[]
  /** The latest application broadcast per key. */
  user?: UserEntry[]
}

/** Why a wire message was refused. */
export interface WireError { ok: false, reason: string }
/** A decoded, validated message. */
export interface WireOk<T> { ok: true, value: T }
/** Result of a decoder. */
export type WireResult<T> = WireOk<T> | WireError

const PEER_ID_PATTERN = /^[1-9A-HJ-NP-Za-km-z]{40,64}$/
const MAX_INCARNATION = Number.MAX_SAFE_INTEGER

function fail (reason: string): WireError { return { ok: false, reason } }

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isIncarnation (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_INCARNATION
}

function isPeerId (v: unknown): v is string {
  return typeof v === 'string' && PEER_ID_PATTERN.test(v)
}

function parseJson (bytes: Uint8Array, max: number): WireResult<unknown> {
  if (bytes.byteLength > max) return fail(`message of ${bytes.byteLength} bytes exceeds ${max}`)
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    return fail(`not UTF-8 JSON: ${(err as Error).message}`)
  }
  return exceedsJsonDepth(value) ? fail(`message nests deeper than ${MAX_JSON_DEPTH} levels`) : { ok: true, value }
}

function checkSignedRecord (v: unknown): WireResult<SignedRecord> {
  if (!isObject(v)) return fail('rec is not an object')
  if (typeof v.payload !== 'string' || v.payload.length > MAX_GOSSIP_BYTES) return fail('rec.payload is not a string of allowed size')
  if (typeof v.sig !== 'string' || !/^[A-Za-z0-9+/=]{40,200}$/.test(v.sig)) return fail('rec.sig is not base64')
  return { ok: true, value: { payload: v.payload, sig: v.sig } }
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
  if (payload.length > MAX_GOSSIP_BYTES) return fail(`record payload of ${payload.length} characters exceeds ${MAX_GOSSIP_BYTES}`)
  let v: unknown
  try { v = JSON.parse(payload) } catch { return fail('record payload is not JSON') }
  if (!isObject(v)) return fail('record is not an object')
  if (exceedsJsonDepth(v)) return fail(`record nests deeper than ${MAX_JSON_DEPTH} levels`)
  if (v.v !== 1) return fail(`unsupported record version ${String(v.v)}`)
  if (typeof v.name !== 'string' || !NODE_NAME_PATTERN.test(v.name)) return fail('record.name is not a valid node name')
  if (!isPeerId(v.peerId)) return fail('record.peerId is malformed')
  if (!isIncarnation(v.incarnation)) return fail('record.incarnation is not a safe non-negative integer')
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

/** Decode and validate one gossip message (not its signatures). */
export function decodeGossip (bytes: Uint8Array): WireResult<GossipMessage> {
  const parsed = parseJson(bytes, MAX_GOSSIP_BYTES)
  if (!parsed.ok) return parsed
  const v = parsed.value
  if (!isObject(v)) return fail('message is not an object')
  if (v.t === 'record') {
    const rec = checkSignedRecord(v.rec)
    return rec.ok ? { ok: true, value: { t: 'record', rec: rec.value } } : rec
  }
  if (v.t === 'suspect' || v.t === 'dead') {
    if (!isPeerId(v.peer) || !isPeerId(v.from)) return fail(`${v.t}: peer/from malformed`)
    if (!isIncarnation(v.inc)) return fail(`${v.t}: inc is not a safe non-negative integer`)
    return { ok: true, value: { t: v.t, peer: v.peer, inc: v.inc, from: v.from } }
  }
  if (v.t === 'user') {
    const u = checkUserEntry(v)
    return u.ok ? { ok: true, value: { t: 'user', ...u.value } } : u
  }
  return fail(`unknown message type ${JSON.stringify(v.t)}`)
}

function checkUserEntry (v: Record<string, unknown>): WireResult<UserEntry> {
  if (typeof v.key !== 'string' || v.key.length > 128) return fail('user.key is not a short string')
  if (typeof v.data !== 'string' || v.data.length > 8192 || !/^[A-Za-z0-9+/=]*$/.test(v.data)) return fail('user.data is not base64 of allowed size')
  if (typeof v.version !== 'number' || !Number.isInteger(v.version) || v.version < 0 || v.version >= 2 ** 32) return fail('user.version out of range')
  return { ok: true, value: { key: v.key, data: v.data, version: v.version } }
}

/** Decode a probe request. */
export function decodeProbeRequest (bytes: Uint8Array): WireResult<ProbeRequest> {
  const parsed = parseJson(bytes, MAX_PROBE_BYTES)
  if (!parsed.ok) return parsed
  const v = parsed.value
  if (!isObject(v) || !isIncarnation(v.seq)) return fail('probe request malformed')
  if (v.t === 'ping') return { ok: true, value: { t: 'ping', seq: v.seq } }
  if (v.t === 'ping-req' && isPeerId(v.target) && typeof v.timeoutMs === 'number' && v.timeoutMs > 0 && v.timeoutMs <= 10_000) {
    return { ok: true, value: { t: 'ping-req', seq: v.seq, target: v.target, timeoutMs: v.timeoutMs } }
  }
  return fail('probe request malformed')
}

/** Decode a probe response. */
export function decodeProbeResponse (bytes: Uint8Array): WireResult<ProbeResponse> {
  const parsed = parseJson(bytes, MAX_PROBE_BYTES)
  if (!parsed.ok) return parsed
  const v = parsed.value
  if (!isObject(v) || !isIncarnation(v.seq) || (v.t !== 'ack' && v.t !== 'nack')) return fail('probe response malformed')
  return { ok: true, value: { t: v.t, seq: v.seq } }
}

/** Decode a push-pull message. */
export function decodeSync (bytes: Uint8Array): WireResult<SyncMessage> {
  const parsed = parseJson(bytes, MAX_SYNC_BYTES)
  if (!parsed.ok) return parsed
  const v = parsed.value
  if (!isObject(v) || v.t !== 'sync' || !Array.isArray(v.entries) || v.entries.length > 10_000) return fail('sync message malformed')
  const entries: SyncEntry[] = []
  for (const e of v.entries) {
    if (!isObject(e)) return fail('sync entry malformed')
    const rec = checkSignedRecord(e.rec)
    if (!rec.ok) return rec
    if (e.status !== 'alive' && e.status !== 'suspect' && e.status !== 'dead' && e.status !== 'left') return fail('sync entry status malformed')
    if (!isIncarnation(e.inc)) return fail('sync entry inc malformed')
    entries.push({ rec: rec.value, status: e.status, inc: e.inc })
  }
  const user: UserEntry[] = []
  if (v.user !== undefined) {
    if (!Array.isArray(v.user) || v.user.length > 20_000) return fail('sync user entries malformed')
    for (const u of v.user) {
      const e = isObject(u) ? checkUserEntry(u) : fail('sync user entry malformed')
      if (!e.ok) return e
      user.push(e.value)
    }
  }
  return { ok: true, value: { t: 'sync', entries, user } }
}

/** Encode any wire message as UTF-8 JSON. */
export function encodeWire (msg: GossipMessage | ProbeRequest | ProbeResponse | SyncMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(msg))
}
