/** Reads and parses a JSON request body with a size limit. */

import type { IncomingMessage } from 'node:http'
import { ClusterdError } from '../../protocol/errors.js'
import { MAX_JSON_DEPTH, exceedsJsonDepth } from '../../protocol/json-limits.js'

function tooLarge (limit: number): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${limit} bytes`)
}

/**
 * Read the whole body and parse it as JSON. An empty body is `undefined`. Throws
 * CLUSTERD_ERR_PAYLOAD_TOO_LARGE past `limit` bytes (checked against Content-Length first,
 * so an honest client is refused before it sends anything) and CLUSTERD_ERR_INVALID_ARGUMENT
 * for a body that is not UTF-8, not JSON, or nested deeper than MAX_JSON_DEPTH.
 */
export async function readJsonBody (req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw tooLarge(limit)
    chunks.push(chunk)
  }
  if (size === 0) return undefined
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks, size))
  } catch {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', 'request body is not UTF-8 text')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `request body is not valid JSON: ${(err as Error).message}`)
  }
  // Deeper values would overflow the stack wherever they are re-encoded (forwarding, the store).
  if (exceedsJsonDepth(value)) throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `request body nests deeper than ${MAX_JSON_DEPTH} levels`)
  return value
}
