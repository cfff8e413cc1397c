/**
 * The transmit-limited broadcast queue (the idea of memberlist's TransmitLimitedQueue):
 * every pending broadcast is piggybacked on outgoing datagrams until it has been sent
 * `limit` times (limit = mult * ceil(log10(N + 1)), so dissemination costs O(log N) sends per
 * node per update). Broadcasts sent fewest times go first, so fresh news overtakes old; a
 * newer broadcast about the same key replaces the older one at once. Packing respects a byte
 * budget; one broadcast too big for any budget (a large signed record) goes alone.
 *
 * Buckets by transmit count are insertion-ordered Sets: taking from the fewest-transmits
 * bucket is FIFO, stops as soon as the budget is full, and moving an item is O(1).
 */

import type { Broadcast } from './types.js'

interface Item {
  key: string
  b: Broadcast
  size: number
  transmits: number
}

/** Retransmit limit for a cluster of `n` live members. */
export function retransmitLimit (mult: number, n: number): number {
  return Math.max(1, mult * Math.ceil(Math.log10(Math.max(1, n) + 1)))
}

/** Pending broadcasts, keyed, with transmit counts. */
export class BroadcastQueue {
  private readonly byKey = new Map<string, Item>()
  private readonly buckets: Array<Set<Item>> = []
  /** Urgent items not yet sent (taken before bucket 0). */
  private readonly urgent = new Set<Item>()

  /** Broadcasts queued so far (every `push`): whether news arrived since some moment. */
  pushes = 0

  /** Number of pending broadcasts. */
  get length (): number { return this.byKey.size }

  /**
   * Queue `b` under `key` (`size` = its encoded bytes), replacing any older one for the key.
   * `urgent` (a refutation): it goes out before everything else not yet sent, so under a storm
   * of suspicions the answer to one is not queued behind the others.
   */
  push (key: string, b: Broadcast, size: number, urgent = false): void {
    const old = this.byKey.get(key)
    if (old !== undefined) { this.buckets[old.transmits]?.delete(old); this.urgent.delete(old) }
    const item: Item = { key, b, size, transmits: 0 }
    this.pushes++
    this.byKey.set(key, item)
    ;(urgent ? this.urgent : this.bucket(0)).add(item)
  }

  /** Drop the pending broadcast for a key (e.g. a member reaped). */
  drop (key: string): void {
    const old = this.byKey.get(key)
    if (old === undefined) return
    this.buckets[old.transmits]?.delete(old)
    this.urgent.delete(old)
    this.byKey.delete(key)
  }

  /** The broadcast pending for `key`, if any. */
  get (key: string): Broadcast | undefined { return this.byKey.get(key)?.b }

  /**
   * Take broadcasts for one datagram: fewest transmits first, total size <= `budget`; when the
   * best candidate alone exceeds `budget` but not `hardMax`, it is returned alone. Each taken
   * broadcast counts one transmit and leaves the queue at `limit`.
   */
  take (budget: number, hardMax: number, limit: number): Broadcast[] {
    const out: Broadcast[] = []
    if (this.byKey.size === 0 || budget <= 0) return out
    let used = 0
    let skipped = 0
    const taken: Item[] = []
    scan:
    for (const bucket of [this.urgent, ...this.buckets]) {
      if (bucket === undefined) continue
      for (const item of bucket) {
        if (used + item.size <= budget) {
          taken.push(item)
          used += item.size
          if (budget - used < 16) break scan
        } else if (taken.length === 0 && item.size <= hardMax) {
          taken.push(item)
          break scan
        } else if (item.size > hardMax) {
          // Cannot ever be sent: a bug upstream. Drop it rather than let it block the queue.
          bucket.delete(item)
          this.byKey.delete(item.key)
        } else if (++skipped > 32) {
          break scan
        }
      }
    }
    for (const item of taken) {
      if (!this.urgent.delete(item)) this.buckets[item.transmits]?.delete(item)
      item.transmits++
      if (item.transmits >= limit) this.byKey.delete(item.key)
      else this.bucket(item.transmits).add(item)
      out.push(item.b)
    }
    return out
  }

  private bucket (i: number): Set<Item> {
    while (this.buckets.length <= i) this.buckets.push(new Set())
    return this.buckets[i] as Set<Item>
  }
}
