/** Bearer token checks for the TCP API listener, and reading the token file. */

import { createHash, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { ClusterdError } from '../../protocol/errors.js'

/** Shortest token accepted from a token file: guessing must be out of reach. */
export const MIN_TOKEN_LENGTH = 16

function digest (text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/**
 * True when the Authorization header is `Bearer <expected>`. Both sides are hashed first so
 * timingSafeEqual compares equal-length buffers and the time taken reveals nothing about
 * the token, not even its length.
 */
export function checkBearer (header: string | undefined, expected: string): boolean {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '')
  const given = match?.[1] ?? ''
  const same = timingSafeEqual(digest(given), digest(expected))
  return same && given !== ''
}

/**
 * Read an API token file: the first line, trimmed. Throws CLUSTERD_ERR_INVALID_CONFIG when
 * the file is unreadable or the token is shorter than MIN_TOKEN_LENGTH.
 */
export async function readApiToken (path: string, options: { signal?: AbortSignal } = {}): Promise<string> {
  let text: string
  try {
    text = await readFile(path, { encoding: 'utf8', signal: options.signal })
  } catch (err) {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `cannot read API token file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  const token = (text.split('\n')[0] ?? '').trim()
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `API token file ${path}: expected one line with a token of at least ${MIN_TOKEN_LENGTH} characters and no spaces`)
  }
  return token
}
