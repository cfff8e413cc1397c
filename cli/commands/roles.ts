/**
 * `clusterctl roles push DIR [-m MSG]` (`POST /v1/revisions`), `roles list`
 * (`GET /v1/revisions`), `roles show REV` (`GET /v1/revisions/:rev`) and `roles diff A B`
 * (`GET /v1/revisions/:rev/diff/:other`): configuration revisions held by the cluster. The
 * directory is read here, within the limits of protocol/revisions.ts (protocol/revision-dir.ts);
 * the manager runs roles.yaml's checks and stores it.
 */

import { hostname, userInfo } from 'node:os'
import { readRevisionDir } from '../../protocol/revision-dir.js'
import { MAX_REVISION_AUTHOR_LENGTH, type RevisionInfo, type RevisionSummary } from '../../protocol/revisions.js'
import { positiveInt } from '../arguments.js'
import type { ApiClient } from '../client.js'
import { usageError } from '../errors.js'
import { formatAge, formatOutput, renderTable, safe, type Column, type OutputFormat } from '../output.js'

/** Options of `clusterctl roles push`. */
export interface RolesPushOptions {
  message?: string
}

/** Options of the read verbs of `clusterctl roles`. */
export interface RolesReadOptions {
  output: OutputFormat
  /** Clock for CREATED; tests pin it. Default: now. */
  now?: Date
}

/** The revision number a command line gives. */
export function revisionArg (text: string | undefined, what = 'REV'): number {
  if (text === undefined) throw usageError(`${what}: a revision number is required`)
  return positiveInt(what, text, Number.MAX_SAFE_INTEGER)
}

/** Who pushes, as recorded with the revision (the API does not authenticate a person). */
function author (): string {
  let user = 'unknown'
  try { user = userInfo().username } catch {}
  return `${user}@${hostname()}`.slice(0, MAX_REVISION_AUTHOR_LENGTH)
}

/** Read `dir` and push it; prints the stored revision. */
export async function rolesPush (client: ApiClient, dir: string, opts: RolesPushOptions): Promise<string> {
  const read = await readRevisionDir(dir)
  if (!read.ok) throw usageError(`${dir} cannot be pushed: ${read.problems.join('; ')}`)
  const res = await client.pushRevision({
    files: read.files.map(f => ({ path: f.path, content: f.content.toString('base64') })),
    ...(opts.message !== undefined ? { message: opts.message } : {}),
    author: author()
  })
  const r = res.revision
  return res.created
    ? `revision ${r.revision} stored (${r.files.length} files, roles ${r.roles.join(', ')}, hash ${r.hash.slice(0, 12)})\n`
    : `unchanged: the directory equals the current revision ${r.revision} (hash ${r.hash.slice(0, 12)}); nothing stored\n`
}

function listColumns (now: Date, current: number | undefined): Array<Column<RevisionSummary>> {
  return [
    { header: 'REV', cell: r => `${r.revision}${r.revision === current ? '*' : ''}` },
    { header: 'HASH', cell: r => r.hash.slice(0, 12) },
    { header: 'CREATED', cell: r => formatAge(r.createdAt, now) },
    { header: 'AUTHOR', cell: r => r.author === '' ? '-' : r.author },
    { header: 'FILES', cell: r => String(r.fileCount) },
    { header: 'MESSAGE', cell: r => r.message === '' ? '-' : r.message.split('\n')[0] ?? '' }
  ]
}

/** Every revision; `*` marks the current (newest) one. */
export async function rolesList (client: ApiClient, opts: RolesReadOptions): Promise<string> {
  const list = await client.revisions()
  return formatOutput(opts.output, list, () => renderTable(listColumns(opts.now ?? new Date(), list.at(-1)?.revision), list))
}

/** One revision: what it is, its roles and files. */
export async function rolesShow (client: ApiClient, rev: string | undefined, opts: RolesReadOptions): Promise<string> {
  const r = await client.revision(revisionArg(rev))
  return formatOutput(opts.output, r, () => [
    `revision: ${r.revision}${r.current ? ' (current)' : ''}`,
    `hash:     ${r.hash}`,
    `created:  ${r.createdAt}`,
    `author:   ${safe(r.author === '' ? '-' : r.author)}`,
    `message:  ${safe(r.message === '' ? '-' : r.message)}`,
    `roles:    ${r.roles.join(', ')}`,
    '',
    renderTable([
      { header: 'FILE', cell: (f: RevisionInfo['files'][number]) => f.path },
      { header: 'SIZE', cell: f => String(f.size) },
      { header: 'SHA256', cell: f => f.sha256.slice(0, 12) }
    ], r.files)
  ].join('\n'))
}

/** What changed from revision A to B, file by file. */
export async function rolesDiff (client: ApiClient, a: string | undefined, b: string | undefined, opts: RolesReadOptions): Promise<string> {
  const d = await client.diffRevisions(revisionArg(a, 'A'), revisionArg(b, 'B'))
  return formatOutput(opts.output, d, () => {
    if (d.files.length === 0) return `revisions ${d.from} and ${d.to} hold the same files\n`
    const out: string[] = []
    for (const f of d.files) {
      out.push(`--- ${f.change === 'added' ? '/dev/null' : `r${d.from}/${f.path}`}`, `+++ ${f.change === 'removed' ? '/dev/null' : `r${d.to}/${f.path}`}`)
      if (f.binary === true) out.push(`binary file ${f.change}`)
      else out.push(...(f.lines ?? []).map(safe))
    }
    return out.join('\n') + '\n'
  })
}
