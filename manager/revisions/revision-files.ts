/**
 * Revision files on the manager's disk: a pushed body decoded within the limits, and a stored
 * revision materialised under `<data dir>/revisions/<hash>/` (written beside it, checked, then
 * renamed into place), so ansible-runner reads a directory whose content is the revision's
 * hash. A directory found there is re-hashed before each use and rewritten when it differs.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { ClusterdError } from '../../protocol/errors.js'
import { readRevisionDir, type RevisionDirFile } from '../../protocol/revision-dir.js'
import {
  MAX_REVISION_AUTHOR_LENGTH, MAX_REVISION_BYTES, MAX_REVISION_FILES, MAX_REVISION_FILE_BYTES, MAX_REVISION_MESSAGE_LENGTH,
  revisionHash, revisionPathProblem, sha256Hex, type RevisionInfo
} from '../../protocol/revisions.js'

/** A push body, decoded. */
export interface DecodedPush { files: RevisionDirFile[], message: string, author: string }

function invalid (message: string): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', message)
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Check a `POST /v1/revisions` body; throws CLUSTERD_ERR_INVALID_ARGUMENT naming the first problem. */
export function decodePush (body: unknown): DecodedPush {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('request body must be a JSON object')
  const o = body as Record<string, unknown>
  const extra = Object.keys(o).filter(k => !['files', 'message', 'author'].includes(k))
  if (extra.length > 0) throw invalid(`unknown field(s) ${extra.join(', ')}; allowed: files, message, author`)
  if (!Array.isArray(o.files) || o.files.length === 0 || o.files.length > MAX_REVISION_FILES) throw invalid(`files must be a list of 1 to ${MAX_REVISION_FILES} files`)
  const text = (v: unknown, field: string, max: number): string => {
    if (v === undefined) return ''
    if (typeof v !== 'string' || v.length > max || /[\p{Cc}]/u.test(v.replace(/\n/g, ''))) throw invalid(`${field} must be printable text of at most ${max} characters`)
    return v
  }
  const files: RevisionDirFile[] = []
  const seen = new Set<string>()
  let total = 0
  for (const f of o.files as unknown[]) {
    const file = f as Record<string, unknown> | null
    if (file === null || typeof file !== 'object') throw invalid('each file must be {path, content}')
    const problem = revisionPathProblem(file.path)
    if (problem !== undefined) throw invalid(`file ${JSON.stringify(file.path)}: ${problem}`)
    const path = file.path as string
    if (seen.has(path)) throw invalid(`file ${path} is listed twice`)
    seen.add(path)
    if (typeof file.content !== 'string' || file.content.length % 4 !== 0 || !BASE64.test(file.content)) throw invalid(`file ${path}: content must be base64`)
    const content = Buffer.from(file.content, 'base64')
    if (content.byteLength > MAX_REVISION_FILE_BYTES) throw invalid(`file ${path} has ${content.byteLength} bytes, more than ${MAX_REVISION_FILE_BYTES}`)
    total += content.byteLength
    if (total > MAX_REVISION_BYTES) throw invalid(`the files add up to more than ${MAX_REVISION_BYTES} bytes`)
    files.push({ path, content })
  }
  // A file and a directory of the same name cannot both exist on disk.
  for (const p of seen) {
    if ([...seen].some(q => q.startsWith(`${p}/`))) throw invalid(`${p} is both a file and a directory`)
  }
  return { files, message: text(o.message, 'message', MAX_REVISION_MESSAGE_LENGTH), author: text(o.author, 'author', MAX_REVISION_AUTHOR_LENGTH) }
}

/** Write `files` into a new directory `dir` (which must not exist), 0700/0600. */
export async function writeFiles (dir: string, files: RevisionDirFile[]): Promise<void> {
  await mkdir(dir, { recursive: false, mode: 0o700 })
  for (const f of files) {
    const path = join(dir, ...f.path.split('/'))
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    await writeFile(path, f.content, { mode: 0o600, flag: 'wx' })
  }
}

/** A fresh name beside `base` for a directory being written (removed if anything fails). */
export function scratchDir (base: string): string {
  return join(base, `.tmp-${randomBytes(6).toString('hex')}`)
}

/** True when `dir` holds exactly the revision whose hash is `hash`. */
export async function holdsRevision (dir: string, hash: string): Promise<boolean> {
  const read = await readRevisionDir(dir)
  return read.ok && revisionHash(read.files.map(f => ({ path: f.path, sha256: sha256Hex(f.content) }))) === hash
}

/**
 * The directory holding `info`'s files, `<base>/<hash>`: used as is when its content hashes to
 * the revision's hash, else written from the store's blobs (each checked) and moved into place.
 */
export async function materialise (base: string, info: RevisionInfo, readBlob: (sha256: string) => Promise<Buffer | undefined>): Promise<string> {
  const dir = join(base, info.hash)
  if (await holdsRevision(dir, info.hash)) return dir
  await mkdir(base, { recursive: true, mode: 0o700 })
  const files: RevisionDirFile[] = []
  for (const f of info.files) {
    const content = await readBlob(f.sha256)
    if (content === undefined) throw new ClusterdError('CLUSTERD_ERR_STORE_CORRUPT', `revision ${info.revision} lacks the content of ${f.path} (${f.sha256})`)
    files.push({ path: f.path, content })
  }
  const scratch = scratchDir(base)
  try {
    await writeFiles(scratch, files)
    await rm(dir, { recursive: true, force: true })
    await rename(scratch, dir)
  } catch (err) {
    await rm(scratch, { recursive: true, force: true })
    // Another job materialised the same revision meanwhile: theirs is as good.
    if (await holdsRevision(dir, info.hash)) return dir
    throw err
  }
  return dir
}
