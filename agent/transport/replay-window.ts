/**
 * A sliding replay window over one sender's datagram counters (the anti-replay window of
 * IPsec, RFC 4303 3.4.3): the highest counter accepted so far and a bitmap of which of the
 * `size` counters below it were seen. A counter above the top is new; one inside the window
 * is new unless its bit is set; one below the window cannot be told from a replay and is
 * refused. Checking and recording are separate so that only authenticated counters move the
 * window.
 */

import { DGRAM_REPLAY_WINDOW } from './constants.js'

/** What {@link ReplayWindow.check} says about a counter. */
export type ReplayVerdict = 'new' | 'replayed' | 'too-old'

/** The replay window of one sender. */
export class ReplayWindow {
  /** How many counters up to and including the top are remembered. */
  readonly size: number
  private readonly bits: Uint32Array
  /** Highest counter recorded; -1 before the first. */
  private top = -1

  /** `size` must be a positive multiple of 32. */
  constructor (size: number = DGRAM_REPLAY_WINDOW) {
    if (!Number.isSafeInteger(size) || size <= 0 || size % 32 !== 0) {
      throw new RangeError(`a replay window size must be a positive multiple of 32, got ${size}`)
    }
    this.size = size
    this.bits = new Uint32Array(size / 32)
  }

  /** The highest counter recorded, -1 if none. */
  get highest (): number {
    return this.top
  }

  /** Whether `counter` (a non-negative safe integer) would be new. Changes nothing. */
  check (counter: number): ReplayVerdict {
    if (counter > this.top) return 'new'
    if (counter <= this.top - this.size) return 'too-old'
    return this.isSet(counter) ? 'replayed' : 'new'
  }

  /** Records `counter` as seen; the caller has checked it is 'new' and authentic. */
  record (counter: number): void {
    if (counter > this.top) {
      const advance = counter - this.top
      if (advance >= this.size) {
        this.bits.fill(0)
      } else {
        // the slots of the counters the window slides past are reused for the new ones
        for (let c = this.top + 1; c < counter; c++) this.clear(c)
      }
      this.top = counter
    }
    this.set(counter)
  }

  private isSet (counter: number): boolean {
    const slot = counter % this.size
    return ((this.bits[slot >>> 5] ?? 0) & (1 << (slot & 31))) !== 0
  }

  private set (counter: number): void {
    const slot = counter % this.size
    this.bits[slot >>> 5] = (this.bits[slot >>> 5] ?? 0) | (1 << (slot & 31))
  }

  private clear (counter: number): void {
    const slot = counter % this.size
    this.bits[slot >>> 5] = (this.bits[slot >>> 5] ?? 0) & ~(1 << (slot & 31))
  }
}
