/**
 * Replication wire contract: the manager pushes every committed store batch (or, when a
 * replica lags, a full snapshot) to the manager-eligible agents on a direct stream; each
 * replica answers with its revision. Replicas broadcast their revision (when it changes) so the election can
 * prefer the most up-to-date one.
 */

import { MAX_JSON_DEPTH, exceedsJsonDepth } from './json-limits.js'
import { PEER_ID_PATTERN as PEER_ID } from './names.js'

/** Direct-stream protocol: one request frame (manager → replica), one reply frame back. */
export const REPLICATE_PROTOCOL = '/clusterd/replicate/1.0.0'
/**
 * Membership broadcast key prefix of replica revision announcements: `rev/<author peer id>`.
 * The data is the author's signed envelope (agent/identity/signed-envelope.ts) of the JSON.
 */
export const REPLICA_KEY_PREFIX = 'rev/'
/** Largest replica announcement, in bytes. */
export const MAX_ANNOUNCEMENT_BYTES = 1024

/** One raw store operation: keys and values are the store's own strings (values are JSON text). */
export type ReplicationOp = { type: 'put', key: string, value: string } | { type: 'del', key: string }

/** Everything one durable store write changed, at the revision it produced. */
export interface ReplicationBatch {
  revision: number
  ops: ReplicationOp[]
}

/** One key/value of a full snapshot (values are parsed JSON). */
export interface SnapshotEntry {
  key: string
  value: unknown
}

/**
 * Largest replication frame, either way. Snapshots and exports travel as a stream of chunks
 * of about `SNAPSHOT_CHUNK_BYTES` each (a chunk holds at least one entry, so one very large
 * value may make a frame bigger than a chunk, never bigger than this).
 */
export const REPLICATION_FRAME_MAX_BYTES = 8 * 1024 * 1024
/** Target size of one snapshot or export chunk (JSON bytes of its entries). */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024

/** Which manager's history a store follows: the epoch and peer of the manager whose snapshot it took. */
export interface Lineage {
  epoch: number
  peerId: string
}

/** Manager → replica. `epoch` is the sender's manager epoch; replicas check it against the election. */
export type ReplicationRequest =
  /**
   * One batch. `ack`: sent on the write path, the write is answered once this replica (one of
   * the write's `replication.acks` acknowledging replicas) persisted it; catch-up sends none.
   * Only acknowledging replicas announce the revisions writes move (revision-gossip.ts).
   */
  | { t: 'batch', epoch: number, batch: ReplicationBatch, ack?: true }
  /** Consecutive batches in one frame: catching up a replica that is a little behind. */
  | { t: 'delta', epoch: number, batches: ReplicationBatch[] }
  /**
   * One chunk of a snapshot: chunks `seq` 0, 1, ... of transfer `id` carry the state at
   * `revision` in key order; the replica validates each, and replaces its state only when the
   * chunk with `done` arrives whole (an interrupted transfer leaves the old state).
   */
  | { t: 'chunk', epoch: number, id: string, seq: number, revision: number, entries: SnapshotEntry[], done: boolean }
  /**
   * "Send me your state, keys after `after`": the manager merges it before it replaces the
   * replica's (partition heal). `base` is the lineage and revision the manager's own store
   * started from: a replica of that lineage at or below that revision holds nothing the manager
   * lacks and answers with no entries.
   */
  | { t: 'pull', epoch: number, after?: string, base?: Lineage & { revision: number } }

