/**
 * Terminates what still runs on this node under a lease that has ended. Every session the
 * cluster's credential opens runs through the node's gate (`clusterd-gate.py`) with the lease it
 * presented in its environment (`CLUSTERD_LEASE=EPOCH:LEASE_ID`, inherited by everything it
 * starts), so the processes of a lease are found by that tag in `/proc/<pid>/environ`, plus their
 * descendants (a child may have cleared its environment). A sweep sends SIGTERM to every process
 * tagged with one of the ended leases this node granted, then SIGKILL to whatever is left (or was
 * forked meanwhile) after a grace, and returns once none is left or its deadline passed.
 *
 * Only tags of leases this node granted count: the gate runs a command only under the node's own
 * live lease, so a process with another tag did not come through this node's gate. (On a test
 * machine every host shares one process table: another host's sessions are not this node's.)
 */

import { readdir, readFile } from 'node:fs/promises'
import { GATE_LEASE_ENV } from '../../protocol/fencing-wire.js'

/** One process as a sweep sees it. */
export interface ProcInfo {
  pid: number
  ppid: number
  /** The lease tag in its environment, if any. */
  tag?: string
  /** Start time (clock ticks since boot), so a reused pid is not mistaken for the same process. */
  start: string
}

/** What one sweep did. */
export interface SweepResult {
  /** Processes signalled, with their tags. */
  signalled: Array<{ pid: number, tag: string | null }>
  /** Still alive at the deadline (a process in uninterruptible sleep, say). */
  survivors: number[]
  durationMs: number
}

/** Settings of {@link LeaseSweeper}. */
export interface LeaseSweeperInit {
  /** Where the process table is (tests point it at a fake one). */
  procRoot?: string
  /** Between SIGTERM and SIGKILL. */
  graceMs?: number
  /** A sweep gives up after this long. */
  deadlineMs?: number
  /** Processes never signalled (this agent, and its ancestors). */
  exclude?: ReadonlySet<number>
  /** Sends a signal; tests pass a fake. */
  kill?: (pid: number, signal: NodeJS.Signals) => void
}

const PREFIX = Buffer.from(`${GATE_LEASE_ENV}=`)
const MAX_TAG = 64

/** The lease tag in a `/proc/<pid>/environ` blob (NUL-separated `K=V`), or undefined. */
export function tagOf (environ: Buffer): string | undefined {
  let at = 0
  while (at < environ.length) {
    let end = environ.indexOf(0, at)
    if (end < 0) end = environ.length
    if (end - at > PREFIX.length && environ.compare(PREFIX, 0, PREFIX.length, at, at + PREFIX.length) === 0) {
      return environ.subarray(at + PREFIX.length, Math.min(end, at + PREFIX.length + MAX_TAG)).toString('latin1')
    }
    at = end + 1
  }
  return undefined
}

/**
 * The processes to stop, pure: every process tagged with one of `ended` (the tags of leases this
 * node granted that are no longer live; never `keep`, the live one), and every descendant of one,
 * except `exclude`.
 */
export function victims (procs: readonly ProcInfo[], ended: ReadonlySet<string>, keep: string | null, exclude: ReadonlySet<number> = new Set()): ProcInfo[] {
  const children = new Map<number, ProcInfo[]>()
  for (const p of procs) {
    const list = children.get(p.ppid)
    if (list === undefined) children.set(p.ppid, [p])
    else list.push(p)
  }
  const chosen = new Map<number, ProcInfo>()
  const queue = procs.filter(p => p.tag !== undefined && p.tag !== keep && ended.has(p.tag))
  while (queue.length > 0 && chosen.size < 100_000) {
    const p = queue.pop() as ProcInfo
    if (chosen.has(p.pid)) continue
    chosen.set(p.pid, p)
    for (const c of children.get(p.pid) ?? []) queue.push(c)
  }
  return [...chosen.values()].filter(p => !exclude.has(p.pid) && p.pid > 1)
}

/** Finds and stops the processes of ended leases. */
export class LeaseSweeper {
  private readonly procRoot: string
  private readonly graceMs: number
  private readonly deadlineMs: number
  private readonly exclude: ReadonlySet<number>
  private readonly kill: (pid: number, signal: NodeJS.Signals) => void

  constructor (init: LeaseSweeperInit = {}) {
    this.procRoot = init.procRoot ?? '/proc'
    this.graceMs = init.graceMs ?? 1000
    this.deadlineMs = init.deadlineMs ?? 3000
    this.exclude = init.exclude ?? new Set([process.pid, process.ppid])
    this.kill = init.kill ?? ((pid, signal) => { process.kill(pid, signal) })
  }

  /** The live (not zombie) processes of the table, with their tags. */
  async scan (): Promise<ProcInfo[]> {
    const out: ProcInfo[] = []
    let names: string[]
    try { names = await readdir(this.procRoot) } catch { return out }
    for (const name of names) {
      if (!/^\d+$/.test(name)) continue
      try {
        const stat = await readFile(`${this.procRoot}/${name}/stat`, 'latin1')
        // The command name may hold spaces and parentheses: fields start after the last ')'.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        if (fields[0] === 'Z' || fields[0] === 'X') continue
        const environ = await readFile(`${this.procRoot}/${name}/environ`).catch(() => Buffer.alloc(0))
        const tag = tagOf(environ)
        out.push({ pid: Number(name), ppid: Number(fields[1]), start: fields[19] ?? '', ...(tag !== undefined ? { tag } : {}) })
      } catch {
        // Gone while we looked.
      }
    }
    return out
  }

  /** Stop every process tagged with one of `ended` but `keep` (the live lease's tag, or null). */
  async sweep (ended: ReadonlySet<string>, keep: string | null): Promise<SweepResult> {
    const started = Date.now()
    const signalled = new Map<number, { pid: number, tag: string | null, start: string }>()
    const signal = (ps: ProcInfo[], sig: NodeJS.Signals): void => {
      for (const p of ps) {
        try { this.kill(p.pid, sig) } catch {}
        if (!signalled.has(p.pid)) signalled.set(p.pid, { pid: p.pid, tag: p.tag ?? null, start: p.start })
      }
    }
    if (ended.size === 0) return { signalled: [], survivors: [], durationMs: 0 }
    let left = victims(await this.scan(), ended, keep, this.exclude)
    if (left.length === 0) return { signalled: [], survivors: [], durationMs: Date.now() - started }
    signal(left, 'SIGTERM')
    let killing = false
    while (true) {
      await new Promise(resolve => setTimeout(resolve, 50))
      const table = await this.scan()
      // What we signalled and still lives, and whatever was forked under the lease meanwhile.
      const alive = table.filter(p => signalled.get(p.pid)?.start === p.start)
      left = [...new Map([...alive, ...victims(table, ended, keep, this.exclude)].map(p => [p.pid, p])).values()]
      const elapsed = Date.now() - started
      if (left.length === 0 || elapsed >= this.deadlineMs) break
      if (elapsed >= this.graceMs) killing = true
      signal(left, killing ? 'SIGKILL' : 'SIGTERM')
    }
    return { signalled: [...signalled.values()].map(({ pid, tag }) => ({ pid, tag })), survivors: left.map(p => p.pid), durationMs: Date.now() - started }
  }
}
