/**
 * The cluster SSH CA key as the agent reads it to attest manager eligibility
 * (eligibility-attestation.ts): an unencrypted OpenSSH private key holding one Ed25519 key
 * ("openssh-key-v1", what `ssh-keygen -t ed25519 -N ''` writes) and its `ssh-ed25519 <base64>`
 * public line. Both decoders never throw: they return a reason naming what is wrong, never
 * key material, so the agent can refuse to start with a clear error.
 */

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'

/** A decoded key, or why the text is not one. */
export type KeyResult<T> = { ok: true, value: T } | { ok: false, reason: string }

/** An Ed25519 key pair from an OpenSSH private key file. */
export interface SshEd25519PrivateKey {
  /** The 32-byte public key. */
  publicKey: Uint8Array
  /** The private key as node:crypto signs with it. */
  key: KeyObject
}

const MAGIC = 'openssh-key-v1\0'
const PEM_BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----'
const PEM_END = '-----END OPENSSH PRIVATE KEY-----'
/** A CA key file is a few hundred bytes; anything much larger is not one. */
const MAX_KEY_TEXT = 16 * 1024

/** Reads SSH wire strings (uint32 length + bytes) from a buffer; null past the end. */
class SshReader {
  private at = 0
  constructor (private readonly buf: Buffer) {}
  u32 (): number | null {
    if (this.at + 4 > this.buf.length) return null
    const v = this.buf.readUInt32BE(this.at)
    this.at += 4
    return v
  }

  string (): Buffer | null {
    const len = this.u32()
    if (len === null || this.at + len > this.buf.length) return null
    const v = this.buf.subarray(this.at, this.at + len)
    this.at += len
    return v
  }

  rest (): Buffer { return this.buf.subarray(this.at) }
}

function fail<T> (reason: string): KeyResult<T> { return { ok: false, reason } }

function b64url (b: Uint8Array): string { return Buffer.from(b).toString('base64url') }

/** Decode an `ssh-ed25519` public key blob (string type, string key). */
function decodePublicBlob (blob: Buffer): KeyResult<Uint8Array> {
  const r = new SshReader(blob)
  const type = r.string()
  if (type === null) return fail('the public key blob is truncated')
  if (type.toString('latin1') !== 'ssh-ed25519') return fail(`the key is ${JSON.stringify(type.toString('latin1').slice(0, 32))}, not ssh-ed25519`)
  const key = r.string()
  if (key === null || key.length !== 32 || r.rest().length !== 0) return fail('the ssh-ed25519 public key is not 32 bytes')
  return { ok: true, value: new Uint8Array(key) }
}

/** Parse a public key line `ssh-ed25519 <base64> [comment]` (the first line of an ssh-ca.pub). */
export function parseSshEd25519PublicKey (text: string): KeyResult<Uint8Array> {
  if (text.length > MAX_KEY_TEXT) return fail('the public key file is too large to be an SSH public key')
  const line = text.split(/\r?\n/).find(l => l.trim() !== '' && !l.trimStart().startsWith('#'))
  if (line === undefined) return fail('the public key file is empty')
  const [type, data] = line.trim().split(/\s+/)
  if (type !== 'ssh-ed25519') return fail(`the public key is ${JSON.stringify((type ?? '').slice(0, 32))}, not ssh-ed25519`)
  if (data === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(data)) return fail('the public key is not base64')
  return decodePublicBlob(Buffer.from(data, 'base64'))
}

/** Parse an unencrypted OpenSSH private key file holding exactly one Ed25519 key. */
export function parseSshEd25519PrivateKey (text: string): KeyResult<SshEd25519PrivateKey> {
  if (text.length > MAX_KEY_TEXT) return fail('the key file is too large to be an SSH private key')
  const begin = text.indexOf(PEM_BEGIN)
  const end = text.indexOf(PEM_END)
  if (begin < 0 || end < begin) {
    return fail(text.includes('PRIVATE KEY-----') ? 'the key is not in the OpenSSH format (convert it with ssh-keygen -p -f FILE)' : 'the file is not an OpenSSH private key')
  }
  const body = text.slice(begin + PEM_BEGIN.length, end).replace(/\s+/g, '')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) return fail('the key body is not base64')
  const bin = Buffer.from(body, 'base64')
  if (bin.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) return fail('the key does not start with openssh-key-v1')
  const r = new SshReader(bin.subarray(MAGIC.length))
  const cipher = r.string()
  const kdf = r.string()
  const kdfOptions = r.string()
  const count = r.u32()
  if (cipher === null || kdf === null || kdfOptions === null || count === null) return fail('the key header is truncated')
  if (cipher.toString('latin1') !== 'none' || kdf.toString('latin1') !== 'none') return fail('the key is encrypted (a passphrase); the agent needs an unencrypted key (ssh-keygen -p -N \'\' -f FILE)')
  if (count !== 1) return fail(`the file holds ${count} keys, not one`)
  const pubBlob = r.string()
  if (pubBlob === null) return fail('the key\'s public part is truncated')
  const pub = decodePublicBlob(pubBlob)
  if (!pub.ok) return pub
  const priv = r.string()
  if (priv === null || r.rest().length !== 0) return fail('the key\'s private part is truncated or followed by extra bytes')
  const p = new SshReader(priv)
  const check1 = p.u32()
  const check2 = p.u32()
  // Equal check words are how OpenSSH tells a correct decryption; unencrypted, they must match.
  if (check1 === null || check2 === null || check1 !== check2) return fail('the key\'s check words differ (damaged key)')
  const type = p.string()
  const pub2 = p.string()
  const secret = p.string()
  const comment = p.string()
  if (type === null || pub2 === null || secret === null || comment === null) return fail('the key\'s private part is truncated')
  if (type.toString('latin1') !== 'ssh-ed25519') return fail('the private key is not ssh-ed25519')
  // OpenSSH stores the 32-byte seed followed by the public key.
  if (secret.length !== 64 || !pub2.equals(Buffer.from(pub.value)) || !secret.subarray(32).equals(pub2)) return fail('the private key does not match its public key')
  const padding = p.rest()
  if (padding.length >= 8 || !padding.every((b, i) => b === i + 1)) return fail('the key\'s padding is malformed')
  let key: KeyObject
  try {
    key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(secret.subarray(0, 32)), x: b64url(pub.value) }, format: 'jwk' })
  } catch {
    return fail('node:crypto refused the Ed25519 key')
  }
  // The JWK's x is not checked against d by every OpenSSL: derive it and compare.
  const derived = createPublicKey(key).export({ format: 'jwk' }).x
  if (derived !== b64url(pub.value)) return fail('the private key does not match its public key')
  return { ok: true, value: { publicKey: pub.value, key } }
}