/** Replica → manager. */
export type ReplicationReply =
  /** The replica durably holds everything up to `revision`. */
  | { t: 'ack', revision: number }
  /** The batch does not follow the replica's state (`revision`): send a snapshot. */
  | { t: 'gap', revision: number }
  /** Not accepted (not from the current manager, not a replica now, invalid data). */
  | { t: 'refused', reason: string }
  /**
   * Not accepted because the sender is not the manager any more: the replica knows a newer
   * epoch (`epoch`, above the request's), or another manager of the request's epoch that
   * supersedes it (`manager`, its peer id, null when no claim for `epoch` is known yet). The
   * sender must acknowledge nothing more and step down (docs/architecture.md, "Deposed managers").
   */
  | { t: 'stale', epoch: number, manager: string | null }
  /** A snapshot chunk other than the last was validated and staged. */
  | { t: 'received', id: string, seq: number }
  /**
   * Answer to `pull`: one chunk of the replica's state (keys after the pull's `after`, in key
   * order; `next` is the `after` of the next chunk, null on the last), or no entries when it
   * holds nothing the manager lacks (it follows this manager, or the manager's base lineage).
   */
  | {
    t: 'export', syncedEpoch: number, revision: number, entries: SnapshotEntry[], next: string | null
    /**
     * On the first chunk: keys this store wrote after its manager was replaced (never
     * acknowledged); the pulling manager keeps what they say as events, not applied.
     */
    unacked?: string[]
  }

/** "My replica is at `revision`", broadcast by every eligible agent when it changes. */
export interface ReplicaAnnouncement {
  t: 'replica'
  peerId: string
  revision: number
  /** The author's store awaits a snapshot after damage: rank it last, it will not claim. */
  awaiting?: true
}

/** Response of `GET /v1/replica`. */
export interface ReplicaStatus {
  /** `manager` when this agent runs the manager role, `replica` when it holds a replica, else `closed`. */
  role: 'manager' | 'replica' | 'closed'
  /** Revision of the store this agent holds (the manager's own store on the manager). */
  revision: number
  /** Epoch of the manager this replica last took a snapshot from (0: none yet). */
  syncedEpoch: number
  /**
   * True when this agent's store was found damaged, moved aside and waits for a snapshot
   * (the agent refuses the manager role until then); absent otherwise.
   */
  awaitingSnapshot?: true
}

/** A decode result; decoders never throw. */
export type Decoded<T> = { ok: true, value: T } | { ok: false, reason: string }

const MAX_KEY_LENGTH = 1024
const TRANSFER_ID = /^[A-Za-z0-9_-]{1,64}$/

function parse (bytes: Uint8Array, max: number): Decoded<Record<string, unknown>> {
  if (bytes.byteLength > max) return { ok: false, reason: `message of ${bytes.byteLength} bytes is too large` }
  let v: unknown
  try { v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) } catch { return { ok: false, reason: 'message is not UTF-8 JSON' } }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'message is not an object' }
  if (exceedsJsonDepth(v)) return { ok: false, reason: `message nests deeper than ${MAX_JSON_DEPTH} levels` }
  return { ok: true, value: v as Record<string, unknown> }
}

const isRevision = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
const isEpoch = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1
const isKey = (k: unknown): k is string => typeof k === 'string' && k.length > 0 && k.length <= MAX_KEY_LENGTH

/** Check a batch's shape (not its meaning: the store checks keys and values). */
export function checkBatch (v: unknown): Decoded<ReplicationBatch> {
  if (typeof v !== 'object' || v === null) return { ok: false, reason: 'batch is not an object' }
  const b = v as Record<string, unknown>
  if (!isRevision(b.revision) || b.revision < 1) return { ok: false, reason: 'batch.revision is not a positive integer' }
  if (!Array.isArray(b.ops)) return { ok: false, reason: 'batch.ops is not an array' }
  const ops: ReplicationOp[] = []
  for (const op of b.ops as unknown[]) {
    const o = op as Record<string, unknown> | null
    if (typeof o !== 'object' || o === null || !isKey(o.key)) return { ok: false, reason: 'batch op has no valid key' }
    if (o.type === 'put' && typeof o.value === 'string') ops.push({ type: 'put', key: o.key, value: o.value })
    else if (o.type === 'del') ops.push({ type: 'del', key: o.key })
    else return { ok: false, reason: `batch op on ${o.key} is neither a put with a string value nor a del` }
  }
  return { ok: true, value: { revision: b.revision, ops } }
}

