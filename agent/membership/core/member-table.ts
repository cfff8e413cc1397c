/**
 * The member view of one core, stored compactly: a Map from id to a slot number, and the
 * per-slot state in parallel typed arrays (status 1 byte, last change 8 bytes) next to a
 * shared reference to the member's immutable AliveInfo. About 40 bytes per member, so 10,000
 * simulated nodes with full views (10^8 pairs) fit in one process. No per-member objects,
 * timers or closures; the status incarnation is the signed info's (claims above it are
 * refused, below it are stale), so it is not stored twice.
 */

import type { AliveInfo, MemberId, MemberStatus } from './types.js'

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

/** Slot-indexed member storage. */
export class MemberTable {
  private readonly index = new Map<MemberId, number>()
  private infos: Array<AliveInfo | null>
  private codes: Uint8Array
  private changed: Float64Array
  private readonly free: number[] = []
  private used = 0
  private liveCount = 0

  constructor (initialCapacity = 8) {
    const cap = Math.max(2, initialCapacity)
    this.infos = new Array<AliveInfo | null>(cap).fill(null)
    this.codes = new Uint8Array(cap)
    this.changed = new Float64Array(cap)
  }

  /** Number of slots (some may be free); slot numbers are < capacity. */
  get capacity (): number { return this.codes.length }
  /** Members stored (any status). */
  get count (): number { return this.index.size }
  /** Members alive or suspect (self included when stored): SWIM's N. */
  get live (): number { return this.liveCount }

  /** Slot of a member, or -1. */
  slot (id: MemberId): number { return this.index.get(id) ?? -1 }

  /** Status code of a slot (Free for an empty one). */
  code (slot: number): Code { return (this.codes[slot] ?? Code.Free) as Code }

  /** Info of an occupied slot. */
  info (slot: number): AliveInfo {
    const i = this.infos[slot]
    if (i === null || i === undefined) throw new Error(`slot ${slot} is free`)
    return i
  }

  /** When the slot's status last changed. */
  lastChange (slot: number): number { return this.changed[slot] ?? 0 }

  /** Add a member; returns its slot. */
  add (info: AliveInfo, code: Code, now: number): number {
    let slot = this.free.pop()
    if (slot === undefined) {
      if (this.used === this.codes.length) this.grow()
      slot = this.used++
    }
    this.index.set(info.id, slot)
    this.infos[slot] = info
    this.codes[slot] = code
    this.changed[slot] = now
    if (isLive(code)) this.liveCount++
    return slot
  }

  /** Replace a slot's info (a newer incarnation). */
  setInfo (slot: number, info: AliveInfo): void { this.infos[slot] = info }

  /** Change a slot's status; `now` becomes its last change when the status differs. */
  setCode (slot: number, code: Code, now: number): void {
    const prev = this.code(slot)
    if (prev === code) return
    if (isLive(prev)) this.liveCount--
    if (isLive(code)) this.liveCount++
    this.codes[slot] = code
    this.changed[slot] = now
  }

  /** Forget a member; its slot is reused. */
  remove (slot: number): void {
    const info = this.infos[slot]
    if (info === null || info === undefined) return
    if (isLive(this.code(slot))) this.liveCount--
    this.index.delete(info.id)
    this.infos[slot] = null
    this.codes[slot] = Code.Free
    this.free.push(slot)
  }

  private grow (): void {
    const cap = this.codes.length * 2
    const codes = new Uint8Array(cap)
    codes.set(this.codes)
    const changed = new Float64Array(cap)
    changed.set(this.changed)
    this.codes = codes
    this.changed = changed
    for (let i = this.infos.length; i < cap; i++) this.infos.push(null)
  }
}

/** Alive or suspect: a member that is probed and counts toward N. */
export function isLive (c: Code): boolean { return c === Code.Alive || c === Code.Suspect }
