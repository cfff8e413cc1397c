/**
 * Fencing wire contract: a manager asks a node's own agent for a lease before it works on the
 * node (SSH pre-check, playbooks), renews it while it works and releases it after. One request
 * frame, one reply frame per stream on `/clusterd/lease/1.0.0`. Every request carries a claim
 * signed by the manager's libp2p key (epoch, manager peer id, node, lease id, time), so the
 * node can check that the peer it talks to is the manager of that epoch. Any peer holding the
 * cluster secret can open these streams, so decoders are strict, size-limited and never throw.
 */

import type { ErrorCode } from './errors.js'
import { PEER_ID_PATTERN as PEER_ID, isNodeName } from './names.js'

/** Direct-stream protocol of lease requests. */
export const LEASE_PROTOCOL = '/clusterd/lease/1.0.0'
/** Largest request or reply frame, in bytes. */
export const MAX_LEASE_FRAME_BYTES = 4096
/** Domain separation of the signed claim bytes (a claim signature is good for nothing else). */
export const LEASE_CLAIM_DOMAIN = 'clusterd-lease-claim/1'

/** How long a grant or renewal holds, from the node's clock at grant time. */
export const LEASE_TTL_MS = 15_000
/** How often a holder renews. */
export const LEASE_RENEW_MS = 5_000
/**
 * A holder that has not had a renewal confirmed for this long stops its work on the node
 * (self-fencing), 3 s before the node could grant the lease to someone else.
 */
export const LEASE_SELF_FENCE_MS = 12_000
/** A claim whose time differs from the node's clock by more than this is refused (replays, broken clocks). */
export const MAX_CLAIM_SKEW_MS = 5 * 60_000

/** What a request asks for. */
export type LeaseOp = 'acquire' | 'renew' | 'release'

/** What the manager asserts, signed with its libp2p key. */
export interface LeaseClaim {
  op: LeaseOp
  /** The manager's election epoch. */
  epoch: number
  /** The manager's peer id (must be the stream's remote peer and the signer). */
  holder: string
  /** Name of the node the lease is for (a claim for another node is refused). */
  node: string
  /** Random id of this lease, chosen by the manager per node and job run. */
  leaseId: string
  /** Manager's clock when it signed, ms since the Unix epoch. */
  at: number
}

/** Manager → node: a claim and its base64 Ed25519 signature over {@link claimBytes}. */
export interface LeaseRequest {
  claim: LeaseClaim
  sig: string
}

/** A lease as the node holds it (also the content of `<data-dir>/lease.json`). */
export interface Lease {
  epoch: number
  holder: string
  leaseId: string
  /** ms since the Unix epoch, node's clock. */
  grantedAt: number
  expiresAt: number
}

/** Codes a node refuses with. */
export type LeaseRefusalCode = Extract<ErrorCode, 'CLUSTERD_ERR_STALE_EPOCH' | 'CLUSTERD_ERR_LEASE_BUSY' | 'CLUSTERD_ERR_LEASE_LOST' | 'CLUSTERD_ERR_LEASE_REFUSED'>

/** Node → manager. */
export type LeaseReply =
  /** Acquired or renewed: the lease as written, and where the lease file is on the node. */
  | { t: 'granted', lease: Lease, leaseFile: string }
  | { t: 'released' }
  /**
   * `retryAfterMs`: for a busy node, when the current lease expires (node's clock).
   * `rivalClaim`: the node's election gives the claim's epoch to another manager; this is that
   * manager's signed claim (base64 of the signed envelope membership carries), so the requester
   * can verify the rival for itself instead of taking the node's word (docs/architecture.md,
   * "Same-epoch claims"). Older agents send no such field, and older managers ignore it.
   */
  | { t: 'refused', code: LeaseRefusalCode, reason: string, highestEpoch: number, retryAfterMs?: number, rivalClaim?: string }

/** Response of `GET /v1/lease` on the node's local API. */
export interface LeaseStatus {
  /** Highest manager epoch this node has seen (its fencing token). */
  highestEpoch: number
  /** The lease on record (null: none, or released); `live` says whether it has expired. */
  lease: (Lease & { live: boolean }) | null
  /** Path of the lease file on the node. */
  leaseFile: string
}