function checkEntries (v: unknown): Decoded<SnapshotEntry[]> {
  if (!Array.isArray(v)) return { ok: false, reason: 'entries is not an array' }
  for (const e of v as unknown[]) {
    const entry = e as Record<string, unknown> | null
    if (typeof entry !== 'object' || entry === null || !isKey(entry.key) || !('value' in entry)) return { ok: false, reason: 'snapshot entry malformed' }
  }
  return { ok: true, value: v as SnapshotEntry[] }
}

/** Decode a manager → replica frame. */
export function decodeReplicationRequest (bytes: Uint8Array): Decoded<ReplicationRequest> {
  const p = parse(bytes, REPLICATION_FRAME_MAX_BYTES)
  if (!p.ok) return p
  const m = p.value
  if (!isEpoch(m.epoch)) return { ok: false, reason: 'epoch is not a positive integer' }
  if (m.t === 'batch') {
    const batch = checkBatch(m.batch)
    if (m.ack !== undefined && m.ack !== true) return { ok: false, reason: 'ack must be true when present' }
    return batch.ok ? { ok: true, value: { t: 'batch', epoch: m.epoch, batch: batch.value, ...(m.ack === true ? { ack: true as const } : {}) } } : batch
  }
  if (m.t === 'delta') {
    if (!Array.isArray(m.batches) || m.batches.length === 0) return { ok: false, reason: 'delta.batches is not a non-empty array' }
    const batches: ReplicationBatch[] = []
    for (const b of m.batches as unknown[]) {
      const batch = checkBatch(b)
      if (!batch.ok) return batch
      const prev = batches.at(-1)
      if (prev !== undefined && batch.value.revision !== prev.revision + 1) return { ok: false, reason: 'delta batches are not consecutive' }
      batches.push(batch.value)
    }
    return { ok: true, value: { t: 'delta', epoch: m.epoch, batches } }
  }
  if (m.t === 'chunk') {
    if (!isRevision(m.revision)) return { ok: false, reason: 'chunk.revision is not a non-negative integer' }
    if (typeof m.id !== 'string' || !TRANSFER_ID.test(m.id)) return { ok: false, reason: 'chunk.id malformed' }
    if (!isRevision(m.seq)) return { ok: false, reason: 'chunk.seq is not a non-negative integer' }
    if (typeof m.done !== 'boolean') return { ok: false, reason: 'chunk.done is not a boolean' }
    const entries = checkEntries(m.entries)
    return entries.ok ? { ok: true, value: { t: 'chunk', epoch: m.epoch, id: m.id, seq: m.seq, revision: m.revision, entries: entries.value, done: m.done } } : entries
  }
  if (m.t === 'pull') {
    if (m.after !== undefined && !isKey(m.after)) return { ok: false, reason: 'pull.after malformed' }
    let base: (Lineage & { revision: number }) | undefined
    if (m.base !== undefined) {
      const b = m.base as Record<string, unknown> | null
      if (typeof b !== 'object' || b === null || !isEpoch(b.epoch) || typeof b.peerId !== 'string' || !PEER_ID.test(b.peerId) || !isRevision(b.revision)) {
        return { ok: false, reason: 'pull.base malformed' }
      }
      base = { epoch: b.epoch, peerId: b.peerId, revision: b.revision }
    }
    return { ok: true, value: { t: 'pull', epoch: m.epoch, ...(m.after !== undefined ? { after: m.after } : {}), ...(base !== undefined ? { base } : {}) } }
  }
  return { ok: false, reason: 'unknown request type' }
}

