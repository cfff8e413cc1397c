/**
 * The simulated network: per-message delay plus uniform jitter, independent loss of datagrams,
 * and partitions as groups (two nodes can talk only when they are in the same group). Streams
 * (push-pull) are not lost, as TCP retransmits; they only suffer the partitions.
 */

import type { Prng } from './prng.js'

/** Network parameters. */
export interface NetworkInit {
  /** Loss probability of one datagram, in [0, 1]. */
  loss: number
  /** Base one-way delay (ms). */
  delayMs: number
  /** Extra one-way delay, uniform in [0, jitterMs). */
  jitterMs: number
}

/** Delay, loss and partitions between simulated nodes. */
export class Network {
  private readonly init: NetworkInit
  private readonly rng: Prng
  /** Partition group of each node; nodes talk only within a group. */
  private group: Int32Array
  /** Whether any partition is in force (fast path when not). */
  private split = false

  constructor (init: NetworkInit, rng: Prng, capacity: number) {
    this.init = init
    this.rng = rng
    this.group = new Int32Array(capacity)
  }

  /** Whether a and b can exchange packets now. */
  reachable (a: number, b: number): boolean {
    return !this.split || this.group[a] === this.group[b]
  }

  /** Group of node `i` (0 when there is no partition). */
  groupOf (i: number): number {
    return this.group[i]!
  }

  /** Whether a partition is in force. */
  get partitioned (): boolean {
    return this.split
  }

  /** Puts node `i` in partition group `g`. */
  setGroup (i: number, g: number): void {
    this.group[i] = g
    this.split = true
  }

  /** Heals every partition. */
  heal (): void {
    this.group.fill(0)
    this.split = false
  }

  /** One-way delay of a datagram from a to b, or -1 when it is lost or cannot arrive. */
  datagramDelay (a: number, b: number): number {
    if (!this.reachable(a, b)) return -1
    if (this.init.loss > 0 && this.rng.next() < this.init.loss) return -1
    return this.oneWay()
  }

  /** One-way delay of a stream message (never lost; -1 across a partition). */
  streamDelay (a: number, b: number): number {
    if (!this.reachable(a, b)) return -1
    return this.oneWay()
  }

  /** A one-way delay with jitter, whatever the partitions (a refused connection's answer). */
  baseDelay (): number {
    return this.oneWay()
  }

  private oneWay (): number {
    const j = this.init.jitterMs > 0 ? this.rng.next() * this.init.jitterMs : 0
    return this.init.delayMs + j
  }
}