/** A decode result; decoders never throw. */
export type Decoded<T> = { ok: true, value: T } | { ok: false, reason: string }

const LEASE_ID = /^[a-f0-9]{16,64}$/
const OPS: ReadonlySet<string> = new Set(['acquire', 'renew', 'release'])
const REFUSAL_CODES: ReadonlySet<string> = new Set(['CLUSTERD_ERR_STALE_EPOCH', 'CLUSTERD_ERR_LEASE_BUSY', 'CLUSTERD_ERR_LEASE_LOST', 'CLUSTERD_ERR_LEASE_REFUSED'])
const MAX_REASON = 500
/** Longest `rivalClaim` (base64): a valid claim's envelope is about 300 bytes. */
export const MAX_RIVAL_CLAIM_CHARS = 1024
const BASE64 = /^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const MAX_PATH = 1024

const isEpoch = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1
const isTime = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
const isText = (s: unknown, max: number): s is string => typeof s === 'string' && s.length > 0 && s.length <= max && !/[\p{Cc}]/u.test(s)

function parse (bytes: Uint8Array): Decoded<Record<string, unknown>> {
  if (!(bytes instanceof Uint8Array)) return { ok: false, reason: 'message is not bytes' }
  if (bytes.byteLength > MAX_LEASE_FRAME_BYTES) return { ok: false, reason: `message of ${bytes.byteLength} bytes is too large` }
  let v: unknown
  try { v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) } catch { return { ok: false, reason: 'message is not UTF-8 JSON' } }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'message is not an object' }
  return { ok: true, value: v as Record<string, unknown> }
}

/** Check a claim's shape. */
export function checkClaim (v: unknown): Decoded<LeaseClaim> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'claim is not an object' }
  const c = v as Record<string, unknown>
  if (typeof c.op !== 'string' || !OPS.has(c.op)) return { ok: false, reason: 'claim.op is not acquire, renew or release' }
  if (!isEpoch(c.epoch)) return { ok: false, reason: 'claim.epoch is not a positive integer' }
  if (typeof c.holder !== 'string' || !PEER_ID.test(c.holder)) return { ok: false, reason: 'claim.holder is not a peer id' }
  if (!isNodeName(c.node)) return { ok: false, reason: 'claim.node is not a node name' }
  if (typeof c.leaseId !== 'string' || !LEASE_ID.test(c.leaseId)) return { ok: false, reason: 'claim.leaseId is not 16-64 lower-case hex digits' }
  if (!isTime(c.at)) return { ok: false, reason: 'claim.at is not a time' }
  return { ok: true, value: { op: c.op as LeaseOp, epoch: c.epoch, holder: c.holder, node: c.node, leaseId: c.leaseId, at: c.at } }
}

/** Check a lease's shape (wire reply or lease file). */
export function checkLease (v: unknown): Decoded<Lease> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'lease is not an object' }
  const l = v as Record<string, unknown>
  if (!isEpoch(l.epoch)) return { ok: false, reason: 'lease.epoch is not a positive integer' }
  if (typeof l.holder !== 'string' || !PEER_ID.test(l.holder)) return { ok: false, reason: 'lease.holder is not a peer id' }
  if (typeof l.leaseId !== 'string' || !LEASE_ID.test(l.leaseId)) return { ok: false, reason: 'lease.leaseId malformed' }
  if (!isTime(l.grantedAt) || !isTime(l.expiresAt) || l.expiresAt < l.grantedAt) return { ok: false, reason: 'lease times malformed' }
  return { ok: true, value: { epoch: l.epoch, holder: l.holder, leaseId: l.leaseId, grantedAt: l.grantedAt, expiresAt: l.expiresAt } }
}

/** The exact bytes a claim's signature covers: a domain tag and the fields in a fixed order. */
export function claimBytes (c: LeaseClaim): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([LEASE_CLAIM_DOMAIN, c.op, c.epoch, c.holder, c.node, c.leaseId, c.at]))
}

