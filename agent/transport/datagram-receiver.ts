/**
 * The receiving half of the datagram channel without the socket: bytes and the receiver's
 * clock in, an authentic payload or a drop reason out. Order of checks: size, framing,
 * authentication, freshness, replay. Everything after authentication is about datagrams a
 * secret holder really sealed, so the clock-skew and replay warnings they cause can be trusted.
 *
 * Replay state is one {@link ReplayWindow} (and the cached key) per sender id, in a bounded
 * map kept in least-recently-accepted order. A sender's state is forgotten only once its
 * newest accepted datagram is older than `maxAgeMs`: from then on every datagram it was ever
 * accepted with fails the freshness check, so forgetting it cannot let a replay through. When
 * the map is full of senders that are not yet stale, a new sender is refused (`senderLimit`)
 * rather than forgetting a fresh one; only secret holders can create state, so only they can
 * fill it.
 *
 * A restarted process has no replay state at all, so the receiver also has a floor: nothing
 * sealed before it started ({@link DatagramReceiver.refuseBefore}) is accepted. A datagram
 * captured on its way to this host's previous process is refused; the price is that a sender
 * whose clock is behind ours by d is not heard for the first d after our start (logged).
 */

import {
  DGRAM_MAX_AGE_MS,
  DGRAM_MAX_DATAGRAM,
  DGRAM_MAX_SENDERS,
  DGRAM_REPLAY_WINDOW
} from './constants.js'
import { deriveSenderKey, openDatagram, parseDatagram, senderKeyOf, type DatagramHeader } from './datagram-seal.js'
import { ReplayWindow } from './replay-window.js'

/** Why a received datagram was dropped. */
export type DropReason =
  /** Longer than the receiver accepts. */
  | 'oversized'
  /** Too short, an unknown version or an out-of-range header field. */
  | 'malformed'
  /** The tag does not verify: another secret (a stranger), a forgery or damaged bytes. */
  | 'auth'
  /** Authentic, but its timestamp is more than maxAgeMs from the receiver's clock. */
  | 'stale'
  /** Authentic, but its counter was seen before or lies below the sender's window. */
  | 'replayed'
  /** Authentic, but sealed by this very process: our own datagram sent back to us. */
  | 'reflected'
  /** Authentic, from a new sender while replay state for maxSenders fresh senders is held. */
  | 'senderLimit'

/** Every {@link DropReason}, in a stable order (for stats and tests). */
export const DROP_REASONS: readonly DropReason[] = ['oversized', 'malformed', 'auth', 'stale', 'replayed', 'reflected', 'senderLimit']

/** What {@link DatagramReceiver.receive} returns. */
export type ReceiveResult =
  | { ok: true, payload: Uint8Array, header: DatagramHeader }
  | { ok: false, reason: DropReason, detail: string }

/** Settings of a {@link DatagramReceiver}. */
export interface DatagramReceiverInit {
  /** The raw 32-byte cluster secret. */
  secret: Uint8Array
  /** This process's own sender id: datagrams carrying it are dropped as reflected. */
  ownSenderId?: Uint8Array
  /** Largest datagram accepted, header and tag included (default: the IPv4 maximum). */
  maxDatagramBytes?: number
  /** Replay window per sender, a multiple of 32 (default 1,024). */
  windowSize?: number
  /** Freshness bound on the authenticated timestamp, both directions (default 60 s). */
  maxAgeMs?: number
  /** Senders with replay state at most (default 16,384). */
  maxSenders?: number
}

interface SenderState {
  key: Buffer
  window: ReplayWindow
  /** Newest authenticated timestamp accepted from this sender. */
  newestTimestamp: number
}

/** Stale senders looked at (and forgotten if stale) from the old end per new sender. */
const PRUNE_PER_INSERT = 4

/** Authenticates, checks and de-duplicates received datagrams. */
export class DatagramReceiver {
  private readonly secret: Uint8Array
  private readonly ownSenderKey: string | null
  private readonly maxDatagramBytes: number
  private readonly windowSize: number
  private readonly maxAgeMs: number
  private readonly maxSenders: number
  /** Sender id (latin1) -> state, least recently accepted first. */
  private readonly senders = new Map<string, SenderState>()
  private floor = -Infinity

