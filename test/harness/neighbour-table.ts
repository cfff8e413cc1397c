/**
 * Room in the kernel's IPv4 neighbour (ARP) table for every host set on this machine.
 *
 * Real hosts each have their own kernel and their own neighbour table. Test hosts do not: the
 * table is one per machine, shared by every network namespace, and its hard limit
 * (`net.ipv4.neigh.default.gc_thresh3`, 1024 by default) counts the entries of all of them.
 * Membership makes every host talk to every other host, so a set of n hosts holds about n²
 * entries: at 64 hosts ~4,100. Past the limit the kernel logs "neighbor table overflow!",
 * evicts entries others still use and drops the packets it cannot resolve; the agents saw
 * probes fail and flapped for minutes (docs/benchmarks.md, "The neighbour table"). So a
 * set raises the limits to what it needs before its hosts exist, and never lowers them.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Where the kernel exposes the IPv4 neighbour table's garbage-collection limits. */
export const NEIGHBOUR_SYSCTL_DIR = '/proc/sys/net/ipv4/neigh/default'

/** The limits a set of `hosts` hosts needs (with room for other sets running beside it). */
export interface NeighbourLimits {
  /** Above this many entries the kernel starts evicting (soft limit). */
  gcThresh2: number
  /** No more entries than this, ever (hard limit). */
  gcThresh3: number
}

/**
 * Each host may hold an entry for every other host and the bridge address (n entries), the
 * root namespace one per host: (n + 1)² at most. Doubled so that other sets on the machine
 * at the same time fit too, and the hard limit twice the soft one, as the kernel's defaults.
 */
export function neighbourLimitsFor (hosts: number): NeighbourLimits {
  if (!Number.isInteger(hosts) || hosts < 0) throw new RangeError(`host count ${hosts} is not a non-negative integer`)
  const gcThresh2 = 2 * (hosts + 1) ** 2
  return { gcThresh2, gcThresh3: 2 * gcThresh2 }
}

/** What ensureNeighbourRoom did to one limit. */
export interface LimitChange {
  name: 'gc_thresh2' | 'gc_thresh3'
  before: number
  after: number
}

/** The outcome: the limits raised, or why they could not be (the set still starts). */
export type NeighbourRoom =
  | { ok: true, raised: LimitChange[] }
  | { ok: false, error: string }

/**
 * Raises the machine's neighbour-table limits to what `hosts` hosts need, leaving any limit
 * that is already higher. The soft limit is raised first only when it stays below the hard
 * one (the kernel accepts either order; this keeps gc_thresh2 <= gc_thresh3 at every step).
 */
export async function ensureNeighbourRoom (hosts: number, dir: string = NEIGHBOUR_SYSCTL_DIR): Promise<NeighbourRoom> {
  const want = neighbourLimitsFor(hosts)
  try {
    const current = { gcThresh2: await readLimit(dir, 'gc_thresh2'), gcThresh3: await readLimit(dir, 'gc_thresh3') }
    const raised: LimitChange[] = []
    const raise = async (name: LimitChange['name'], before: number, after: number): Promise<void> => {
      if (after <= before) return
      await writeFile(join(dir, name), `${after}\n`)
      raised.push({ name, before, after })
    }
    await raise('gc_thresh3', current.gcThresh3, want.gcThresh3)
    await raise('gc_thresh2', current.gcThresh2, want.gcThresh2)
    return { ok: true, raised }
  } catch (err) {
    return { ok: false, error: `cannot raise the neighbour-table limits in ${dir} for ${hosts} hosts (${err instanceof Error ? err.message : String(err)}): past about √gc_thresh3 hosts on this machine, packets between them are dropped` }
  }
}

async function readLimit (dir: string, name: LimitChange['name']): Promise<number> {
  const text = (await readFile(join(dir, name), 'utf8')).trim()
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) throw new Error(`${name} reads '${text}', not a count`)
  return value
}
