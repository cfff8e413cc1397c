/**
 * Pings this node sends on behalf of ping-req requesters (SWIM's indirect probe, Lifeguard's
 * nack): each waits for the target's ack, which is passed on to the requester, or for its
 * deadline, when the requester gets a nack. Bounded, so a flood of ping-reqs cannot grow it.
 */

import type { Endpoint } from './types.js'

/** A ping we send on behalf of a ping-req requester. */
export interface Relay {
  /** The requester. */
  to: Endpoint
  /** The requester's sequence number (what its ack or nack carries). */
  seq: number
  deadline: number
}

/** Most ping-req relays in flight (a bound against a flood of ping-reqs). */
export const MAX_RELAYS = 256

/** The relays in flight, by the sequence number of our own ping. */
export class RelayTable {
  private readonly relays = new Map<number, Relay>()

  /** Whether another relay fits. */
  get full (): boolean { return this.relays.size >= MAX_RELAYS }

  /** Remember a relay under our ping's `seq`. */
  add (seq: number, relay: Relay): void { this.relays.set(seq, relay) }

  /** The relay our ping `seq` belongs to, removed; undefined when it is not one of ours. */
  take (seq: number): Relay | undefined {
    const r = this.relays.get(seq)
    if (r !== undefined) this.relays.delete(seq)
    return r
  }

  /** Remove and return the relays whose deadline passed, in the order they were added. */
  expire (now: number): Relay[] {
    const due: Relay[] = []
    for (const [seq, r] of this.relays) {
      if (r.deadline > now) continue
      this.relays.delete(seq)
      due.push(r)
    }
    return due
  }

  /** The earliest deadline, or Infinity. */
  nextDeadline (): number {
    let d = Infinity
    for (const r of this.relays.values()) d = Math.min(d, r.deadline)
    return d
  }
}
