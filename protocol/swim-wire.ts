/**
 * SWIM datagram and push-pull state codec (binary). Binary rather than JSON because:
 * records are opaque signed bytes (JSON would base64 them, +33 %, and a datagram budget of
 * 1,400 bytes holds about one signed record either way, so every byte counts); seq,
 * incarnation and version are fixed u32 fields, so the [0, 2^32) bound is structural; and
 * sizes are computable without encoding, which the broadcast queue needs to pack a datagram.
 *
 * Layout (big-endian; str8 = u8 length + ASCII bytes; bytes16 = u16 length + bytes):
 *   datagram = u8 version(1) u8 type, then
 *     ping      u32 seq, str8 from, str8 target, gossip
 *     ack       u32 seq, str8 from, gossip
 *     ping-req  u32 seq, str8 from, str8 target, str8 host, u16 port, gossip
 *     nack      u32 seq, str8 from
 *     gossip    str8 from, gossip
 *   gossip    = u16 count, broadcast*
 *   broadcast = u8 kind, then
 *     alive     info = str8 id, str8 name, u32 incarnation, str8 host, u16 port, u8 flags, bytes16 record
 *     suspect   str8 id, u32 incarnation, str8 from         (dead: the same)
 *     user      str8 key, u32 version, bytes16 data
 *   sync      = u8 version(1) u8 flags(join) str8 from (empty = null), u32 n, (info u8 status u32 incarnation)*n,
 *               u32 m, (str8 key, u32 version, u32 length, bytes)*m
 * Strings are printable ASCII (0x21-0x7e; names and hosts narrower): ids are base58, names
 * DNS labels, hosts IP literals or DNS names. Nothing is trailing. Decoders never throw.
 */

import { NODE_NAME_PATTERN } from './names.js'
import type { AliveInfo, Broadcast, Datagram, Endpoint, MemberStatus, SyncMember, SyncState, UserBroadcast } from './swim-messages.js'

/** Codec version byte. */
export const SWIM_WIRE_VERSION = 1
/** Default byte budget for a datagram packed with piggybacked broadcasts. */
export const DATAGRAM_BUDGET = 1400
/** Hard maximum of one datagram (an oversized alive goes alone up to this). */
export const MAX_DATAGRAM_BYTES = 60 * 1024
/** Hard maximum of one push-pull state (10,000 members with ~3 KiB records fit). */
export const MAX_SYNC_BYTES = 48 * 1024 * 1024
/** Most members in one push-pull state. */
export const MAX_SYNC_MEMBERS = 65_536
/** Most user broadcast keys in one push-pull state. */
export const MAX_SYNC_USER = 65_536
/** Longest member id, user key, host; longest name. */
export const MAX_ID_BYTES = 128
export const MAX_USER_KEY_BYTES = 128
export const MAX_HOST_BYTES = 255
export const MAX_NAME_BYTES = 64
/** Largest record or user payload carried in a broadcast. */
export const MAX_PAYLOAD_BYTES = MAX_DATAGRAM_BYTES - 512

const TYPE = { ping: 1, ack: 2, 'ping-req': 3, nack: 4, gossip: 5 } as const
const KIND = { alive: 1, suspect: 2, dead: 3, user: 4 } as const
/** Member statuses by their wire code. */
export const STATUS: readonly MemberStatus[] = ['alive', 'suspect', 'failed', 'left']
const HOST_RE = /^[A-Za-z0-9.:_-]{1,255}$/

/** Result of a decoder. */
export type SwimDecodeResult<T> = { ok: true, value: T } | { ok: false, reason: string }

// ---- sizes (no encoding needed) ----

/** Encoded size of an endpoint's host and port. */
function endpointSize (e: Endpoint): number { return 1 + e.host.length + 2 }

/** Encoded size of an AliveInfo. */
export function aliveInfoSize (i: AliveInfo): number {
  return 1 + i.id.length + 1 + i.name.length + 4 + endpointSize(i.addr) + 1 + 2 + i.record.byteLength
}

/** Encoded size of one broadcast inside a datagram's gossip section. */
export function broadcastSize (b: Broadcast): number {
  switch (b.t) {
    case 'alive': return 1 + aliveInfoSize(b.info)
    case 'suspect': case 'dead': return 1 + 1 + b.id.length + 4 + 1 + b.from.length
    case 'user': return 1 + 1 + b.key.length + 4 + 2 + b.data.byteLength
  }
}

