/**
 * Stopping a run for real. ansible-runner starts ansible-playbook under pexpect, which puts
 * it in a new session, so killing the runner's process group misses the playbook and its ssh
 * children; and ssh control masters daemonize out of the tree entirely. These helpers find
 * the descendants through /proc and close the run's own control masters by socket.
 */
import { readFileSync } from 'node:fs'
import { readdir, readFile, lstat } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { RUNNER_PATH_ENV, SSH_PATH } from './constants.js'

interface ProcEntry { pid: number, ppid: number, pgrp: number }

async function readProcTable (): Promise<ProcEntry[]> {
  const out: ProcEntry[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8')
      // The command name may hold spaces and parentheses: fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.push({ pid: Number(name), ppid: Number(fields[1]), pgrp: Number(fields[2]) })
    } catch {
      // The process exited while we looked.
    }
  }
  return out
}

/** Process ids of every live descendant of `root` (not including it). */
export async function descendants (root: number): Promise<ProcEntry[]> {
  const table = await readProcTable()
  const children = new Map<number, ProcEntry[]>()
  for (const p of table) {
    const list = children.get(p.ppid) ?? []
    list.push(p)
    children.set(p.ppid, list)
  }
  const found: ProcEntry[] = []
  const queue = [root]
  while (queue.length > 0 && found.length < 10_000) {
    const pid = queue.shift() as number
    for (const c of children.get(pid) ?? []) {
      found.push(c)
      queue.push(c.pid)
    }
  }
  return found
}

function trySignal (target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal)
  } catch {
    // Already gone.
  }
}

/**
 * Sends `signal` to `root` (a process-group leader we spawned detached), its group, and every
 * descendant and descendant process group. Never signals this process's own group.
 */
export async function signalTree (root: number, signal: NodeJS.Signals): Promise<void> {
  const own = new Set([process.pid, ownPgrp()])
  const tree = await descendants(root)
  if (!own.has(root)) trySignal(-root, signal)
  const groups = new Set<number>()
  for (const p of tree) {
    if (p.pgrp > 1 && !own.has(p.pgrp) && p.pgrp !== root) groups.add(p.pgrp)
  }
  for (const g of groups) trySignal(-g, signal)
  for (const p of tree) if (!own.has(p.pid)) trySignal(p.pid, signal)
}

let cachedPgrp: number | undefined
function ownPgrp (): number {
  if (cachedPgrp === undefined) {
    try {
      // Synchronous read is fine once; /proc/self/stat is tiny.
      const stat = readFileSync('/proc/self/stat', 'utf8')
      cachedPgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])
    } catch {
      cachedPgrp = process.pid
    }
  }
  return cachedPgrp
}

/**
 * Asks every ssh control master with a socket in `dir` to exit, so a run leaves no ssh
 * processes behind and a later run cannot ride on a stale connection.
 */
export async function closeControlMasters (dir: string, signal?: AbortSignal): Promise<number> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return 0
  }
  let closed = 0
  await Promise.all(names.map(async name => {
    const path = join(dir, name)
    try {
      if (!(await lstat(path)).isSocket()) return
    } catch {
      return
    }
    const r = await execa(SSH_PATH, ['-o', `ControlPath=${path}`, '-O', 'exit', 'clusterd-control-master'], {
      extendEnv: false, env: { PATH: RUNNER_PATH_ENV }, reject: false, timeout: 5000, stdin: 'ignore', ...(signal !== undefined ? { cancelSignal: signal } : {})
    })
    if (r.exitCode === 0) closed++
  }))
  return closed
}
