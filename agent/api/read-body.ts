/** Reads and parses a JSON request body with a size limit. */

import type { IncomingMessage } from 'node:http'
import { ClusterdError } from '../../protocol/errors.js'

function tooLarge (limit: number): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${limit} bytes`)
}

/**
 * Read the whole body and parse it as JSON. An empty body is `undefined`. Throws
 * CLUSTERD_ERR_PAYLOAD_TOO_LARGE past `limit` bytes (checked against Content-Length first,
 * so an honest client is refused before it sends anything) and CLUSTERD_ERR_INVALID_ARGUMENT
 * for malformed JSON.
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
  const text = Buffer.concat(chunks, size).toString('utf8')
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `request body is not valid JSON: ${(err as Error).message}`)
  }
}