/** Encoded size of a datagram without its gossip (the header the budget must leave room for). */
export function datagramHeaderSize (d: Datagram): number {
  const base = 2 + 1 + d.from.length
  switch (d.t) {
    case 'ping': return base + 4 + 1 + d.target.length + 2
    case 'ack': return base + 4 + 2
    case 'ping-req': return base + 4 + 1 + d.target.length + endpointSize(d.targetAddr) + 2
    case 'nack': return base + 4
    case 'gossip': return base + 2
  }
}

/** Encoded size of a whole datagram. */
export function datagramSize (d: Datagram): number {
  let n = datagramHeaderSize(d)
  if (d.t !== 'nack') for (const b of d.gossip) n += broadcastSize(b)
  return n
}

// ---- encoding ----

/** Bounded big-endian writer (the digest codec, swim-digest-wire.ts, shares it). */
export class Writer {
  readonly buf: Uint8Array
  private readonly view: DataView
  off = 0
  constructor (size: number) {
    this.buf = new Uint8Array(size)
    this.view = new DataView(this.buf.buffer)
  }

  u8 (n: number): void { this.view.setUint8(this.off, n); this.off += 1 }
  u16 (n: number): void { this.view.setUint16(this.off, n); this.off += 2 }
  u32 (n: number): void {
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) throw new RangeError(`not a u32: ${n}`)
    this.view.setUint32(this.off, n); this.off += 4
  }

  str8 (s: string): void {
    if (s.length > 255) throw new RangeError('string longer than 255')
    this.u8(s.length)
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c < 0x21 || c > 0x7e) throw new RangeError('string is not printable ASCII')
      this.buf[this.off++] = c
    }
  }

  bytes (b: Uint8Array, wide: boolean): void {
    if (wide) this.u32(b.byteLength)
    else {
      if (b.byteLength > 0xffff) throw new RangeError('payload longer than 65535')
      this.u16(b.byteLength)
    }
    this.buf.set(b, this.off); this.off += b.byteLength
  }
}

function writeEndpoint (w: Writer, e: Endpoint): void { w.str8(e.host); w.u16(e.port) }

function writeInfo (w: Writer, i: AliveInfo): void {
  w.str8(i.id); w.str8(i.name); w.u32(i.incarnation); writeEndpoint(w, i.addr)
  w.u8((i.eligible ? 1 : 0) | (i.left ? 2 : 0)); w.bytes(i.record, false)
}

function writeBroadcast (w: Writer, b: Broadcast): void {
  w.u8(KIND[b.t])
  switch (b.t) {
    case 'alive': writeInfo(w, b.info); break
    case 'suspect': case 'dead': w.str8(b.id); w.u32(b.incarnation); w.str8(b.from); break
    case 'user': w.str8(b.key); w.u32(b.version); w.bytes(b.data, false); break
  }
}

/** Encode a datagram. Throws only on a value no decoder would accept (a bug of the caller). */
export function encodeDatagram (d: Datagram): Uint8Array {
  const w = new Writer(datagramSize(d))
  w.u8(SWIM_WIRE_VERSION); w.u8(TYPE[d.t])
  if (d.t !== 'gossip') w.u32(d.seq)
  w.str8(d.from)
  if (d.t === 'ping' || d.t === 'ping-req') w.str8(d.target)
  if (d.t === 'ping-req') writeEndpoint(w, d.targetAddr)
  if (d.t !== 'nack') {
    w.u16(d.gossip.length)
    for (const b of d.gossip) writeBroadcast(w, b)
  }
  return w.buf
}

/** Encoded size of a push-pull state. */
export function syncStateSize (s: SyncState): number {
  let n = 2 + 1 + (s.from ?? '').length + 4 + 4
  for (const m of s.members) n += aliveInfoSize(m.info) + 1 + 4
  for (const u of s.user) n += 1 + u.key.length + 4 + 4 + u.data.byteLength
  return n
}

