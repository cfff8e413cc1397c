/**
 * The cluster secret: a 32-byte pre-shared key every member holds, stored in the swarm-key
 * file format (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex digits) so the file is
 * recognisable to anyone who has run a private IPFS/libp2p network.
 *
 * Error messages name the file and what is wrong with it, never the key material.
 */

import { randomBytes, randomUUID } from 'node:crypto'
import { constants as fsConstants } from 'node:fs'
import { link, mkdir, open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { ClusterdError } from '../../protocol/errors.js'
import {
  SECRET_DIR_MODE,
  SECRET_FILE_CODEC,
  SECRET_FILE_MAX_BYTES,
  SECRET_FILE_MODE,
  SECRET_FILE_TAG,
  SECRET_LENGTH
} from './constants.js'

/** Options for {@link writeSecretFile}. */
export interface WriteSecretFileOptions {
  /** Replace an existing file. Without it an existing file is never touched. */
  force?: boolean
  /** The secret to write; a fresh one is generated when omitted. */
  psk?: Uint8Array
}

/** A fresh random cluster secret (32 bytes from the OS CSPRNG). */
export function generateSecret (): Uint8Array {
  return new Uint8Array(randomBytes(SECRET_LENGTH))
}

/** The swarm-key file text for `psk` (95 bytes, lower-case hex, trailing newline). */
export function formatSecretFile (psk: Uint8Array): string {
  assertSecretLength(psk)
  return `${SECRET_FILE_TAG}\n${SECRET_FILE_CODEC}\n${Buffer.from(psk).toString('hex')}`
}

/**
 * Parses swarm-key file text. Tolerates CRLF line ends, upper-case hex and a missing final
 * newline (hand-edited files); rejects anything else with an error naming the problem.
 */
export function parseSecretFile (text: string, source = 'cluster secret'): Uint8Array {
  const lines = text.split(/\r?\n/)
  // one trailing newline leaves an empty last element; more blank lines are still "extra"
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop()

  const invalid = (what: string): ClusterdError =>
    new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `${source}: ${what}`)

  const [tag, codec, hex, ...rest] = lines
  if (tag !== SECRET_FILE_TAG) {
    throw invalid(`line 1 must be "${SECRET_FILE_TAG}" (swarm key format), found ${describeLine(tag)}`)
  }
  if (codec !== SECRET_FILE_CODEC) {
    throw invalid(`line 2 must be "${SECRET_FILE_CODEC}" (only base16 keys are supported), found ${describeLine(codec)}`)
  }
  if (hex === undefined || hex === '') {
    throw invalid(`line 3 must hold the key as ${SECRET_LENGTH * 2} hex digits, but it is missing`)
  }
  if (hex.length !== SECRET_LENGTH * 2) {
    throw invalid(`line 3 must hold exactly ${SECRET_LENGTH * 2} hex digits (${SECRET_LENGTH} bytes), found ${hex.length} characters`)
  }
  const bad = hex.search(/[^0-9a-fA-F]/)
  if (bad !== -1) {
    throw invalid(`line 3 must hold only hex digits 0-9 a-f, found a non-hex character at column ${bad + 1}`)
  }
  if (rest.length > 0) {
    throw invalid(`expected 3 lines, found ${lines.length}; remove the extra lines after the key`)
  }
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/**
 * Writes a secret file atomically (temporary file, fsync, then link or rename) with mode
 * 0600. Creates a missing parent directory with mode 0700. Refuses to replace an existing
 * file unless `force`; the no-clobber check is the atomic `link(2)`, so two concurrent
 * writers cannot both win. Returns the secret written.
 */
export async function writeSecretFile (path: string, options: WriteSecretFileOptions = {}): Promise<Uint8Array> {
  const psk = options.psk ?? generateSecret()
  const text = formatSecretFile(psk)
  const dir = dirname(path)

  try {
    // recursive mkdir applies the mode only to directories it creates, never to existing ones
    await mkdir(dir, { recursive: true, mode: SECRET_DIR_MODE })
  } catch (err) {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `cannot create directory ${dir} for the cluster secret: ${errorText(err)}`)
  }

  const tmp = join(dir, `.${basename(path)}.${randomUUID()}.tmp`)
  try {
    const handle = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, SECRET_FILE_MODE)
    try {
      await handle.writeFile(text, 'utf8')
      // umask can only clear bits, but a chmod makes the mode independent of it all the same
      await handle.chmod(SECRET_FILE_MODE)
      await handle.sync()
    } finally {
      await handle.close()
    }

    if (options.force === true) {
      await rename(tmp, path)
    } else {
      try {
        await link(tmp, path)
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') {
          throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT',
            `refusing to overwrite the existing cluster secret ${path}; remove it or use force to replace it (every member must then get the new secret)`)
        }
        throw err
      }
      await unlink(tmp)
    }
    await syncDir(dir)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    if (err instanceof ClusterdError) throw err
    throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `cannot write the cluster secret ${path}: ${errorText(err)}`)
  }
  return psk
}

