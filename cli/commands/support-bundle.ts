/**
 * `clusterctl support-bundle [-o FILE] [--force] [--max-agents N] [--concurrency N]
 * [--agent-timeout SECONDS]`: one tar.gz with what a maintainer needs to debug the cluster
 * (cli/support-bundle.ts says what). Progress goes to stderr; stdout gets one line naming the
 * file. The file (mode 0600) is written beside its final name and moved there once whole; an
 * existing file is replaced only with --force. Default name:
 * `clusterd-support-<node>-<UTC time>.tar.gz` in the working directory, `<node>` the agent asked.
 */

import { randomBytes } from 'node:crypto'
import { link, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { once } from 'node:events'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import { positiveInt } from '../arguments.js'
import type { ApiClient } from '../client.js'
import type { CommandContext } from '../context.js'
import { usageError } from '../errors.js'
import { secretValuesOfFile } from '../../protocol/redact.js'
import { COLLECT_DEFAULTS, collectSupportBundle, pathSegment, type BundleManifest, type CollectOptions, type ReadSecretFiles } from '../support-bundle.js'
import { tarDirectory, tarEnd, tarFile } from '../tar-writer.js'

/** Options of `clusterctl support-bundle`. */
export interface SupportBundleOptions {
  output?: string
  force?: boolean
  maxAgents?: string
  concurrency?: string
  agentTimeout?: string
}

/** What was written. */
export interface SupportBundleResult {
  file: string
  files: number
  bytes: number
  manifest: BundleManifest
}

/** `20261206T131001Z`: a UTC time for file names. */
export function fileTime (d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '')
}

function collectOptions (opts: SupportBundleOptions): CollectOptions {
  return {
    ...COLLECT_DEFAULTS,
    ...(opts.maxAgents !== undefined ? { maxAgents: positiveInt('--max-agents', opts.maxAgents, 100_000) } : {}),
    ...(opts.concurrency !== undefined ? { concurrency: positiveInt('--concurrency', opts.concurrency, 64) } : {}),
    ...(opts.agentTimeout !== undefined ? { agentTimeoutMs: positiveInt('--agent-timeout', opts.agentTimeout, 600) * 1000 } : {})
  }
}

/** Read secret files on this machine (a file missing or not readable is reported, not fatal). */
export const readSecrets: ReadSecretFiles = async paths => {
  const values: string[] = []
  const unreadable: string[] = []
  for (const p of paths) {
    const text = await readFile(p, 'utf8').catch(() => null)
    if (text === null) unreadable.push(p)
    else values.push(...secretValuesOfFile(text))
  }
  return { values, unreadable }
}

/** Write the bundle; the line says where, and how many agents answered. */
export async function supportBundle (client: ApiClient, opts: SupportBundleOptions, ctx: CommandContext): Promise<string> {
  const r = await writeSupportBundle(client, opts, ctx)
  const a = r.manifest.agents
  return `support bundle written to ${r.file} (${r.files} files, ${r.bytes} bytes; agents: ${a.answered.length} of ${a.asked.length} answered, ${a.notAsked.count} not asked, ${a.notLive.count} not live)\n`
}

/** Collect and write the bundle file; exported for tests that read the file. */
export async function writeSupportBundle (client: ApiClient, opts: SupportBundleOptions, ctx: CommandContext): Promise<SupportBundleResult> {
  const options = collectOptions(opts)
  if (opts.output === '') throw usageError('-o: name the bundle FILE to write')
  const force = opts.force === true
  if (opts.output !== undefined && !force && await stat(opts.output).then(() => true, () => false)) {
    throw usageError(`${opts.output} exists; use --force to replace it, or name another file`)
  }
  const started = new Date()
  const progress = (text: string): void => { ctx.warn(`support-bundle: ${text}`) }
  progress('local agent: diagnostics')
  const local = await client.diagnostics()
  const top = `clusterd-support-${pathSegment(local.node)}-${fileTime(started)}`
  const target = resolve(opts.output ?? `${top}.tar.gz`)
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  const handle = await open(tmp, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw usageError(`cannot create ${target}: ${err.message}`)
  })
  const gzip = createGzip()
  const out = handle.createWriteStream()
  const done = pipeline(gzip, out)
  // A failed write ends the pipeline at once; wait on it, not on a drain that never comes.
  done.catch(() => {})
  let files = 0
  const push = async (bytes: Buffer): Promise<void> => {
    if (!gzip.write(bytes)) await Promise.race([once(gzip, 'drain'), done])
  }
  try {
    const mode = { mtime: started }
    await push(tarDirectory({ path: top, mode: 0o700, ...mode }))
    const dirs = new Set<string>()
    const manifest = await collectSupportBundle(client, async file => {
      // Directories first, so `tar -x` creates them 0700 whatever the umask.
      const parts = file.path.split('/').slice(0, -1)
      for (let i = 1; i <= parts.length; i++) {
        const dir = parts.slice(0, i).join('/')
        if (!dirs.has(dir)) { dirs.add(dir); await push(tarDirectory({ path: `${top}/${dir}`, mode: 0o700, ...mode })) }
      }
      await push(tarFile({ path: `${top}/${file.path}`, mode: 0o600, ...mode }, file.data))
      files++
    }, options, progress, { local, readSecrets })
    gzip.end(tarEnd())
    await done
    const bytes = (await stat(tmp)).size
    if (force) {
      await rename(tmp, target)
    } else {
      // link() refuses an existing name: a file that appeared meanwhile is not replaced.
      await link(tmp, target).catch((err: NodeJS.ErrnoException) => {
        throw usageError(err.code === 'EEXIST' ? `${target} exists; use --force to replace it` : `cannot write ${target}: ${err.message}`)
      })
      await rm(tmp, { force: true })
    }
    return { file: opts.output ?? basename(target), files, bytes, manifest }
  } catch (err) {
    gzip.destroy()
    await done.catch(() => {})
    await rm(tmp, { force: true }).catch(() => {})
    throw err
  } finally {
    await handle.close().catch(() => {})
  }
}