/** Encode a push-pull state. */
export function encodeSyncState (s: SyncState): Uint8Array {
  const w = new Writer(syncStateSize(s))
  w.u8(SWIM_WIRE_VERSION); w.u8(s.join ? 1 : 0)
  if (s.from === null) w.u8(0)
  else w.str8(s.from)
  w.u32(s.members.length)
  for (const m of s.members) { writeInfo(w, m.info); w.u8(STATUS.indexOf(m.status)); w.u32(m.incarnation) }
  w.u32(s.user.length)
  for (const u of s.user) { w.str8(u.key); w.u32(u.version); w.bytes(u.data, true) }
  return w.buf
}

// ---- decoding ----

/** A decoder's expected refusal (the reason goes back as a value, never thrown out). */
export class Bad extends Error {}

/** Bounds-checked big-endian reader (throws Bad, caught by `guard`). */
export class Reader {
  private readonly view: DataView
  off = 0
  constructor (private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  get left (): number { return this.buf.byteLength - this.off }
  need (n: number, what: string): void { if (this.left < n) throw new Bad(`truncated ${what}`) }
  u8 (what: string): number { this.need(1, what); return this.view.getUint8(this.off++) }
  u16 (what: string): number { this.need(2, what); const v = this.view.getUint16(this.off); this.off += 2; return v }
  u32 (what: string): number { this.need(4, what); const v = this.view.getUint32(this.off); this.off += 4; return v }

  str8 (what: string, max: number, min = 1): string {
    const n = this.u8(what)
    if (n < min || n > max) throw new Bad(`${what} length ${n} not in [${min}, ${max}]`)
    this.need(n, what)
    let s = ''
    for (let i = 0; i < n; i++) {
      const c = this.buf[this.off + i] as number
      if (c < 0x21 || c > 0x7e) throw new Bad(`${what} is not printable ASCII`)
      s += String.fromCharCode(c)
    }
    this.off += n
    return s
  }

  bytes (what: string, wide: boolean, max: number): Uint8Array {
    const n = wide ? this.u32(what) : this.u16(what)
    if (n > max) throw new Bad(`${what} of ${n} bytes exceeds ${max}`)
    this.need(n, what)
    // A copy: the result must not pin (or alias) the receive buffer.
    const out = this.buf.slice(this.off, this.off + n)
    this.off += n
    return out
  }
}

function readEndpoint (r: Reader, what: string): Endpoint {
  const host = r.str8(`${what} host`, MAX_HOST_BYTES)
  if (!HOST_RE.test(host)) throw new Bad(`${what} host is malformed`)
  const port = r.u16(`${what} port`)
  if (port === 0) throw new Bad(`${what} port is 0`)
  return { host, port }
}

function readInfo (r: Reader): AliveInfo {
  const id = r.str8('info id', MAX_ID_BYTES)
  const name = r.str8('info name', MAX_NAME_BYTES)
  if (!NODE_NAME_PATTERN.test(name)) throw new Bad('info name is not a valid node name')
  const incarnation = r.u32('info incarnation')
  const addr = readEndpoint(r, 'info addr')
  const flags = r.u8('info flags')
  if ((flags & ~3) !== 0) throw new Bad('info flags has unknown bits')
  const record = r.bytes('info record', false, MAX_PAYLOAD_BYTES)
  return { id, name, incarnation, addr, eligible: (flags & 1) !== 0, record, left: (flags & 2) !== 0 }
}

function readBroadcast (r: Reader): Broadcast {
  const kind = r.u8('broadcast kind')
  switch (kind) {
    case KIND.alive: return { t: 'alive', info: readInfo(r) }
    case KIND.suspect: case KIND.dead: {
      const id = r.str8('claim id', MAX_ID_BYTES)
      const incarnation = r.u32('claim incarnation')
      const from = r.str8('claim from', MAX_ID_BYTES)
      return { t: kind === KIND.suspect ? 'suspect' : 'dead', id, incarnation, from }
    }
    case KIND.user: {
      const key = r.str8('user key', MAX_USER_KEY_BYTES)
      const version = r.u32('user version')
      const data = r.bytes('user data', false, MAX_PAYLOAD_BYTES)
      return { t: 'user', key, version, data }
    }
    default: throw new Bad(`unknown broadcast kind ${kind}`)
  }
}

function readGossip (r: Reader): Broadcast[] {
  const n = r.u16('gossip count')
  // Every broadcast takes at least 8 bytes: a count beyond that is a lie, refuse before looping.
  if (n * 8 > r.left) throw new Bad(`gossip count ${n} exceeds what ${r.left} bytes can hold`)
  const out: Broadcast[] = []
  for (let i = 0; i < n; i++) out.push(readBroadcast(r))
  return out
}

/** Run a decoder: a value, or the reason it refused (never throws). */
export function guard<T> (fn: () => T): SwimDecodeResult<T> {
  try {
    return { ok: true, value: fn() }
  } catch (err) {
    // Bad is the expected refusal; anything else would be a bug here, still not a crash there.
    return { ok: false, reason: err instanceof Bad ? err.message : `decoder error: ${(err as Error).message}` }
  }
}

/** Decode a datagram; never throws. `max` defaults to MAX_DATAGRAM_BYTES. */
export function decodeDatagram (bytes: Uint8Array, max = MAX_DATAGRAM_BYTES): SwimDecodeResult<Datagram> {
  if (bytes.byteLength > max) return { ok: false, reason: `datagram of ${bytes.byteLength} bytes exceeds ${max}` }
  return guard(() => {
    const r = new Reader(bytes)
    const version = r.u8('version')
    if (version !== SWIM_WIRE_VERSION) throw new Bad(`unsupported datagram version ${version}`)
    const type = r.u8('type')
    let d: Datagram
    if (type === TYPE.gossip) {
      const from = r.str8('from', MAX_ID_BYTES)
      d = { t: 'gossip', from, gossip: readGossip(r) }
    } else {
      const seq = r.u32('seq')
      const from = r.str8('from', MAX_ID_BYTES)
      switch (type) {
        case TYPE.ping: { const target = r.str8('target', MAX_ID_BYTES); d = { t: 'ping', seq, from, target, gossip: readGossip(r) }; break }
        case TYPE.ack: d = { t: 'ack', seq, from, gossip: readGossip(r) }; break
        case TYPE['ping-req']: {
          const target = r.str8('target', MAX_ID_BYTES)
          const targetAddr = readEndpoint(r, 'target')
          d = { t: 'ping-req', seq, from, target, targetAddr, gossip: readGossip(r) }
          break
        }
        case TYPE.nack: d = { t: 'nack', seq, from }; break
        default: throw new Bad(`unknown datagram type ${type}`)
      }
    }
    if (r.left !== 0) throw new Bad(`${r.left} trailing bytes`)
    return d
  })
}

/** Decode a push-pull state; never throws. `max` defaults to MAX_SYNC_BYTES. */
export function decodeSyncState (bytes: Uint8Array, max = MAX_SYNC_BYTES): SwimDecodeResult<SyncState> {
  if (bytes.byteLength > max) return { ok: false, reason: `sync state of ${bytes.byteLength} bytes exceeds ${max}` }
  return guard(() => {
    const r = new Reader(bytes)
    const version = r.u8('version')
    if (version !== SWIM_WIRE_VERSION) throw new Bad(`unsupported sync version ${version}`)
    const flags = r.u8('flags')
    if ((flags & ~1) !== 0) throw new Bad('sync flags has unknown bits')
    const fromStr = r.str8('from', MAX_ID_BYTES, 0)
    const n = r.u32('member count')
    // An info takes at least 20 bytes: refuse a count the remaining bytes cannot hold.
    if (n > MAX_SYNC_MEMBERS || n * 20 > r.left) throw new Bad(`member count ${n} is out of bounds`)
    const members: SyncMember[] = []
    for (let i = 0; i < n; i++) {
      const info = readInfo(r)
      const s = r.u8('member status')
      const status = STATUS[s]
      if (status === undefined) throw new Bad(`unknown member status ${s}`)
      members.push({ info, status, incarnation: r.u32('member incarnation') })
    }
    const m = r.u32('user count')
    if (m > MAX_SYNC_USER || m * 10 > r.left) throw new Bad(`user count ${m} is out of bounds`)
    const user: UserBroadcast[] = []
    for (let i = 0; i < m; i++) {
      const key = r.str8('user key', MAX_USER_KEY_BYTES)
      const version = r.u32('user version')
      user.push({ key, version, data: r.bytes('user data', true, MAX_PAYLOAD_BYTES) })
    }
    if (r.left !== 0) throw new Bad(`${r.left} trailing bytes`)
    return { from: fromStr === '' ? null : fromStr, members, user, join: (flags & 1) !== 0 }
  })
}
