/**
 * Node facts: what a node tells the cluster about itself. Cheap to collect (no child
 * processes), so it runs at start and on a slow refresh timer. SSH host public keys are read
 * from sshd's host key files: the manager pins them for strict host-key checking.
 */

import { readdir, readFile, statfs } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import type { HostKey, NodeBoot, NodeFacts } from '../../protocol/members.js'

/** Where facts come from; overridable for tests and unusual hosts. */
export interface FactsInit {
  /** Directory holding `ssh_host_*_key.pub`. Default `/etc/ssh`. */
  sshDir?: string
  /** Agent version string. */
  agentVersion: string
  /** File holding the kernel's boot id. Default `/proc/sys/kernel/random/boot_id`. */
  bootIdPath?: string
}

// When this process started: fixed for the life of the agent, new on every restart.
const AGENT_STARTED_AT = new Date(Math.floor(performance.timeOrigin)).toISOString()

const REAL_FS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'vfat', 'f2fs', 'overlay', 'tmpfs'])
const SKIP_MOUNT_PREFIXES = ['/proc', '/sys', '/dev', '/run', '/snap']

/** Parse `ssh_host_*_key.pub` contents into host keys. Lines that do not parse are skipped. */
export function parseHostKeyLines (text: string): HostKey[] {
  const keys: HostKey[] = []
  for (const line of text.split('\n')) {
    const [type, key] = line.trim().split(/\s+/)
    if (type !== undefined && key !== undefined && /^(ssh-|ecdsa-|sk-)[a-z0-9@.-]+$/.test(type) && /^[A-Za-z0-9+/=]+$/.test(key)) keys.push({ type, key })
  }
  return keys
}

async function hostKeys (dir: string): Promise<HostKey[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const keys: HostKey[] = []
  for (const name of names.filter(n => /^ssh_host_[a-z0-9]+_key\.pub$/.test(n)).sort()) {
    try {
      keys.push(...parseHostKeyLines(await readFile(join(dir, name), 'utf8')))
    } catch { /* unreadable key file: skip it, the others still count */ }
  }
  return keys
}

async function distro (): Promise<string> {
  try {
    const text = await readFile('/etc/os-release', 'utf8')
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)
    return m?.[1] ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

async function disks (): Promise<NodeFacts['disks']> {
  let mounts: string
  try {
    mounts = await readFile('/proc/self/mounts', 'utf8')
  } catch {
    return []
  }
  const seen = new Set<string>()
  const out: NodeFacts['disks'] = []
  for (const line of mounts.split('\n')) {
    const [, mount, fstype] = line.split(' ')
    if (mount === undefined || fstype === undefined || !REAL_FS.has(fstype) || seen.has(mount)) continue
    if (SKIP_MOUNT_PREFIXES.some(p => mount === p || mount.startsWith(`${p}/`))) continue
    if (fstype === 'tmpfs' && mount !== '/tmp') continue
    seen.add(mount)
    try {
      const s = await statfs(mount)
      out.push({ mount: mount.replace(/\\040/g, ' '), sizeBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize })
    } catch { /* vanished or inaccessible mount */ }
    if (out.length >= 32) break
  }
  return out
}

function addresses (): string[] {
  const out: string[] = []
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal) out.push(a.address)
  }
  return out.slice(0, 32)
}

/** This boot of the node and this start of the agent (see NodeFacts.boot). */
export async function nodeBoot (bootIdPath = '/proc/sys/kernel/random/boot_id'): Promise<NodeBoot> {
  let id = ''
  try {
    id = (await readFile(bootIdPath, 'utf8')).trim().slice(0, 64)
  } catch { /* no procfs: the agent start time still tells restarts apart */ }
  return { id, agentStartedAt: AGENT_STARTED_AT }
}

/** Collect this node's facts. */
export async function collectFacts (init: FactsInit): Promise<NodeFacts> {
  return {
    hostname: os.hostname(),
    addresses: addresses(),
    os: { platform: os.platform(), release: os.release(), distro: await distro() },
    kernel: os.version(),
    arch: os.arch(),
    cpus: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    disks: await disks(),
    agentVersion: init.agentVersion,
    sshHostKeys: await hostKeys(init.sshDir ?? '/etc/ssh'),
    boot: await nodeBoot(init.bootIdPath)
  }
}
