/**
 * Tearing a host set down, in the order that lets the next run start clean (docs/ansible.md: else
 * `RTNETLINK answers: File exists`): close ssh control masters, abort sockets inside, kill every
 * process in the namespaces and wait until they are out, `ip netns del`, delete the root-side
 * veths, then the bridge; files last. An async version for normal use and a synchronous one for
 * the process 'exit' hook, which cannot wait on promises.
 */
import { readdirSync, rmSync } from 'node:fs'
import type { Logger } from 'pino'
import { BIN, KILL_TIMEOUT_MS, PIDFILE_DIR } from './constants.js'
import { listLinks, listNetns, SetNames } from './net.js'
import { delay, delaySync, killAll, netnsInode, pidsInNetns, run, runSync } from './proc.js'
import { isStale, listSlots, setStateDir, slotDir } from './state.js'

/** Everything one teardown removes. */
export interface TeardownPlan {
  netns: string[]
  /** Root-side veths. */
  links: string[]
  bridge: string | null
  /** Dir of ssh ControlPath sockets whose masters are closed first. */
  controlDir: string | null
  stateDir: string | null
  /** Removed last, once the names are free again. */
  slotDir: string | null
}

/** What a teardown could not remove (empty = clean). */
export interface TeardownLeftovers {
  netns: string[]
  links: string[]
  pids: number[]
}

/** The plan for every resource named after `names` that exists now (plus the known ones). */
export function planForSet (names: SetNames, extra: { netns?: string[], links?: string[], releaseSlot: boolean }): TeardownPlan {
  const netns = new Set([...(extra.netns ?? []), ...listNetns().filter(n => names.owns(n))])
  const links = new Set([...(extra.links ?? []), ...listLinks().filter(l => names.owns(l) && l !== names.bridge)])
  const stateDir = setStateDir(names.prefix, names.slot)
  return {
    netns: [...netns],
    links: [...links],
    bridge: names.bridge,
    controlDir: `${stateDir}/control`,
    stateDir,
    slotDir: extra.releaseSlot ? slotDir(names.slot) : null
  }
}

function controlSockets (dir: string | null): string[] {
  if (dir == null) return []
  try {
    return readdirSync(dir).map(f => `${dir}/${f}`)
  } catch {
    return []
  }
}

function exitMasterArgv (socket: string): string[] {
  return [BIN.ssh, '-F', '/dev/null', '-o', `ControlPath=${socket}`, '-O', 'exit', 'test-host']
}

function deleteBatch (plan: TeardownPlan): string {
  const lines = [
    ...plan.netns.map(n => `netns del ${n}`),
    ...plan.links.map(l => `link del ${l}`),
    ...(plan.bridge == null ? [] : [`link del ${plan.bridge}`])
  ]
  return lines.join('\n') + '\n'
}

function inodesOf (netns: readonly string[]): Set<number> {
  const inodes = new Set<number>()
  for (const n of netns) {
    const ino = netnsInode(n)
    if (ino != null) inodes.add(ino)
  }
  return inodes
}

function leftovers (plan: TeardownPlan, pids: number[]): TeardownLeftovers {
  const netns = new Set(listNetns())
  const links = new Set(listLinks())
  return {
    netns: plan.netns.filter(n => netns.has(n)),
    links: [...plan.links, ...(plan.bridge == null ? [] : [plan.bridge])].filter(l => links.has(l)),
    pids
  }
}

function isClean (l: TeardownLeftovers): boolean {
  return l.netns.length === 0 && l.links.length === 0 && l.pids.length === 0
}

function removeFiles (plan: TeardownPlan, clean: boolean): void {
  for (const n of plan.netns) rmSync(`${PIDFILE_DIR}/${n}.pid`, { force: true })
  if (plan.stateDir != null) rmSync(plan.stateDir, { recursive: true, force: true })
  // Keep the slot reserved when names are still taken, so nobody builds on top of them;
  // the next sweep retries.
  if (plan.slotDir != null && clean) rmSync(plan.slotDir, { recursive: true, force: true })
}

