/**
 * Agent release archives as the manager finds them: `clusterd-VERSION-HASH.tar.gz` (one installed
 * tree under its id VERSION-HASH/, written by scripts/release.sh) with its SHA-256 in
 * `<archive>.sha256` beside it (sha256sum's format). The manager reads only the name and the
 * checksum file; the node checks the copied archive against that checksum before unpacking it
 * (playbooks/agent-upgrade.yml).
 */

import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, isAbsolute, join } from 'node:path'
import { ClusterdError } from '../../protocol/errors.js'

/** A release the manager can ship: where it is, its tree id, version and checksum. */
export interface AgentRelease {
  /** Absolute path of the archive on the manager's node. */
  path: string
  /** The tree id, VERSION-HASH: the archive's top directory and PREFIX/versions/<tree> on a node. */
  tree: string
  version: string
  /** Lower-case hex SHA-256 of the archive, from its .sha256 file. */
  sha256: string
}

/** An archive name: version (letters, digits, `.+-`) then the 12-hex tree hash. */
const RELEASE_NAME = /^clusterd-(([0-9A-Za-z][0-9A-Za-z.+-]{0,63})-([0-9a-f]{12}))\.tar\.gz$/
const SHA256_LINE = /^([0-9a-f]{64}) [ *](\S+)\n?$/
/** A checksum file is one line; anything longer is not one. */
const MAX_SHA256_FILE = 1024

/** The tree id and version an archive name carries, or why it is not a release name. */
export function parseReleaseName (name: string): { tree: string, version: string } | { reason: string } {
  const m = RELEASE_NAME.exec(name)
  if (m === null) return { reason: `"${name}" is not a release archive name (clusterd-VERSION-HASH.tar.gz, as npm run release writes)` }
  return { tree: m[1] as string, version: m[2] as string }
}

/** The checksum a `.sha256` file gives for `name`, or why it gives none. */
export function parseChecksumFile (text: string, name: string): { sha256: string } | { reason: string } {
  const m = SHA256_LINE.exec(text)
  if (m === null) return { reason: 'the checksum file is not one sha256sum line' }
  if (m[2] !== name) return { reason: `the checksum file is for ${JSON.stringify(m[2])}, not ${name}` }
  return { sha256: m[1] as string }
}

function invalid (message: string): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', message)
}

/** Read the release at `path` (absolute, on this node) and its checksum file. Throws CLUSTERD_ERR_INVALID_ARGUMENT. */
export async function readRelease (path: string): Promise<AgentRelease> {
  if (!isAbsolute(path)) throw invalid(`agent release: ${JSON.stringify(path)} is not an absolute path`)
  const name = basename(path)
  const parsed = parseReleaseName(name)
  if ('reason' in parsed) throw invalid(`agent release: ${parsed.reason}`)
  const st = await stat(path).catch(() => null)
  if (st === null || !st.isFile()) throw invalid(`agent release: no file ${path} on the manager's node; the path is read there, so put the archive at that path on every manager-eligible node (or on storage they all mount)`)
  const text = await readFile(`${path}.sha256`, 'utf8').catch(() => null)
  if (text === null) throw invalid(`agent release: no checksum file ${path}.sha256 beside the archive (npm run release writes both)`)
  const sum = text.length > MAX_SHA256_FILE ? { reason: 'the checksum file is too long' } : parseChecksumFile(text, name)
  if ('reason' in sum) throw invalid(`agent release: ${path}.sha256: ${sum.reason}`)
  return { path, tree: parsed.tree, version: parsed.version, sha256: sum.sha256 }
}

/**
 * The release of `version` in `dir` (the manager's releases directory). Exactly one archive of
 * that version must be there: two builds of one version would make the choice arbitrary.
 */
export async function findRelease (dir: string, version: string): Promise<AgentRelease> {
  const names = await readdir(dir).catch(() => null)
  if (names === null) throw invalid(`agent release: no releases directory ${dir} on the manager's node; give the archive with --agent-release FILE`)
  const matches = names.filter(n => { const p = parseReleaseName(n); return !('reason' in p) && p.version === version })
  if (matches.length === 0) throw invalid(`agent release: no clusterd-${version}-*.tar.gz in ${dir}; copy the release there or give it with --agent-release FILE`)
  if (matches.length > 1) throw invalid(`agent release: ${matches.length} archives of version ${version} in ${dir} (${matches.join(', ')}); give one with --agent-release FILE`)
  return await readRelease(join(dir, matches[0] as string))
}
