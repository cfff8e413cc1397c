/**
 * Checks of stored revision entries (revision-table.ts): a header must be whole and match its
 * key and hash, a file's bytes must match their SHA-256. A replica checks every replicated
 * entry and an import every restored one, so a revision is never materialised from bad bytes.
 */
import { revisionHash, sha256Hex, type RevisionInfo } from '../../protocol/revisions.js'
import { PREFIX } from './constants.js'
import { revisionKey, stripPrefix } from './keys.js'

const SHA256 = /^[0-9a-f]{64}$/

/** Why a stored revision header is malformed, or undefined when it is fine. */
export function revisionInfoProblem (value: unknown, key?: string): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not an object'
  const v = value as Partial<RevisionInfo>
  if (typeof v.revision !== 'number' || !Number.isSafeInteger(v.revision) || v.revision < 1) return 'revision is not a positive integer'
  if (key !== undefined && key !== revisionKey(v.revision)) return `revision ${v.revision} stored under ${key}`
  if (typeof v.hash !== 'string' || !SHA256.test(v.hash)) return 'hash is not a SHA-256'
  if (typeof v.createdAt !== 'string' || typeof v.author !== 'string' || typeof v.message !== 'string') return 'createdAt, author or message is not text'
  if (!Array.isArray(v.roles) || !v.roles.every(r => typeof r === 'string')) return 'roles is not a list of names'
  if (!Array.isArray(v.files) || !v.files.every(f => f !== null && typeof f === 'object' && typeof f.path === 'string' &&
    typeof f.sha256 === 'string' && SHA256.test(f.sha256) && typeof f.size === 'number')) return 'files is malformed'
  if (revisionHash(v.files) !== v.hash) return 'hash does not match its files'
  return undefined
}

/**
 * Why a stored revision entry (header or blob) is malformed, or undefined when it is fine or
 * not a revision key: a replica and an import check every one, so a blob always matches its hash.
 */
export function revisionEntryProblem (key: string, value: unknown): string | undefined {
  if (key.startsWith(`${PREFIX.revisionBlob}!`)) {
    const sha = stripPrefix(key, PREFIX.revisionBlob)
    if (!SHA256.test(sha) || typeof value !== 'string') return `${key} is not a revision file`
    return sha256Hex(Buffer.from(value, 'base64')) === sha ? undefined : `${key} does not match its SHA-256`
  }
  if (key.startsWith(`${PREFIX.revision}!`)) {
    const p = revisionInfoProblem(value, key)
    return p === undefined ? undefined : `${key} is invalid: ${p}`
  }
  return undefined
}
