/**
 * Codec of the digest push-pull (`/clusterd/sync/3.0.0`, agent/membership/core/digest.ts):
 * three length-prefixed frames on one stream.
 *
 * Layout (big-endian; str8 = u8 length + printable ASCII, as in swim-wire.ts):
 *   1. digest = u8 version(1) u8 flags(join) str8 from, u32 n, (str8 id, u32 incarnation,
 *               u8 status)*n, u32 m, (str8 key, u32 version)*m
 *   2. reply  = u8 version(1) u32 w, (str8 id)*w, u32 k, (str8 key)*k, then a push-pull state
 *               (swim-wire.ts `sync`): the entries the initiator lacks or holds older
 *   3. push   = a push-pull state (swim-wire.ts `sync`): the entries the reply asked for
 * A digest entry is ~58 bytes (a 52-character peer id) where a full entry carries the signed
 * record too (~300-700 bytes). Every count is checked against the bytes left before looping;
 * nothing trails; decoders never throw.
 */

import type { DigestMember, DigestReply, SyncDigest } from './swim-messages.js'
import {
  Bad, MAX_ID_BYTES, MAX_SYNC_BYTES, MAX_SYNC_MEMBERS, MAX_SYNC_USER, MAX_USER_KEY_BYTES, Reader, STATUS, Writer,
  decodeSyncState, encodeSyncState, guard, syncStateSize, type SwimDecodeResult
} from './swim-wire.js'

/** Version byte of the digest frames. */
export const DIGEST_WIRE_VERSION = 1
/** Largest digest frame: 65,536 members with the longest ids, as many keys (~17 MiB). */
export const MAX_DIGEST_BYTES = 8 + MAX_SYNC_MEMBERS * (1 + MAX_ID_BYTES + 5) + MAX_SYNC_USER * (1 + MAX_USER_KEY_BYTES + 4)
/** Largest reply frame: its wants (bounded like a digest) and a push-pull state. */
export const MAX_DIGEST_REPLY_BYTES = MAX_DIGEST_BYTES + MAX_SYNC_BYTES

/** Encoded size of a digest. */
export function digestSize (d: SyncDigest): number {
  let n = 2 + 1 + d.from.length + 4 + 4
  for (const m of d.members) n += 1 + m.id.length + 5
  for (const u of d.user) n += 1 + u.key.length + 4
  return n
}

/** Encoded size of a digest reply. */
export function digestReplySize (r: DigestReply): number {
  let n = 1 + 4 + 4
  for (const id of r.wantMembers) n += 1 + id.length
  for (const key of r.wantUser) n += 1 + key.length
  return n + syncStateSize(r.state)
}

/** Encode a digest. Throws only on a value no decoder would accept (a bug of the caller). */
export function encodeDigest (d: SyncDigest): Uint8Array {
  const w = new Writer(digestSize(d))
  w.u8(DIGEST_WIRE_VERSION); w.u8(d.join ? 1 : 0); w.str8(d.from)
  w.u32(d.members.length)
  for (const m of d.members) { w.str8(m.id); w.u32(m.incarnation); w.u8(STATUS.indexOf(m.status)) }
  w.u32(d.user.length)
  for (const u of d.user) { w.str8(u.key); w.u32(u.version) }
  return w.buf
}

/** Encode a digest reply (its state with swim-wire.ts's push-pull encoding). */
export function encodeDigestReply (r: DigestReply): Uint8Array {
  const state = encodeSyncState(r.state)
  const w = new Writer(digestReplySize(r))
  w.u8(DIGEST_WIRE_VERSION)
  w.u32(r.wantMembers.length)
  for (const id of r.wantMembers) w.str8(id)
  w.u32(r.wantUser.length)
  for (const key of r.wantUser) w.str8(key)
  w.buf.set(state, w.off)
  return w.buf
}

/** Decode a digest; never throws. `max` defaults to MAX_DIGEST_BYTES. */
export function decodeDigest (bytes: Uint8Array, max = MAX_DIGEST_BYTES): SwimDecodeResult<SyncDigest> {
  if (bytes.byteLength > max) return { ok: false, reason: `digest of ${bytes.byteLength} bytes exceeds ${max}` }
  return guard(() => {
    const r = new Reader(bytes)
    const version = r.u8('version')
    if (version !== DIGEST_WIRE_VERSION) throw new Bad(`unsupported digest version ${version}`)
    const flags = r.u8('flags')
    if ((flags & ~1) !== 0) throw new Bad('digest flags has unknown bits')
    const from = r.str8('from', MAX_ID_BYTES)
    const n = r.u32('member count')
    // An entry takes at least 7 bytes: refuse a count the remaining bytes cannot hold.
    if (n > MAX_SYNC_MEMBERS || n * 7 > r.left) throw new Bad(`member count ${n} is out of bounds`)
    const members: DigestMember[] = []
    for (let i = 0; i < n; i++) {
      const id = r.str8('member id', MAX_ID_BYTES)
      const incarnation = r.u32('member incarnation')
      const s = r.u8('member status')
      const status = STATUS[s]
      if (status === undefined) throw new Bad(`unknown member status ${s}`)
      members.push({ id, incarnation, status })
    }
    const m = r.u32('user count')
    if (m > MAX_SYNC_USER || m * 6 > r.left) throw new Bad(`user count ${m} is out of bounds`)
    const user: Array<{ key: string, version: number }> = []
    for (let i = 0; i < m; i++) {
      const key = r.str8('user key', MAX_USER_KEY_BYTES)
      user.push({ key, version: r.u32('user version') })
    }
    if (r.left !== 0) throw new Bad(`${r.left} trailing bytes`)
    return { from, members, user, join: (flags & 1) !== 0 }
  })
}

/** Decode a digest reply; never throws. `max` defaults to MAX_DIGEST_REPLY_BYTES. */
export function decodeDigestReply (bytes: Uint8Array, max = MAX_DIGEST_REPLY_BYTES): SwimDecodeResult<DigestReply> {
  if (bytes.byteLength > max) return { ok: false, reason: `digest reply of ${bytes.byteLength} bytes exceeds ${max}` }
  const head = guard(() => {
    const r = new Reader(bytes)
    const version = r.u8('version')
    if (version !== DIGEST_WIRE_VERSION) throw new Bad(`unsupported digest reply version ${version}`)
    const w = r.u32('wanted member count')
    if (w > MAX_SYNC_MEMBERS || w * 2 > r.left) throw new Bad(`wanted member count ${w} is out of bounds`)
    const wantMembers: string[] = []
    for (let i = 0; i < w; i++) wantMembers.push(r.str8('wanted id', MAX_ID_BYTES))
    const k = r.u32('wanted key count')
    if (k > MAX_SYNC_USER || k * 2 > r.left) throw new Bad(`wanted key count ${k} is out of bounds`)
    const wantUser: string[] = []
    for (let i = 0; i < k; i++) wantUser.push(r.str8('wanted key', MAX_USER_KEY_BYTES))
    return { wantMembers, wantUser, off: r.off }
  })
  if (!head.ok) return head
  const state = decodeSyncState(bytes.subarray(head.value.off))
  if (!state.ok) return { ok: false, reason: `reply state: ${state.reason}` }
  return { ok: true, value: { state: state.value, wantMembers: head.value.wantMembers, wantUser: head.value.wantUser } }
}
