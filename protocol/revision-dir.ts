/**
 * Reading a playbook directory as a configuration revision, with the bounds of
 * protocol/revisions.ts: `clusterctl roles push DIR` reads it client-side, and the first
 * manager of a cluster reads its configured playbook directory this way to store revision 1,
 * so both apply the same rules. Regular files only; a symbolic link is read only when it
 * resolves to a regular file inside the directory; hidden entries (`.git`, editor files) are
 * skipped. Never throws for what it finds: it returns every problem.
 */

import { lstat, open, readdir, realpath, stat } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import {
  MAX_REVISION_BYTES, MAX_REVISION_FILES, MAX_REVISION_FILE_BYTES, MAX_REVISION_PATH_DEPTH, revisionPathProblem
} from './revisions.js'

/** A file read from the directory: its `/`-separated relative path and bytes. */
export interface RevisionDirFile { path: string, content: Buffer }

/** What reading a directory gave: the files in path order, or every problem found. */
export type RevisionDirResult = { ok: true, files: RevisionDirFile[] } | { ok: false, problems: string[] }

/** Read `dir` as a revision within the limits; `signal` stops it between files. */
export async function readRevisionDir (dir: string, options: { signal?: AbortSignal } = {}): Promise<RevisionDirResult> {
  let root: string
  try {
    root = await realpath(dir)
    if (!(await stat(root)).isDirectory()) return { ok: false, problems: [`${dir} is not a directory`] }
  } catch (err: any) {
    return { ok: false, problems: [`cannot read ${dir}: ${String(err?.code ?? err?.message ?? err)}`] }
  }
  const problems: string[] = []
  const files: RevisionDirFile[] = []
  let total = 0
  const walk = async (abs: string, depth: number): Promise<void> => {
    const names = (await readdir(abs)).filter(n => !n.startsWith('.')).sort()
    for (const name of names) {
      options.signal?.throwIfAborted()
      if (problems.length >= 20) return
      const path = join(abs, name)
      const rel = relative(root, path).split(sep).join('/')
      const l = await lstat(path)
      let target = path
      if (l.isSymbolicLink()) {
        target = await realpath(path).catch(() => '')
        const inside = target !== '' && relative(root, target) !== '' && !relative(root, target).startsWith('..') && !relative(root, target).startsWith(sep)
        if (!inside) { problems.push(`${rel} is a symbolic link that does not resolve inside the directory`); continue }
      }
      const s = await stat(target)
      if (s.isDirectory() && !l.isSymbolicLink()) {
        if (depth + 1 >= MAX_REVISION_PATH_DEPTH) { problems.push(`${rel}/ is nested deeper than ${MAX_REVISION_PATH_DEPTH} levels`); continue }
        await walk(path, depth + 1)
        continue
      }
      if (!s.isFile()) { problems.push(`${rel} is not a regular file`); continue }
      const pathProblem = revisionPathProblem(rel)
      if (pathProblem !== undefined) { problems.push(`${rel}: ${pathProblem}`); continue }
      if (files.length >= MAX_REVISION_FILES) { problems.push(`more than ${MAX_REVISION_FILES} files`); return }
      if (s.size > MAX_REVISION_FILE_BYTES) { problems.push(`${rel} has ${s.size} bytes, more than ${MAX_REVISION_FILE_BYTES}`); continue }
      if (total + s.size > MAX_REVISION_BYTES) { problems.push(`the files add up to more than ${MAX_REVISION_BYTES} bytes`); return }
      const content = await readAtMost(target, MAX_REVISION_FILE_BYTES)
      if (content === null) { problems.push(`${rel} grew past ${MAX_REVISION_FILE_BYTES} bytes while being read`); continue }
      total += content.byteLength
      files.push({ path: rel, content })
    }
  }
  try {
    await walk(root, 0)
  } catch (err: any) {
    if (err?.name === 'AbortError') throw err
    problems.push(`cannot read ${dir}: ${String(err?.code ?? err?.message ?? err)}`)
  }
  if (problems.length > 0) return { ok: false, problems }
  if (files.length === 0) return { ok: false, problems: [`${dir} holds no files`] }
  return { ok: true, files: files.sort((a, b) => a.path < b.path ? -1 : 1) }
}

/** The file's bytes, or null when it holds more than `max` (it may change while read). */
async function readAtMost (path: string, max: number): Promise<Buffer | null> {
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.alloc(max + 1)
    let n = 0
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n)
      if (bytesRead === 0) break
      n += bytesRead
    }
    return n > max ? null : buf.subarray(0, n)
  } finally {
    await fh.close()
  }
}