  constructor (init: DatagramReceiverInit) {
    // derive once so a bad secret fails here, not at the first datagram
    deriveSenderKey(init.secret, new Uint8Array(16))
    this.secret = init.secret
    this.ownSenderKey = init.ownSenderId === undefined ? null : senderKeyOf(init.ownSenderId)
    this.maxDatagramBytes = init.maxDatagramBytes ?? DGRAM_MAX_DATAGRAM
    this.windowSize = init.windowSize ?? DGRAM_REPLAY_WINDOW
    this.maxAgeMs = init.maxAgeMs ?? DGRAM_MAX_AGE_MS
    this.maxSenders = init.maxSenders ?? DGRAM_MAX_SENDERS
  }

  /** Senders currently holding replay state. */
  get senderCount (): number {
    return this.senders.size
  }

  /** Refuses, from now on, every datagram stamped before `timestamp` (the process start). */
  refuseBefore (timestamp: number): void {
    this.floor = timestamp
  }

  /** Checks one received datagram at receiver wall-clock time `now` (ms). Never throws. */
  receive (bytes: Uint8Array, now: number): ReceiveResult {
    if (bytes.byteLength > this.maxDatagramBytes) {
      return { ok: false, reason: 'oversized', detail: `${bytes.byteLength} bytes, more than the ${this.maxDatagramBytes} accepted` }
    }
    const parsed = parseDatagram(bytes)
    if (!parsed.ok) return parsed
    const d = parsed.datagram
    const known = this.senders.get(d.senderKey)
    // a stranger's datagram costs one HKDF here; its key is never cached
    const key = known?.key ?? deriveSenderKey(this.secret, d.header.senderId)
    const payload = openDatagram(key, d)
    if (payload === null) {
      return { ok: false, reason: 'auth', detail: 'authentication failed: sealed with another cluster secret, forged or damaged' }
    }

    const { counter, timestamp } = d.header
    const skew = timestamp - now
    if (skew < -this.maxAgeMs || skew > this.maxAgeMs) {
      const direction = skew < 0 ? 'behind (or a delayed replay)' : 'ahead'
      return { ok: false, reason: 'stale', detail: `timestamp ${Math.round(Math.abs(skew) / 1000)} s ${direction} this clock, beyond ${this.maxAgeMs / 1000} s: check NTP on both hosts` }
    }
    if (timestamp < this.floor) {
      return { ok: false, reason: 'stale', detail: `sealed ${this.floor - timestamp} ms before this agent started: a replay of a datagram to its previous run, or the sender's clock is behind (check NTP)` }
    }
    if (d.senderKey === this.ownSenderKey) {
      return { ok: false, reason: 'reflected', detail: 'a datagram this process sealed came back to it' }
    }

    let state = known
    if (state !== undefined) {
      const verdict = state.window.check(counter)
      if (verdict !== 'new') {
        return { ok: false, reason: 'replayed', detail: verdict === 'too-old' ? `counter ${counter} is below the sender's ${this.windowSize}-counter window (a replay or a long reorder)` : `counter ${counter} was already received` }
      }
      // least recently accepted first: re-insert at the young end
      this.senders.delete(d.senderKey)
    } else {
      this.pruneStale(now)
      if (this.senders.size >= this.maxSenders) {
        return { ok: false, reason: 'senderLimit', detail: `replay state is held for ${this.senders.size} senders heard within ${this.maxAgeMs / 1000} s; refusing a new one` }
      }
      state = { key, window: new ReplayWindow(this.windowSize), newestTimestamp: timestamp }
    }
    state.window.record(counter)
    if (timestamp > state.newestTimestamp) state.newestTimestamp = timestamp
    this.senders.set(d.senderKey, state)
    return { ok: true, payload, header: d.header }
  }

  /** Forgets up to a few stale senders from the least recently accepted end. */
  private pruneStale (now: number): void {
    let looked = 0
    for (const [id, state] of this.senders) {
      if (looked++ >= PRUNE_PER_INSERT) break
      if (now - state.newestTimestamp > this.maxAgeMs) this.senders.delete(id)
    }
  }
}
