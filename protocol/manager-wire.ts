/**
 * Manager election wire contract: the claims an elected manager gossips, and the API shape of
 * `GET /v1/manager`.
 */

import { MAX_JSON_DEPTH, exceedsJsonDepth } from './json-limits.js'
import { NODE_NAME_PATTERN, isPeerId } from './names.js'

/**
 * Membership broadcast key prefix of manager claims: `mgr/<claimant peer id>`, version = epoch.
 * The data is the claimant's signed envelope (agent/identity/signed-envelope.ts) of the claim JSON.
 */
export const MANAGER_KEY_PREFIX = 'mgr/'
/** A claim whose epoch is more than this above the highest one known is refused (a hostile peer must not burn the epoch space). */
export const MAX_EPOCH_JUMP = 1024
/** Direct-stream protocol on which agents forward API requests to the manager. */
export const FORWARD_PROTOCOL = '/clusterd/api-forward/1.0.0'
/** Largest manager claim accepted, in bytes. */
export const MAX_CLAIM_BYTES = 4096

/** "I am the manager for `epoch`", broadcast once by the manager when it claims. */
export interface ManagerClaim {
  t: 'claim'
  epoch: number
  peerId: string
  name: string
  /** ISO time the claimant became manager for this epoch. */
  since: string
  /**
   * The claimant's replica revision when it claimed (how up to date the state it serves is).
   * Breaks ties between claims of equal epoch before the peer id does; 0 when absent (older agents).
   */
  revision: number
}

/** Response of `GET /v1/manager` and `clusterctl manager -o json`. */
export interface ManagerInfo {
  name: string
  peerId: string
  epoch: number
  since: string
  /** Whether the agent answering is the manager itself. */
  local: boolean
}

/**
 * True when claim `a` supersedes claim `b`: the one rule every place where claims compete uses.
 * A higher epoch wins; at equal epochs the higher revision (fresher state) wins, then the lower
 * peer id. Equal epoch, revision and peer id is the same claim: it does not supersede itself.
 */
export function claimSupersedes (a: Pick<ManagerClaim, 'epoch' | 'revision' | 'peerId'>, b: Pick<ManagerClaim, 'epoch' | 'revision' | 'peerId'>): boolean {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch
  if (a.revision !== b.revision) return a.revision > b.revision
  return a.peerId < b.peerId
}

/** Decode a claim; never throws. */
export function decodeClaim (bytes: Uint8Array): { ok: true, value: ManagerClaim } | { ok: false, reason: string } {
  if (bytes.byteLength > MAX_CLAIM_BYTES) return { ok: false, reason: `claim of ${bytes.byteLength} bytes is too large` }
  let v: unknown
  try { v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) } catch { return { ok: false, reason: 'claim is not UTF-8 JSON' } }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'claim is not an object' }
  const c = v as Record<string, unknown>
  if (c.t !== 'claim') return { ok: false, reason: 'not a claim' }
  if (typeof c.epoch !== 'number' || !Number.isSafeInteger(c.epoch) || c.epoch < 1 || c.epoch >= 2 ** 32) return { ok: false, reason: 'claim.epoch is not an integer in [1, 2^32)' }
  if (!isPeerId(c.peerId)) return { ok: false, reason: 'claim.peerId malformed' }
  if (typeof c.name !== 'string' || !NODE_NAME_PATTERN.test(c.name)) return { ok: false, reason: 'claim.name is not a valid node name' }
  if (typeof c.since !== 'string' || Number.isNaN(Date.parse(c.since))) return { ok: false, reason: 'claim.since is not a time' }
  const revision = c.revision ?? 0
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) return { ok: false, reason: 'claim.revision is not a non-negative integer' }
  return { ok: true, value: { t: 'claim', epoch: c.epoch, peerId: c.peerId, name: c.name, since: c.since, revision } }
}

/** Largest forwarded API frame, in bytes (an API body is at most 1 MiB). */
export const MAX_FORWARD_FRAME_BYTES = 4 * 1024 * 1024
/**
 * Largest forwarded request (agent → manager): an API body (at most 1 MiB) plus route, path
 * parameters and query (bounded by the HTTP header limit), checked before the frame is read.
 */
export const MAX_FORWARD_REQUEST_BYTES = 1024 * 1024 + 256 * 1024

/** Agent → manager on FORWARD_PROTOCOL: one API call, already routed by the forwarding agent. */
export interface ForwardRequest {
  /** Route key, `METHOD /pattern` (e.g. `GET /v1/nodes/:name`). */
  key: string
  params: Record<string, string>
  query: Record<string, string>
  body: unknown
}

function stringMap (v: unknown): v is Record<string, string> {
  if (v === undefined) return true
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const entries = Object.entries(v)
  return entries.length <= 64 && entries.every(([k, x]) => k.length <= 256 && typeof x === 'string' && x.length <= 8192)
}

/**
 * Decode a forwarded API call; never throws. The manager's route handlers validate the
 * meaning; this makes sure they get the types the local API would give them.
 */
export function decodeForwardRequest (bytes: Uint8Array): { ok: true, value: ForwardRequest } | { ok: false, reason: string } {
  if (bytes.byteLength > MAX_FORWARD_FRAME_BYTES) return { ok: false, reason: `forwarded request of ${bytes.byteLength} bytes is too large` }
  let v: unknown
  try { v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) } catch { return { ok: false, reason: 'forwarded request is not UTF-8 JSON' } }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'forwarded request is not an object' }
  const r = v as Record<string, unknown>
  if (typeof r.key !== 'string' || !/^[A-Z]{3,7} \/[A-Za-z0-9/:_-]{1,120}$/.test(r.key)) return { ok: false, reason: 'forwarded request has no valid route key' }
  if (!stringMap(r.params) || !stringMap(r.query)) return { ok: false, reason: 'forwarded params and query must be maps of strings' }
  if (exceedsJsonDepth(r.body)) return { ok: false, reason: `forwarded body nests deeper than ${MAX_JSON_DEPTH} levels` }
  return { ok: true, value: { key: r.key, params: { ...(r.params ?? {}) }, query: { ...(r.query ?? {}) }, body: r.body } }
}
