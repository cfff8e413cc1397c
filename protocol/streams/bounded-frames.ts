/**
 * Length-prefixed frames read with a bound that holds before the body is read. libp2p's
 * `lpStream` checks the declared length, but its byte buffer is capped at 4 MiB whatever the
 * frame limit says (a larger legitimate frame fails) and several streams can each be filling
 * one at once. Here the varint length is read first and checked against the cap of the kind of
 * message expected, then (optionally) a share of a byte budget common to every stream of a
 * protocol is taken, and only then is the body read, with the byte buffer bounded by the frame.
 * A stream waiting for room is paused. So at most `budget` bytes of frames are being read and
 * parsed at once, however many streams and senders there are (docs/architecture.md,
 * "Authorise, then read").
 */

import type { Stream } from '@libp2p/interface'
import { byteStream, type ByteStream } from '@libp2p/utils'

/** A frame declared larger than the cap of its kind; nothing of its body was read. */
export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError'
}

/** The byte budget stayed exhausted until the read deadline. */
export class FrameBudgetError extends Error {
  override readonly name = 'FrameBudgetError'
}

/**
 * Bytes of frames that may be in memory at once across streams (FIFO: a large frame is not
 * starved by small ones). A frame larger than the whole budget is never admitted.
 */
export class ByteBudget {
  private used = 0
  private readonly waiters: Array<{ n: number, resolve: () => void }> = []

  constructor (readonly capacity: number) {}

  /** Bytes taken now. */
  get inUse (): number { return this.used }

  /** Take `n` bytes if they are free now and nobody waits; false otherwise. */
  tryTake (n: number): boolean {
    if (n > this.capacity || this.waiters.length > 0 || this.used + n > this.capacity) return false
    this.used += n
    return true
  }

  /** Take `n` bytes, waiting (FIFO) until they are free or `signal` aborts. */
  async take (n: number, signal: AbortSignal): Promise<void> {
    if (n > this.capacity) throw new FrameBudgetError(`a frame of ${n} bytes exceeds the budget of ${this.capacity}`)
    if (this.waiters.length === 0 && this.used + n <= this.capacity) {
      this.used += n
      return
    }
    signal.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const waiter = { n, resolve: () => { signal.removeEventListener('abort', onAbort); resolve() } }
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter)
        if (i >= 0) this.waiters.splice(i, 1)
        this.wake()
        reject(new FrameBudgetError(`no room for a frame of ${n} bytes before the deadline (${this.used} of ${this.capacity} in use)`))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  /** Give back `n` bytes taken before. */
  release (n: number): void {
    this.used = Math.max(0, this.used - n)
    this.wake()
  }

  private wake (): void {
    while (this.waiters.length > 0) {
      const next = this.waiters[0] as { n: number, resolve: () => void }
      if (this.used + next.n > this.capacity) return
      this.waiters.shift()
      this.used += next.n
      next.resolve()
    }
  }
}

/** Largest varint length prefix read (2^35 > any cap; a longer prefix is malformed). */
const MAX_PREFIX_BYTES = 5

/** Encode a frame's length prefix (unsigned LEB128, as libp2p's `lpStream` does). */
export function encodeLength (n: number): Uint8Array {
  const out: number[] = []
  let v = n
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
  return Uint8Array.from(out)
}

/** Options of one read. */
export interface ReadFrameOptions {
  /** Cap of this kind of frame, in bytes. */
  maxBytes: number
  signal: AbortSignal
  /** Shared budget the body must fit in before it is read. */
  budget?: ByteBudget
}

/** A frame and how to give its bytes back to the budget (call once it is parsed). */
export interface Frame {
  bytes: Uint8Array
  release: () => void
}

/** Reads and writes length-prefixed frames on one stream. */
export class BoundedFrames {
  private readonly bytes: ByteStream<Stream>

  constructor (private readonly stream: Stream, maxFrameBytes: number) {
    // The buffer never has to hold more than one frame and its prefix.
    this.bytes = byteStream(stream, { maxBufferSize: maxFrameBytes + MAX_PREFIX_BYTES })
  }

  /** Read one frame: its length is checked against the cap before any of its body is read. */
  async read (opts: ReadFrameOptions): Promise<Frame> {
    let length = 0
    let scale = 1
    for (let i = 0; ; i++) {
      if (i >= MAX_PREFIX_BYTES) throw new FrameTooLargeError('frame length prefix is too long')
      const b = (await this.bytes.read({ bytes: 1, signal: opts.signal })).subarray()[0] as number
      length += (b & 0x7f) * scale
      scale *= 0x80
      if ((b & 0x80) === 0) break
    }
    if (length > opts.maxBytes) throw new FrameTooLargeError(`frame of ${length} bytes exceeds the cap of ${opts.maxBytes}`)
    const budget = opts.budget
    if (budget !== undefined && !budget.tryTake(length)) {
      // Waiting for room: take no more of the body meanwhile (no flow-control window granted).
      pause(this.stream)
      try {
        await budget.take(length, opts.signal)
      } finally {
        resume(this.stream)
      }
    }
    let released = false
    const release = (): void => { if (!released && budget !== undefined) { released = true; budget.release(length) } }
    try {
      const bytes = length === 0 ? new Uint8Array(0) : (await this.bytes.read({ bytes: length, signal: opts.signal })).subarray()
      return { bytes, release }
    } catch (err) {
      release()
      throw err
    }
  }

  /** Write one frame. */
  async write (data: Uint8Array, signal: AbortSignal): Promise<void> {
    const prefix = encodeLength(data.byteLength)
    const out = new Uint8Array(prefix.byteLength + data.byteLength)
    out.set(prefix)
    out.set(data, prefix.byteLength)
    await this.bytes.write(out, { signal })
  }
}

/** Stop granting the sender flow-control window; a stream already closing has nothing to pause. */
function pause (stream: Stream): void {
  try { stream.pause() } catch {}
}

function resume (stream: Stream): void {
  try { stream.resume() } catch {}
}
