/**
 * The simulator's event queue: a binary min-heap ordered by virtual time, ties broken by
 * insertion sequence so that two events due at the same instant always run in the order they
 * were scheduled (determinism does not depend on the heap's internal layout).
 */

/** A heap of payloads keyed by (time, insertion sequence). */
export class EventQueue<T> {
  private times: number[] = []
  private seqs: number[] = []
  private items: T[] = []
  private nextSeq = 0

  /** Number of queued events. */
  get size (): number {
    return this.items.length
  }

  /** Queues `item` to run at virtual time `time` (ms). */
  push (time: number, item: T): void {
    const seq = this.nextSeq++
    let i = this.items.length
    this.times.push(time)
    this.seqs.push(seq)
    this.items.push(item)
    // sift up
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(time, seq, this.times[p]!, this.seqs[p]!)) break
      this.times[i] = this.times[p]!
      this.seqs[i] = this.seqs[p]!
      this.items[i] = this.items[p]!
      i = p
    }
    this.times[i] = time
    this.seqs[i] = seq
    this.items[i] = item
  }

  /** Time of the earliest event, or Infinity when empty. */
  peekTime (): number {
    return this.items.length > 0 ? this.times[0]! : Infinity
  }

  /** Removes and returns the earliest event (undefined when empty). */
  pop (): { time: number, item: T } | undefined {
    const n = this.items.length
    if (n === 0) return undefined
    const time = this.times[0]!
    const item = this.items[0]!
    const lastT = this.times.pop()!
    const lastS = this.seqs.pop()!
    const lastI = this.items.pop()!
    const m = n - 1
    if (m > 0) {
      // sift the last element down from the root
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= m) break
        const r = l + 1
        let c = l
        if (r < m && less(this.times[r]!, this.seqs[r]!, this.times[l]!, this.seqs[l]!)) c = r
        if (!less(this.times[c]!, this.seqs[c]!, lastT, lastS)) break
        this.times[i] = this.times[c]!
        this.seqs[i] = this.seqs[c]!
        this.items[i] = this.items[c]!
        i = c
      }
      this.times[i] = lastT
      this.seqs[i] = lastS
      this.items[i] = lastI
    }
    return { time, item }
  }
}

function less (t1: number, s1: number, t2: number, s2: number): boolean {
  return t1 < t2 || (t1 === t2 && s1 < s2)
}
