/**
 * Closing libp2p streams: a graceful close waits for the remote to close too; if that does not
 * happen within the deadline the stream is aborted, so no half-closed stream lingers and counts
 * against the per-connection stream limit.
 */

import type { Stream } from '@libp2p/interface'

/** Close gracefully within `timeoutMs` (or the given signal), else abort. */
export async function closeStream (stream: Stream, signal: AbortSignal = AbortSignal.timeout(2000)): Promise<void> {
  try {
    await stream.close({ signal })
  } catch (err) {
    stream.abort(err as Error)
  }
}
