/**
 * The little MessagePack the Serf RPC protocol needs: encode maps of strings and unsigned
 * integers (request headers and bodies), decode anything (responses), and tell a truncated
 * buffer apart from a bad one, because responses arrive over a TCP stream in arbitrary chunks.
 */

/** Thrown by `decode` when the buffer ends inside a value: wait for more bytes. */
export class IncompleteError extends Error {
  constructor () {
    super('incomplete msgpack value')
    this.name = 'IncompleteError'
  }
}

/** A value this encoder accepts. */
export type PackValue = string | number | boolean | null | PackValue[] | { [key: string]: PackValue }

/** Encodes `value` (strings, non-negative integers, booleans, null, arrays, plain objects). */
export function encode (value: PackValue): Buffer {
  const parts: Buffer[] = []
  const put = (v: PackValue): void => {
    if (v === null) {
      parts.push(Buffer.from([0xc0]))
    } else if (typeof v === 'boolean') {
      parts.push(Buffer.from([v ? 0xc3 : 0xc2]))
    } else if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`only uint32 is supported, got ${v}`)
      if (v < 0x80) parts.push(Buffer.from([v]))
      else if (v < 0x100) parts.push(Buffer.from([0xcc, v]))
      else if (v < 0x10000) { const b = Buffer.alloc(3); b[0] = 0xcd; b.writeUInt16BE(v, 1); parts.push(b) } else { const b = Buffer.alloc(5); b[0] = 0xce; b.writeUInt32BE(v, 1); parts.push(b) }
    } else if (typeof v === 'string') {
      const s = Buffer.from(v, 'utf8')
      if (s.length < 32) parts.push(Buffer.from([0xa0 | s.length]))
      else if (s.length < 0x100) parts.push(Buffer.from([0xd9, s.length]))
      else { const b = Buffer.alloc(3); b[0] = 0xda; b.writeUInt16BE(s.length, 1); parts.push(b) }
      parts.push(s)
    } else if (Array.isArray(v)) {
      if (v.length >= 16) throw new RangeError('arrays of 16+ items are not needed here')
      parts.push(Buffer.from([0x90 | v.length]))
      for (const item of v) put(item)
    } else {
      const entries = Object.entries(v)
      if (entries.length >= 16) throw new RangeError('maps of 16+ entries are not needed here')
      parts.push(Buffer.from([0x80 | entries.length]))
      for (const [k, item] of entries) { put(k); put(item) }
    }
  }
  put(value)
  return Buffer.concat(parts)
}

/** Decodes one value at `offset`; returns it and the offset after it. Throws `IncompleteError` on a short buffer. */
export function decode (buf: Buffer, offset = 0): { value: unknown, next: number } {
  let pos = offset
  const need = (n: number): void => { if (pos + n > buf.length) throw new IncompleteError() }
  const u8 = (): number => { need(1); return buf.readUInt8(pos++) }
  const bytes = (n: number): Buffer => { need(n); const b = buf.subarray(pos, pos + n); pos += n; return b }
  const uint = (n: 1 | 2 | 4 | 8): number => {
    need(n)
    const v = n === 1 ? buf.readUInt8(pos) : n === 2 ? buf.readUInt16BE(pos) : n === 4 ? buf.readUInt32BE(pos) : Number(buf.readBigUInt64BE(pos))
    pos += n
    return v
  }
  const int = (n: 1 | 2 | 4 | 8): number => {
    need(n)
    const v = n === 1 ? buf.readInt8(pos) : n === 2 ? buf.readInt16BE(pos) : n === 4 ? buf.readInt32BE(pos) : Number(buf.readBigInt64BE(pos))
    pos += n
    return v
  }
  const array = (n: number): unknown[] => Array.from({ length: n }, () => read())
  const map = (n: number): Record<string, unknown> => {
    const out: Record<string, unknown> = {}
    for (let i = 0; i < n; i++) {
      const k = read()
      out[typeof k === 'string' ? k : String(k)] = read()
    }
    return out
  }
  const read = (): unknown => {
    const t = u8()
    if (t < 0x80) return t
    if (t < 0x90) return map(t & 0x0f)
    if (t < 0xa0) return array(t & 0x0f)
    if (t < 0xc0) return bytes(t & 0x1f).toString('utf8')
    if (t >= 0xe0) return t - 0x100
    switch (t) {
      case 0xc0: return null
      case 0xc2: return false
      case 0xc3: return true
      // Serf sends net.IP as bin/raw bytes: keep them as a Buffer.
      case 0xc4: return Buffer.from(bytes(uint(1)))
      case 0xc5: return Buffer.from(bytes(uint(2)))
      case 0xc6: return Buffer.from(bytes(uint(4)))
      case 0xca: { need(4); const v = buf.readFloatBE(pos); pos += 4; return v }
      case 0xcb: { need(8); const v = buf.readDoubleBE(pos); pos += 8; return v }
      case 0xcc: return uint(1)
      case 0xcd: return uint(2)
      case 0xce: return uint(4)
      case 0xcf: return uint(8)
      case 0xd0: return int(1)
      case 0xd1: return int(2)
      case 0xd2: return int(4)
      case 0xd3: return int(8)
      case 0xd9: return bytes(uint(1)).toString('utf8')
      case 0xda: return bytes(uint(2)).toString('utf8')
      case 0xdb: return bytes(uint(4)).toString('utf8')
      case 0xdc: return array(uint(2))
      case 0xdd: return array(uint(4))
      case 0xde: return map(uint(2))
      case 0xdf: return map(uint(4))
      default: throw new Error(`unsupported msgpack type 0x${t.toString(16)}`)
    }
  }
  const value = read()
  return { value, next: pos }
}