/** Decode a manager → node frame (shape only; the keeper verifies the signature). */
export function decodeLeaseRequest (bytes: Uint8Array): Decoded<LeaseRequest> {
  const p = parse(bytes)
  if (!p.ok) return p
  const claim = checkClaim(p.value.claim)
  if (!claim.ok) return claim
  const sig = p.value.sig
  // An Ed25519 signature is 64 bytes: 88 base64 characters.
  if (typeof sig !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(sig)) return { ok: false, reason: 'sig is not a base64 Ed25519 signature' }
  return { ok: true, value: { claim: claim.value, sig } }
}

/** Decode a node → manager frame. */
export function decodeLeaseReply (bytes: Uint8Array): Decoded<LeaseReply> {
  const p = parse(bytes)
  if (!p.ok) return p
  const m = p.value
  if (m.t === 'granted') {
    const lease = checkLease(m.lease)
    if (!lease.ok) return lease
    if (!isText(m.leaseFile, MAX_PATH) || !m.leaseFile.startsWith('/')) return { ok: false, reason: 'leaseFile is not an absolute path' }
    return { ok: true, value: { t: 'granted', lease: lease.value, leaseFile: m.leaseFile } }
  }
  if (m.t === 'released') return { ok: true, value: { t: 'released' } }
  if (m.t === 'refused') {
    if (typeof m.code !== 'string' || !REFUSAL_CODES.has(m.code)) return { ok: false, reason: 'refused.code is not a lease refusal code' }
    if (typeof m.reason !== 'string') return { ok: false, reason: 'refused.reason is not text' }
    if (!isTime(m.highestEpoch)) return { ok: false, reason: 'refused.highestEpoch is not a non-negative integer' }
    if (m.retryAfterMs !== undefined && !isTime(m.retryAfterMs)) return { ok: false, reason: 'refused.retryAfterMs malformed' }
    if (m.rivalClaim !== undefined && (typeof m.rivalClaim !== 'string' || m.rivalClaim.length > MAX_RIVAL_CLAIM_CHARS || !BASE64.test(m.rivalClaim))) {
      return { ok: false, reason: `refused.rivalClaim is not base64 of at most ${MAX_RIVAL_CLAIM_CHARS} characters` }
    }
    return {
      ok: true,
      value: {
        t: 'refused', code: m.code as LeaseRefusalCode, reason: m.reason.slice(0, MAX_REASON), highestEpoch: m.highestEpoch,
        ...(m.retryAfterMs !== undefined ? { retryAfterMs: m.retryAfterMs as number } : {}),
        ...(m.rivalClaim !== undefined ? { rivalClaim: m.rivalClaim as string } : {})
      }
    }
  }
  return { ok: false, reason: 'unknown reply type' }
}

/** Encode a lease frame. */
export function encodeLeaseMessage (msg: LeaseRequest | LeaseReply): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(msg))
}

/**
 * The environment variable a manager's SSH session presents its lease in (`ssh -o
 * SetEnv=CLUSTERD_LEASE=...`), read by the node's gate (`agent/fencing/clusterd-gate.py`, the
 * forced command of the cluster credential) and inherited by what it runs: the tag by which the
 * node's agent finds and stops the processes of a lease that ended.
 */
export const GATE_LEASE_ENV = 'CLUSTERD_LEASE'

/** Exit status of a session the node's gate refused (EX_NOPERM). */
export const GATE_REFUSED_EXIT = 77

/** The value a session presents: `EPOCH:LEASE_ID`. */
export function gateLeaseTag (lease: { epoch: number, leaseId: string }): string {
  if (!isEpoch(lease.epoch) || !LEASE_ID.test(lease.leaseId)) throw new TypeError('not a lease: epoch must be a positive integer and leaseId 16-64 lower-case hex digits')
  return `${lease.epoch}:${lease.leaseId}`
}

/** The SSH session environment that presents `lease` to the node's gate. */
export function gateEnv (lease: { epoch: number, leaseId: string }): Record<string, string> {
  return { [GATE_LEASE_ENV]: gateLeaseTag(lease) }
}
