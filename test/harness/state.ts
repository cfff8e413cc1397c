/**
 * Where a host set keeps its files, and who owns which slot. A slot (0..249) is one subnet and
 * one name stem; `mkdir` of its reservation dir is the lock, so concurrent test processes
 * (node --test runs files in parallel) never pick the same one.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { MAX_SLOT, ORPHAN_SLOT_AGE_MS, SLOTS_DIR, STATE_ROOT } from './constants.js'
import { processStartTime } from './proc.js'

/** Who holds a slot. `persistent` sets (made by the CLI) outlive their creator. */
export interface SlotOwner {
  prefix: string
  slot: number
  pid: number
  startTime: string | null
  persistent: boolean
  createdAt: string
}

/** A reserved slot as found on disk; `owner` is null while a create is between mkdir and write. */
export interface SlotEntry {
  slot: number
  owner: SlotOwner | null
  ageMs: number
}

/** The reservation dir of a slot. */
export function slotDir (slot: number): string {
  return `${SLOTS_DIR}/${slot}`
}

/** The state dir of a set: keys, known_hosts, control sockets, per-host upper dirs. */
export function setStateDir (prefix: string, slot: number): string {
  return `${STATE_ROOT}/${prefix}/${slot}`
}

// Sets made one after another in one process walk forward through the slots, so a new set
// never reuses the names of the one just destroyed (kernel cleanup of a netns is asynchronous).
let slotCursor = 0

/**
 * Reserves the first free slot not in `exclude` (subnets other harnesses use), writing the owner
 * record. Throws when all slots are taken (a leak, or far too many parallel sets).
 */
export function claimSlot (prefix: string, persistent: boolean, exclude: ReadonlySet<number>): SlotOwner {
  mkdirSync(SLOTS_DIR, { recursive: true })
  for (let n = 0; n < MAX_SLOT; n++) {
    const slot = (slotCursor + n) % MAX_SLOT
    if (exclude.has(slot)) continue
    try {
      mkdirSync(slotDir(slot))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue
      throw err
    }
    slotCursor = (slot + 1) % MAX_SLOT
    const owner: SlotOwner = {
      prefix,
      slot,
      pid: process.pid,
      startTime: processStartTime(process.pid),
      persistent,
      createdAt: new Date().toISOString()
    }
    writeFileSync(`${slotDir(slot)}/owner.json`, JSON.stringify(owner) + '\n')
    return owner
  }
  throw new Error(`no free test-host slot under ${SLOTS_DIR} (all ${MAX_SLOT} taken or in use)`)
}

/** Every reserved slot. */
export function listSlots (): SlotEntry[] {
  let entries: string[]
  try {
    entries = readdirSync(SLOTS_DIR)
  } catch {
    return []
  }
  const out: SlotEntry[] = []
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue
    const slot = Number(name)
    let ageMs = 0
    try {
      ageMs = Date.now() - statSync(slotDir(slot)).mtimeMs
    } catch {
      continue
    }
    let owner: SlotOwner | null = null
    try {
      owner = JSON.parse(readFileSync(`${slotDir(slot)}/owner.json`, 'utf8')) as SlotOwner
    } catch {
      owner = null
    }
    out.push({ slot, owner, ageMs })
  }
  return out
}

/** True when nobody will ever clean this slot up: its owner process is gone. */
export function isStale (entry: SlotEntry): boolean {
  if (entry.owner == null) return entry.ageMs > ORPHAN_SLOT_AGE_MS
  if (entry.owner.persistent) return false
  return processStartTime(entry.owner.pid) !== entry.owner.startTime
}
