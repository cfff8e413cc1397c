/**
 * Closing libp2p streams: a graceful close waits for the remote to close too; if that does not
 * happen within the deadline the stream is aborted, so no half-closed stream lingers and counts
 * against the per-connection stream limit. (libp2p's `close()` only closes our writable end and
 * resolves: a remote that never closes its side, such as a sender still pushing a frame that
 * was refused unread, would keep the stream open for good.)
 */

import type { Stream } from '@libp2p/interface'

/** Close gracefully within `timeoutMs` (or the given signal), else abort. */
export async function closeStream (stream: Stream, signal: AbortSignal = AbortSignal.timeout(2000)): Promise<void> {
  try {
    await stream.close({ signal })
    if (stream.status === 'open' || stream.status === 'closing') await remoteClosed(stream, signal)
  } catch (err) {
    stream.abort(err as Error)
  }
}

/** Resolves once the stream is closed (the remote closed its side too); rejects when `signal` aborts first. */
async function remoteClosed (stream: Stream, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const done = (): void => { signal.removeEventListener('abort', aborted); resolve() }
    const aborted = (): void => { stream.removeEventListener('close', done); reject(signal.reason instanceof Error ? signal.reason : new Error('the remote did not close the stream in time')) }
    stream.addEventListener('close', done, { once: true })
    signal.addEventListener('abort', aborted, { once: true })
    if (stream.status !== 'open' && stream.status !== 'closing') done()
  })
}
