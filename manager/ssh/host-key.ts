/**
 * Pinned SSH host keys: validation of the `HostKey` a node reports in its signed facts, and
 * the exact comparison both ssh paths (OpenSSH via known_hosts, ssh2 via hostVerifier) use.
 */
import type { HostKey } from '../../protocol/members.js'

/** Key types clusterd pins; DSA and certificates are refused. */
export const HOST_KEY_TYPES: ReadonlySet<string> = new Set([
  'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'
])

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/**
 * Why `key` is not a usable pinned host key, or undefined. Besides the type and base64 shape
 * this reads the type name embedded in the blob: a mismatch means the fact was mangled.
 */
export function hostKeyProblem (key: unknown): string | undefined {
  if (key === null || typeof key !== 'object') return 'not an object'
  const { type, key: blob } = key as Partial<HostKey>
  if (typeof type !== 'string' || !HOST_KEY_TYPES.has(type)) return `unsupported key type ${JSON.stringify(type)}`
  if (typeof blob !== 'string' || blob.length < 16 || blob.length > 4096 || !BASE64.test(blob)) return 'key is not base64'
  const raw = Buffer.from(blob, 'base64')
  if (raw.length < 4) return 'key blob too short'
  const len = raw.readUInt32BE(0)
  if (raw.length < 4 + len || raw.subarray(4, 4 + len).toString('latin1') !== type) {
    return `key blob does not hold a ${type} key`
  }
  return undefined
}

/** The raw key blob as it travels in the SSH handshake. */
export function hostKeyBlob (key: HostKey): Buffer {
  return Buffer.from(key.key, 'base64')
}

/** True when the server key presented in the handshake equals one of the pinned keys. */
export function matchesPinned (presented: Buffer, pinned: readonly HostKey[]): boolean {
  return pinned.some(k => {
    const blob = hostKeyBlob(k)
    return blob.length === presented.length && blob.equals(presented)
  })
}

/** One known_hosts line binding `hostPattern` to `key`. */
export function knownHostsLine (hostPattern: string, key: HostKey): string {
  return `${hostPattern} ${key.type} ${key.key}`
}
