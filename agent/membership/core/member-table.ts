/**
 * The member view of one core, stored compactly: an open-addressing hash from id to a slot
 * number, and the per-slot state in parallel typed arrays (status 1 byte, last change 4
 * bytes) next to a shared reference to the member's immutable AliveInfo. About 20-30 bytes
 * per member, so 10,000 simulated nodes with full views (10^8 pairs) fit in one process. No per-member objects,
 * timers or closures; the status incarnation is the signed info's (claims above it are
 * refused, below it are stale), so it is not stored twice.
 */

import type { AliveInfo, MemberId, MemberStatus, Rng } from './types.js'

/** Status codes in the status array; 0 marks a free slot. */
export const Code = { Free: 0, Alive: 1, Suspect: 2, Failed: 3, Left: 4 } as const
/** One of the status codes. */
export type Code = typeof Code[keyof typeof Code]

const NAMES: readonly MemberStatus[] = ['alive', 'alive', 'suspect', 'failed', 'left']
const CODES: Record<MemberStatus, Code> = { alive: Code.Alive, suspect: Code.Suspect, failed: Code.Failed, left: Code.Left }

/** Status name of a code. */
export function statusName (c: Code): MemberStatus { return NAMES[c] ?? 'alive' }
/** Code of a status name. */
export function statusCode (s: MemberStatus): Code { return CODES[s] }

/** Granularity of stored status-change times (they are kept as u32 ticks since construction). */
export const CHANGE_TICK_MS = 100

/** Slot-indexed member storage. */
export class MemberTable {
  /** Open-addressing hash (linear probing) from id to slot + 1; 0 = empty. Replaces a Map: 4-6 bytes per member, not ~23. */
  private hash: Int32Array
  private infos: Array<AliveInfo | null>
  private codes: Uint8Array
  /** Status change times in CHANGE_TICK_MS ticks since `base`. */
  private changed: Uint32Array
  private base = NaN
  private readonly free: number[] = []
  private used = 0
  private stored = 0
  private liveCount = 0

  constructor (initialCapacity = 8) {
    const cap = Math.max(2, initialCapacity)
    this.infos = new Array<AliveInfo | null>(cap).fill(null)
    this.codes = new Uint8Array(cap)
    this.changed = new Uint32Array(cap)
    this.hash = new Int32Array(hashSizeFor(cap))
  }

  /** Number of slots (some may be free); slot numbers are < capacity. */
  get capacity (): number { return this.codes.length }
  /** Members stored (any status). */
  get count (): number { return this.stored }
  /** Members alive or suspect (self included when stored): SWIM's N. */
  get live (): number { return this.liveCount }

  /** Slot of a member, or -1. */
  slot (id: MemberId): number {
    const mask = this.hash.length - 1
    for (let h = hashOf(id) & mask, i = 0; i <= mask; h = (h + 1) & mask, i++) {
      const v = this.hash[h] as number
      if (v === 0) return -1
      if ((this.infos[v - 1] as AliveInfo).id === id) return v - 1
    }
    return -1
  }

  /** Status code of a slot (Free for an empty one). */
  code (slot: number): Code { return (this.codes[slot] ?? Code.Free) as Code }

  /** Info of an occupied slot. */
  info (slot: number): AliveInfo {
    const i = this.infos[slot]
    if (i === null || i === undefined) throw new Error(`slot ${slot} is free`)
    return i
  }

  /** When the slot's status last changed (to CHANGE_TICK_MS). */
  lastChange (slot: number): number { return this.base + (this.changed[slot] ?? 0) * CHANGE_TICK_MS }

  /** Add a member (not already stored); returns its slot. */
  add (info: AliveInfo, code: Code, now: number): number {
    let slot = this.free.pop()
    if (slot === undefined) {
      if (this.used === this.codes.length) this.grow()
      slot = this.used++
    }
    this.infos[slot] = info
    this.codes[slot] = code
    this.stamp(slot, now)
    this.insert(info.id, slot)
    this.stored++
    if (isLive(code)) this.liveCount++
    return slot
  }

