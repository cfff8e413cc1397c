/**
 * Sealing and opening of cluster datagrams: pure functions over bytes and keys (no sockets,
 * no clocks, no state), so every property of the wire format is unit-testable.
 *
 * Wire format (all integers big-endian):
 *
 *     0      version (1 byte, DGRAM_VERSION)
 *     1      sender id (16 bytes, random per process)
 *     17     counter (8 bytes, < 2^53, never repeated by one sender)
 *     25     timestamp (8 bytes, the sender's wall clock in ms)
 *     33     ciphertext (payload length)
 *     end-16 Poly1305 tag
 *
 * The cipher is ChaCha20-Poly1305 (RFC 8439) under a per-sender key
 * HKDF-SHA256(ikm = cluster secret, salt = sender id, info = DGRAM_HKDF_INFO_SENDER), with the
 * 12-byte nonce 0x00000000 || counter. The whole 33-byte header is the additional
 * authenticated data, so a changed version, sender id, counter or timestamp fails the tag.
 * A (key, nonce) pair is never reused: the key is unique to a process's random sender id and
 * the counter is unique within the process.
 */

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import {
  DGRAM_HEADER_LENGTH,
  DGRAM_HKDF_INFO_SENDER,
  DGRAM_OVERHEAD,
  DGRAM_SENDER_ID_LENGTH,
  DGRAM_TAG_LENGTH,
  DGRAM_VERSION,
  SECRET_LENGTH
} from './constants.js'

/** The authenticated header of a sealed datagram. */
export interface DatagramHeader {
  /** The sending process's random id ({@link DGRAM_SENDER_ID_LENGTH} bytes). */
  senderId: Uint8Array
  /** The sender's datagram counter: an integer in [0, 2^53), unique per sender id. */
  counter: number
  /** The sender's wall clock when sealing, ms since the epoch. */
  timestamp: number
}

/** A datagram whose framing is sound; not yet authenticated (see {@link openDatagram}). */
export interface ParsedDatagram {
  header: DatagramHeader
  /** The sender id as a string key (latin1 of its bytes), for maps. */
  senderKey: string
  /** The raw header bytes: the additional authenticated data. */
  aad: Uint8Array
  ciphertext: Uint8Array
  tag: Uint8Array
}

/** What {@link parseDatagram} returns: the parts, or why the bytes are not a datagram. */
export type ParseResult =
  | { ok: true, datagram: ParsedDatagram }
  | { ok: false, reason: 'malformed', detail: string }

const NONCE_LENGTH = 12
const TWO_POW_32 = 2 ** 32
/** The high word of an 8-byte integer that still fits in a safe JS integer. */
const MAX_SAFE_HIGH_WORD = Math.floor(Number.MAX_SAFE_INTEGER / TWO_POW_32)
const OFFSET_SENDER = 1
const OFFSET_COUNTER = OFFSET_SENDER + DGRAM_SENDER_ID_LENGTH
const OFFSET_TIMESTAMP = OFFSET_COUNTER + 8

/** A fresh random sender id for this process (16 bytes from the OS CSPRNG). */
export function newSenderId (): Uint8Array {
  return new Uint8Array(randomBytes(DGRAM_SENDER_ID_LENGTH))
}

/** The ChaCha20-Poly1305 key of one sender: HKDF-SHA256(secret, salt = sender id). */
export function deriveSenderKey (secret: Uint8Array, senderId: Uint8Array): Buffer {
  if (!(secret instanceof Uint8Array) || secret.byteLength !== SECRET_LENGTH) {
    throw new TypeError(`datagram keys need the raw ${SECRET_LENGTH}-byte cluster secret, got ${secret instanceof Uint8Array ? `${secret.byteLength} bytes` : typeof secret}`)
  }
  if (senderId.byteLength !== DGRAM_SENDER_ID_LENGTH) {
    throw new TypeError(`a sender id is ${DGRAM_SENDER_ID_LENGTH} bytes, got ${senderId.byteLength}`)
  }
  return Buffer.from(hkdfSync('sha256', secret, senderId, DGRAM_HKDF_INFO_SENDER, 32))
}

/** The sender id as a Map key (latin1 keeps one char per byte, so no two ids collide). */
export function senderKeyOf (senderId: Uint8Array): string {
  return Buffer.from(senderId.buffer, senderId.byteOffset, senderId.byteLength).toString('latin1')
}

/**
 * Seals `payload` under `key` (the sender's own key from {@link deriveSenderKey}). Returns
 * the datagram as parts (header, ciphertext, tag) for a gather write; `Buffer.concat` them
 * for one buffer. Throws on a header the format cannot carry (a bug in the caller).
 */