/** Decode a replica → manager frame. */
export function decodeReplicationReply (bytes: Uint8Array): Decoded<ReplicationReply> {
  const p = parse(bytes, REPLICATION_FRAME_MAX_BYTES)
  if (!p.ok) return p
  const m = p.value
  if (m.t === 'export') {
    if (!isRevision(m.revision) || !isRevision(m.syncedEpoch)) return { ok: false, reason: 'export revision or syncedEpoch malformed' }
    if (m.next !== null && !isKey(m.next)) return { ok: false, reason: 'export.next malformed' }
    const entries = checkEntries(m.entries)
    if (!entries.ok) return entries
    if (m.unacked !== undefined && (!Array.isArray(m.unacked) || m.unacked.length > MAX_UNACKED_KEYS || !(m.unacked as unknown[]).every(isKey))) {
      return { ok: false, reason: 'export.unacked malformed' }
    }
    return { ok: true, value: { t: 'export', syncedEpoch: m.syncedEpoch, revision: m.revision, entries: entries.value, next: m.next, ...(m.unacked !== undefined ? { unacked: m.unacked as string[] } : {}) } }
  }
  if (bytes.byteLength > 4096) return { ok: false, reason: `reply of ${bytes.byteLength} bytes is too large` }
  if ((m.t === 'ack' || m.t === 'gap') && isRevision(m.revision)) return { ok: true, value: { t: m.t, revision: m.revision } }
  if (m.t === 'received' && typeof m.id === 'string' && TRANSFER_ID.test(m.id) && isRevision(m.seq)) return { ok: true, value: { t: 'received', id: m.id, seq: m.seq } }
  if (m.t === 'refused' && typeof m.reason === 'string') return { ok: true, value: { t: 'refused', reason: m.reason.slice(0, 500) } }
  if (m.t === 'stale' && isEpoch(m.epoch) && (m.manager === null || (typeof m.manager === 'string' && PEER_ID.test(m.manager)))) {
    return { ok: true, value: { t: 'stale', epoch: m.epoch, manager: m.manager } }
  }
  return { ok: false, reason: 'malformed reply' }
}

/** Split key-ordered entries into chunks of about `maxBytes` JSON bytes (at least one entry each). */
export function chunkEntries (entries: SnapshotEntry[], maxBytes: number = SNAPSHOT_CHUNK_BYTES): SnapshotEntry[][] {
  const chunks: SnapshotEntry[][] = []
  let current: SnapshotEntry[] = []
  let size = 0
  for (const e of entries) {
    const bytes = entryBytes(e)
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current)
      current = []
      size = 0
    }
    current.push(e)
    size += bytes
  }
  if (current.length > 0 || chunks.length === 0) chunks.push(current)
  return chunks
}

/** Approximate JSON size of one entry in a frame. */
export function entryBytes (e: SnapshotEntry): number {
  return e.key.length + (JSON.stringify(e.value)?.length ?? 4) + 20
}

/** Decode a replica announcement. */
export function decodeReplicaAnnouncement (bytes: Uint8Array): Decoded<ReplicaAnnouncement> {
  const p = parse(bytes, MAX_ANNOUNCEMENT_BYTES)
  if (!p.ok) return p
  const m = p.value
  if (m.t !== 'replica') return { ok: false, reason: 'not a replica announcement' }
  if (typeof m.peerId !== 'string' || !PEER_ID.test(m.peerId)) return { ok: false, reason: 'peerId malformed' }
  if (!isRevision(m.revision)) return { ok: false, reason: 'revision is not a non-negative integer' }
  if (m.awaiting !== undefined && m.awaiting !== true) return { ok: false, reason: 'awaiting must be true when present' }
  return { ok: true, value: { t: 'replica', peerId: m.peerId, revision: m.revision, ...(m.awaiting === true ? { awaiting: true } : {}) } }
}

/** Most keys an export's `unacked` list may name. */
export const MAX_UNACKED_KEYS = 10_000

/** Encode any replication message as a JSON frame. */
export function encodeReplicationMessage (msg: ReplicationRequest | ReplicationReply | ReplicaAnnouncement): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(msg))
}