/** Removes everything in `plan`; returns what is still there after the deadlines. */
export async function teardown (plan: TeardownPlan, log?: Logger): Promise<TeardownLeftovers> {
  await Promise.all(controlSockets(plan.controlDir).map(async s => await run(exitMasterArgv(s), { timeoutMs: 5_000 })))
  await Promise.all(plan.netns.map(async n => await run([BIN.ip, 'netns', 'exec', n, 'ss', '-K', '-t', '-a'], { timeoutMs: 5_000 })))

  const inodes = inodesOf(plan.netns)
  const deadline = Date.now() + KILL_TIMEOUT_MS
  let pids = pidsInNetns(inodes)
  while (pids.length > 0 && Date.now() < deadline) {
    killAll(pids)
    await delay(10)
    pids = pidsInNetns(inodes)
  }

  // -force: go on after a line fails (a veth already went with its namespace).
  await run([BIN.ip, '-force', '-batch', '-'], { input: deleteBatch(plan), timeoutMs: 10_000 })

  // netns cleanup in the kernel is asynchronous: wait until the names are really free.
  let left = leftovers(plan, pids)
  const namesDeadline = Date.now() + KILL_TIMEOUT_MS
  while (!isClean(left) && Date.now() < namesDeadline) {
    await delay(20)
    left = leftovers(plan, pidsInNetns(inodes))
  }
  removeFiles(plan, isClean(left))
  if (!isClean(left)) log?.warn({ left }, 'teardown left resources behind')
  return left
}

/** `teardown` for the process 'exit' hook: same steps, blocking. */
export function teardownSync (plan: TeardownPlan): TeardownLeftovers {
  for (const s of controlSockets(plan.controlDir)) runSync(exitMasterArgv(s), { timeoutMs: 5_000 })
  for (const n of plan.netns) runSync([BIN.ip, 'netns', 'exec', n, 'ss', '-K', '-t', '-a'], { timeoutMs: 5_000 })
  const inodes = inodesOf(plan.netns)
  const deadline = Date.now() + KILL_TIMEOUT_MS
  let pids = pidsInNetns(inodes)
  while (pids.length > 0 && Date.now() < deadline) {
    killAll(pids)
    delaySync(10)
    pids = pidsInNetns(inodes)
  }
  runSync([BIN.ip, '-force', '-batch', '-'], { input: deleteBatch(plan), timeoutMs: 10_000 })
  let left = leftovers(plan, pids)
  const namesDeadline = Date.now() + KILL_TIMEOUT_MS
  while (!isClean(left) && Date.now() < namesDeadline) {
    delaySync(20)
    left = leftovers(plan, pidsInNetns(inodes))
  }
  removeFiles(plan, isClean(left))
  return left
}

/**
 * Removes what earlier runs left behind: every slot whose owner process is gone (any prefix),
 * and any namespace or link named with `prefix` that no live set of that prefix owns.
 * Live sets (another test file running now, or a CLI-made persistent set) are left alone.
 * Returns the slots swept.
 */
export async function sweep (prefix: string, log?: Logger): Promise<number[]> {
  const swept: number[] = []
  const liveForPrefix = new Set<number>()
  for (const entry of listSlots()) {
    if (!isStale(entry)) {
      if (entry.owner == null || entry.owner.prefix === prefix) liveForPrefix.add(entry.slot)
      continue
    }
    if (entry.owner == null) {
      // A create that died between mkdir and writing its owner: no names to go by; the orphan
      // pass below (by name) catches resources of this prefix.
      rmSync(slotDir(entry.slot), { recursive: true, force: true })
      continue
    }
    log?.info({ slot: entry.slot, owner: entry.owner }, 'sweeping stale test-host set')
    await teardown(planForSet(new SetNames(entry.owner.prefix, entry.slot), { releaseSlot: true }), log)
    swept.push(entry.slot)
  }

  const re = new RegExp(`^${prefix}(\\d+)-`)
  const orphanSlots = new Set<number>()
  for (const name of [...listNetns(), ...listLinks()]) {
    const m = re.exec(name)
    if (m?.[1] != null && !liveForPrefix.has(Number(m[1]))) orphanSlots.add(Number(m[1]))
  }
  for (const slot of orphanSlots) {
    log?.info({ prefix, slot }, 'sweeping orphan test-host resources')
    // The slot number may be reserved by a live set of another prefix: never release it here.
    await teardown(planForSet(new SetNames(prefix, slot), { releaseSlot: false }), log)
    swept.push(slot)
  }
  return swept
}