export function sealDatagram (key: Uint8Array, header: DatagramHeader, payload: Uint8Array): Buffer[] {
  if (header.senderId.byteLength !== DGRAM_SENDER_ID_LENGTH) {
    throw new TypeError(`a sender id is ${DGRAM_SENDER_ID_LENGTH} bytes, got ${header.senderId.byteLength}`)
  }
  assertUint53('counter', header.counter)
  assertUint53('timestamp', header.timestamp)

  const head = Buffer.allocUnsafe(DGRAM_HEADER_LENGTH)
  head[0] = DGRAM_VERSION
  head.set(header.senderId, OFFSET_SENDER)
  writeUint64(head, OFFSET_COUNTER, header.counter)
  writeUint64(head, OFFSET_TIMESTAMP, header.timestamp)

  const cipher = createCipheriv('chacha20-poly1305', key, nonceFor(head), { authTagLength: DGRAM_TAG_LENGTH })
  cipher.setAAD(head, { plaintextLength: payload.byteLength })
  const first = cipher.update(payload)
  const last = cipher.final()
  const ciphertext = last.byteLength === 0 ? first : Buffer.concat([first, last])
  return [head, ciphertext, cipher.getAuthTag()]
}

/**
 * Splits received bytes into header, ciphertext and tag, checking only the framing (length,
 * version, integer ranges). Never throws. Nothing here is authentic until
 * {@link openDatagram} succeeds.
 */
export function parseDatagram (bytes: Uint8Array): ParseResult {
  if (bytes.byteLength < DGRAM_OVERHEAD) {
    return { ok: false, reason: 'malformed', detail: `${bytes.byteLength} bytes is shorter than the ${DGRAM_OVERHEAD}-byte header and tag` }
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf[0] !== DGRAM_VERSION) {
    return { ok: false, reason: 'malformed', detail: `unknown datagram version ${buf[0]} (this agent speaks ${DGRAM_VERSION})` }
  }
  const counter = readUint53(buf, OFFSET_COUNTER)
  if (counter === null) return { ok: false, reason: 'malformed', detail: 'counter beyond 2^53' }
  const timestamp = readUint53(buf, OFFSET_TIMESTAMP)
  if (timestamp === null) return { ok: false, reason: 'malformed', detail: 'timestamp beyond 2^53' }
  const senderId = buf.subarray(OFFSET_SENDER, OFFSET_COUNTER)
  return {
    ok: true,
    datagram: {
      header: { senderId, counter, timestamp },
      senderKey: buf.toString('latin1', OFFSET_SENDER, OFFSET_COUNTER),
      aad: buf.subarray(0, DGRAM_HEADER_LENGTH),
      ciphertext: buf.subarray(DGRAM_HEADER_LENGTH, buf.byteLength - DGRAM_TAG_LENGTH),
      tag: buf.subarray(buf.byteLength - DGRAM_TAG_LENGTH)
    }
  }
}

/**
 * Authenticates and decrypts a parsed datagram under the key of its claimed sender. Returns
 * the payload, or null when the tag does not verify (another secret, a forgery, a flipped
 * bit). Never throws on bad input.
 */
export function openDatagram (key: Uint8Array, datagram: ParsedDatagram): Uint8Array | null {
  const decipher = createDecipheriv('chacha20-poly1305', key, nonceFor(datagram.aad), { authTagLength: DGRAM_TAG_LENGTH })
  decipher.setAAD(datagram.aad, { plaintextLength: datagram.ciphertext.byteLength })
  decipher.setAuthTag(datagram.tag)
  // update() hands out plaintext before the tag is checked: nothing leaves until final() passes
  const first = decipher.update(datagram.ciphertext)
  try {
    const last = decipher.final()
    return last.byteLength === 0 ? first : Buffer.concat([first, last])
  } catch {
    return null
  }
}

/** 0x00000000 || the counter bytes of the header: unique per (key, datagram). */
function nonceFor (head: Uint8Array): Buffer {
  const nonce = Buffer.alloc(NONCE_LENGTH)
  nonce.set(head.subarray(OFFSET_COUNTER, OFFSET_COUNTER + 8), NONCE_LENGTH - 8)
  return nonce
}

function assertUint53 (what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`datagram ${what} must be an integer in [0, 2^53), got ${value}`)
  }
}

function writeUint64 (buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_POW_32), offset)
  buf.writeUInt32BE(value >>> 0, offset + 4)
}

function readUint53 (buf: Buffer, offset: number): number | null {
  const high = buf.readUInt32BE(offset)
  if (high > MAX_SAFE_HIGH_WORD) return null
  return high * TWO_POW_32 + buf.readUInt32BE(offset + 4)
}
