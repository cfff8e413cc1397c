/**
 * The backup file (`clusterctl backup FILE`, `clusterd store restore FILE`) and the stream the
 * manager's `GET /v1/backup` route sends. Pure: encoding and decoding only, no I/O.
 *
 * A backup file is UTF-8 text, one JSON value per line:
 *   1. the header: `{"format":"clusterd-backup","version":1,"revision":N,"createdAt":...,
 *      "source":{"peerId":...,"epoch":...}}` (the manager store revision of the snapshot);
 *   2. one line per store entry, `{"key":...,"value":...}`, in strictly ascending key order;
 *   3. the trailer: `{"end":true,"entries":K,"sha256":"<hex>"}`, the SHA-256 of every byte
 *      before it (header and entry lines, newlines included).
 * The trailer comes last so a writer can stream (one pass, constant memory) and a reader can
 * tell a truncated file (no trailer) from a damaged one (checksum or count wrong).
 *
 * Why a versioned, self-checking format rather than LevelDB's files: a backup leaves the
 * node (copied, archived, mailed), where bit rot and truncated copies happen; and it must
 * restore into whatever LevelDB version the restoring build uses.
 */

import { createHash, type Hash } from 'node:crypto'

/** The `format` field of every backup header. */
export const BACKUP_FORMAT = 'clusterd-backup'
/** The backup file version this build writes and reads. */
export const BACKUP_VERSION = 1

/** One manager store entry, as replication and backups carry it. */
export interface BackupEntry {
  key: string
  value: unknown
}

/** The manager whose store a backup snapshot was taken from. */
export interface BackupSource {
  peerId: string
  epoch: number
}

/** The first line of a backup file. */
export interface BackupHeader {
  format: typeof BACKUP_FORMAT
  version: typeof BACKUP_VERSION
  /** Manager store revision of the (consistent) snapshot. */
  revision: number
  /** When the snapshot was taken (ISO 8601). */
  createdAt: string
  source: BackupSource
}

/** The last line of a backup file. */
export interface BackupTrailer {
  end: true
  entries: number
  sha256: string
}

/** Why a backup file was refused: `foreign` is not ours (or another version), `damaged` fails its checks. */
export type BackupRefusal = { ok: false, kind: 'foreign' | 'damaged', reason: string }

/** A decoded, verified backup. */
export type DecodedBackup = { ok: true, header: BackupHeader, entries: BackupEntry[], sha256: string } | BackupRefusal

// ---- the GET /v1/backup stream ------------------------------------------------------------

/** First item of the backup stream: the snapshot's revision and its manager. */
export interface BackupStreamStart {
  backup: 'start'
  revision: number
  createdAt: string
  source: BackupSource
}

/** Last item of the backup stream: how many entries were sent (a shorter stream was cut). */
export interface BackupStreamEnd {
  backup: 'end'
  entries: number
}

/** Entries of the backup stream, in key order (a chunk of about BACKUP_CHUNK_BYTES). */
export interface BackupStreamEntries {
  backup: 'entries'
  entries: BackupEntry[]
}

/** One item of the backup stream: start, then chunks of entries, then end. */
export type BackupStreamItem = BackupStreamStart | BackupStreamEntries | BackupStreamEnd

/** About how many JSON bytes of entries one stream item carries (well under a forwarded frame's 4 MiB). */
export const BACKUP_CHUNK_BYTES = 256 * 1024

// ---- encoding -----------------------------------------------------------------------------

/**
 * Writes a backup file line by line: `header()` first, `entry()` per entry in key order,
 * `trailer()` last; each returns the exact text to append. Checks the key order, so a file it
 * produced always decodes.
 */
export class BackupEncoder {
  private readonly hash: Hash = createHash('sha256')
  private count = 0
  private lastKey: string | null = null
  private state: 'new' | 'body' | 'done' = 'new'

  /** The header line. */
  header (h: Omit<BackupHeader, 'format' | 'version'>): string {
    if (this.state !== 'new') throw new Error('backup header written twice')
    this.state = 'body'
    return this.add(JSON.stringify({ format: BACKUP_FORMAT, version: BACKUP_VERSION, revision: h.revision, createdAt: h.createdAt, source: h.source }))
  }

  /** One entry line. */
  entry (e: BackupEntry): string {
    if (this.state !== 'body') throw new Error('backup entry outside the body')
    if (this.lastKey !== null && e.key <= this.lastKey) throw new Error(`backup entries out of order at ${JSON.stringify(e.key)}`)
    const text = JSON.stringify({ key: e.key, value: e.value })
    this.lastKey = e.key
    this.count++
    return this.add(text)
  }

  /** The trailer line; nothing may follow it. */
  trailer (): string {
    if (this.state !== 'body') throw new Error('backup trailer without a header, or twice')
    this.state = 'done'
    const t: BackupTrailer = { end: true, entries: this.count, sha256: this.hash.digest('hex') }
    return JSON.stringify(t) + '\n'
  }

  /** Entries written so far. */
  get entries (): number { return this.count }

  private add (json: string): string {
    const line = json + '\n'
    this.hash.update(line, 'utf8')
    return line
  }
}

/** Encode a whole backup at once (tests, small stores). */
export function encodeBackup (h: Omit<BackupHeader, 'format' | 'version'>, entries: Iterable<BackupEntry>): string {
  const enc = new BackupEncoder()
  let out = enc.header(h)
  for (const e of entries) out += enc.entry(e)
  return out + enc.trailer()
}

// ---- decoding -----------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