/**
 * Reads and validates a secret file. Refuses a file that is missing, not a regular file,
 * malformed, or open to group/other (any of mode 0077), telling the operator the fix.
 */
export async function readSecretFile (path: string): Promise<Uint8Array> {
  let handle
  try {
    // O_NOFOLLOW is not used: /etc/clusterd/secret as a symlink into a secrets mount is fine;
    // the mode checked below is the target's, via fstat on the opened descriptor
    handle = await open(path, fsConstants.O_RDONLY)
  } catch (err) {
    const code = errnoCode(err)
    if (code === 'ENOENT') {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG',
        `cluster secret ${path} does not exist; copy the secret file from an existing member (or generate one for a new cluster) and chmod 600 it`)
    }
    if (code === 'EACCES') {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG',
        `cluster secret ${path} is not readable by this user (uid ${process.getuid?.() ?? '?'}); run the agent as the file's owner`)
    }
    throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `cannot open cluster secret ${path}: ${errorText(err)}`)
  }

  try {
    // fstat on the open descriptor: the file checked is the file read
    const stat = await handle.stat()
    if (!stat.isFile()) {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `cluster secret ${path} is not a regular file`)
    }
    if ((stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0')
      throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG',
        `cluster secret ${path} has mode ${mode}, open to group or others; a secret must be private: run chmod 600 ${path}`,
        { path, mode })
    }
    if (stat.size > SECRET_FILE_MAX_BYTES) {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG',
        `cluster secret ${path} is ${stat.size} bytes; a swarm key file is 95 bytes`)
    }
    const text = await handle.readFile('utf8')
    return parseSecretFile(text, `cluster secret ${path}`)
  } catch (err) {
    if (err instanceof ClusterdError) throw err
    throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `cannot read cluster secret ${path}: ${errorText(err)}`)
  } finally {
    await handle.close()
  }
}

function assertSecretLength (psk: Uint8Array): void {
  if (!(psk instanceof Uint8Array) || psk.byteLength !== SECRET_LENGTH) {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT',
      `a cluster secret must be ${SECRET_LENGTH} bytes, got ${psk instanceof Uint8Array ? psk.byteLength : typeof psk}`)
  }
}

/**
 * Describes a header line for an error message. Only lines that look like a header (start
 * with "/") are quoted: anything else may be key material pasted into the wrong place.
 */
function describeLine (line: string | undefined): string {
  if (line === undefined) return 'end of file'
  if (line === '') return 'an empty line'
  if (/^[0-9a-fA-F]{32,}$/.test(line)) return 'what looks like a bare hex key (the two header lines are missing)'
  if (!line.startsWith('/')) return `a line of ${line.length} characters (not shown)`
  const shown = line.length > 40 ? `${line.slice(0, 40)}...` : line
  return JSON.stringify(shown)
}

/** fsync of the directory makes the rename/link itself survive a power loss. */
async function syncDir (dir: string): Promise<void> {
  const handle = await open(dir, fsConstants.O_RDONLY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function errnoCode (err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined
}

function errorText (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