  /** Replace a slot's info (a newer incarnation of the same member). */
  setInfo (slot: number, info: AliveInfo): void { this.infos[slot] = info }

  /** Change a slot's status; `now` becomes its last change when the status differs. */
  setCode (slot: number, code: Code, now: number): void {
    const prev = this.code(slot)
    if (prev === code) return
    if (isLive(prev)) this.liveCount--
    if (isLive(code)) this.liveCount++
    this.codes[slot] = code
    this.stamp(slot, now)
  }

  /** Forget a member; its slot is reused. */
  remove (slot: number): void {
    const info = this.infos[slot]
    if (info === null || info === undefined) return
    if (isLive(this.code(slot))) this.liveCount--
    this.unhash(info.id)
    this.infos[slot] = null
    this.codes[slot] = Code.Free
    this.free.push(slot)
    this.stored--
  }

  private stamp (slot: number, now: number): void {
    if (Number.isNaN(this.base)) this.base = now
    this.changed[slot] = Math.min(0xffffffff, Math.max(0, Math.floor((now - this.base) / CHANGE_TICK_MS)))
  }

  private insert (id: MemberId, slot: number): void {
    const mask = this.hash.length - 1
    let h = hashOf(id) & mask
    while (this.hash[h] !== 0) h = (h + 1) & mask
    this.hash[h] = slot + 1
  }

  /** Linear-probing delete with backward shift (no tombstones). */
  private unhash (id: MemberId): void {
    const mask = this.hash.length - 1
    let h = hashOf(id) & mask
    for (let i = 0; i <= mask; i++, h = (h + 1) & mask) {
      const v = this.hash[h] as number
      if (v === 0) return
      if ((this.infos[v - 1] as AliveInfo).id === id) break
    }
    let hole = h
    for (let j = (hole + 1) & mask; this.hash[j] !== 0; j = (j + 1) & mask) {
      const v = this.hash[j] as number
      const home = hashOf((this.infos[v - 1] as AliveInfo).id) & mask
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const inRange = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
      if (!inRange) { this.hash[hole] = v; hole = j }
    }
    this.hash[hole] = 0
  }

  private grow (): void {
    const cap = Math.ceil(this.codes.length * 1.5)
    const codes = new Uint8Array(cap)
    codes.set(this.codes)
    const changed = new Uint32Array(cap)
    changed.set(this.changed)
    this.codes = codes
    this.changed = changed
    for (let i = this.infos.length; i < cap; i++) this.infos.push(null)
    if (hashSizeFor(cap) > this.hash.length) {
      this.hash = new Int32Array(hashSizeFor(cap))
      for (let s = 0; s < this.used; s++) {
        const info = this.infos[s]
        if (info !== null && info !== undefined) this.insert(info.id, s)
      }
    }
  }
}

/** Hash table size: a power of two with load factor <= 2/3 at full capacity. */
function hashSizeFor (capacity: number): number {
  let n = 4
  while (n < capacity * 1.5) n *= 2
  return n
}

/** FNV-1a over the id's UTF-16 code units. */
function hashOf (id: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** Alive or suspect: a member that is probed and counts toward N. */
export function isLive (c: Code): boolean { return c === Code.Alive || c === Code.Suspect }

/**
 * Up to `k` distinct slots of `table` accepted by `accept`, chosen at random with `rng` (a few
 * random tries, then a linear scan from a random offset fills up): probe helpers, gossip
 * targets, push-pull partners.
 */
export function randomSlots (table: Pick<MemberTable, 'capacity'>, rng: Rng, k: number, accept: (slot: number) => boolean): number[] {
  const cap = table.capacity
  const out: number[] = []
  if (k <= 0 || cap === 0) return out
  for (let tries = 0; tries < 4 * k && out.length < k; tries++) {
    const s = Math.floor(rng() * cap)
    if (accept(s) && !out.includes(s)) out.push(s)
  }
  const off = Math.floor(rng() * cap)
  for (let i = 0; i < cap && out.length < k; i++) {
    const s = (off + i) % cap
    if (accept(s) && !out.includes(s)) out.push(s)
  }
  return out
}