function parseLine (line: string): unknown {
  try {
    return JSON.parse(line)
  } catch {
    return undefined
  }
}

/** Check a header line's value; the format and version first, so a foreign file is named as such. */
function checkHeader (v: unknown): { ok: true, header: BackupHeader } | BackupRefusal {
  if (!isObject(v) || v.format !== BACKUP_FORMAT) {
    return { ok: false, kind: 'foreign', reason: `not a clusterd backup (the first line has no "format":"${BACKUP_FORMAT}")` }
  }
  if (v.version !== BACKUP_VERSION) {
    return { ok: false, kind: 'foreign', reason: `backup version ${JSON.stringify(v.version)} is not supported; this build reads version ${BACKUP_VERSION}` }
  }
  const s = v.source
  if (!isCount(v.revision) || typeof v.createdAt !== 'string' || !isObject(s) || typeof s.peerId !== 'string' || !isCount(s.epoch)) {
    return { ok: false, kind: 'damaged', reason: 'the header lacks a valid revision, createdAt or source' }
  }
  return { ok: true, header: { format: BACKUP_FORMAT, version: BACKUP_VERSION, revision: v.revision, createdAt: v.createdAt, source: { peerId: s.peerId, epoch: s.epoch } } }
}

/**
 * Decode and verify a whole backup file. Never throws: a file that is not a clusterd backup,
 * or of another version, is `foreign`; a truncated file (no trailer), a checksum or entry
 * count that does not match, a line that is not JSON or entries out of order are `damaged`.
 * The store layout inside the entries is the restoring store's to check.
 */
export function decodeBackup (data: Buffer | string): DecodedBackup {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  const firstNl = buf.indexOf(0x0a)
  if (buf.length === 0) return { ok: false, kind: 'damaged', reason: 'the file is empty' }
  const header = checkHeader(parseLine(buf.subarray(0, firstNl < 0 ? buf.length : firstNl).toString('utf8')))
  if (!header.ok) return header
  if (buf[buf.length - 1] !== 0x0a) return { ok: false, kind: 'damaged', reason: 'the file is truncated (it does not end with a complete line)' }
  const lastStart = buf.lastIndexOf(0x0a, buf.length - 2) + 1
  if (lastStart <= firstNl) return { ok: false, kind: 'damaged', reason: 'the file is truncated (only a header)' }
  const trailer = parseLine(buf.subarray(lastStart, buf.length - 1).toString('utf8'))
  if (!isObject(trailer) || trailer.end !== true) return { ok: false, kind: 'damaged', reason: 'the file is truncated (its last line is not the end line)' }
  if (!isCount(trailer.entries) || typeof trailer.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(trailer.sha256)) {
    return { ok: false, kind: 'damaged', reason: 'the end line lacks a valid entry count or sha256' }
  }
  const sha256 = createHash('sha256').update(buf.subarray(0, lastStart)).digest('hex')
  if (sha256 !== trailer.sha256) return { ok: false, kind: 'damaged', reason: `checksum mismatch: the content hashes to ${sha256}, the end line says ${trailer.sha256}` }

  const entries: BackupEntry[] = []
  let previous: string | null = null
  let start = firstNl + 1
  while (start < lastStart) {
    const nl = buf.indexOf(0x0a, start)
    const v = parseLine(buf.subarray(start, nl).toString('utf8'))
    start = nl + 1
    if (!isObject(v) || typeof v.key !== 'string' || !('value' in v)) return { ok: false, kind: 'damaged', reason: `entry ${entries.length + 1} is not a {"key","value"} line` }
    if (previous !== null && v.key <= previous) return { ok: false, kind: 'damaged', reason: `entries out of order at ${JSON.stringify(v.key)}` }
    previous = v.key
    entries.push({ key: v.key, value: v.value })
  }
  if (entries.length !== trailer.entries) return { ok: false, kind: 'damaged', reason: `the end line counts ${trailer.entries} entries, the file holds ${entries.length}` }
  return { ok: true, header: header.header, entries, sha256 }
}

/** Classify one item of the backup stream; never throws. */
export function decodeStreamItem (v: unknown): { ok: true, item: BackupStreamItem } | { ok: false, reason: string } {
  if (!isObject(v)) return { ok: false, reason: 'a backup stream item is not an object' }
  if (v.backup === 'start') {
    const s = v.source
    if (!isCount(v.revision) || typeof v.createdAt !== 'string' || !isObject(s) || typeof s.peerId !== 'string' || !isCount(s.epoch)) {
      return { ok: false, reason: 'the backup stream start lacks a revision, createdAt or source' }
    }
    return { ok: true, item: { backup: 'start', revision: v.revision, createdAt: v.createdAt, source: { peerId: s.peerId, epoch: s.epoch } } }
  }
  if (v.backup === 'end') {
    if (!isCount(v.entries)) return { ok: false, reason: 'the backup stream end lacks an entry count' }
    return { ok: true, item: { backup: 'end', entries: v.entries } }
  }
  if (v.backup === 'entries' && Array.isArray(v.entries)) {
    const entries: BackupEntry[] = []
    for (const e of v.entries as unknown[]) {
      if (!isObject(e) || typeof e.key !== 'string' || !('value' in e)) return { ok: false, reason: 'a backup stream entry is not a {"key","value"} object' }
      entries.push({ key: e.key, value: e.value })
    }
    return { ok: true, item: { backup: 'entries', entries } }
  }
  return { ok: false, reason: 'a backup stream item is neither start, entry nor end' }
}
