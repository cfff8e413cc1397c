import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
/**
 * Defaults and fixed paths of the test-host harness. Facts behind them are in docs/ansible.md
 * ("Test hosts").
 */

/** Root of all harness state; one dir per prefix and slot. Outside /root and never bind-mounted. */
export const STATE_ROOT = '/var/tmp/clusterd-test'

/**
 * The repository root: the nearest directory above this file with clusterd's package.json.
 * Each host binds it at the same path, so agents run from it wherever the checkout lives
 * (a CI clone under /tmp or /root would otherwise be hidden by the host's private mounts).
 */
export const REPO_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (dir !== dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'clusterd') return dir
    } catch { /* not here */ }
    dir = dirname(dir)
  }
  throw new Error('test harness: cannot find the clusterd repository root above ' + fileURLToPath(import.meta.url))
})()

/** Slot reservations (`mkdir` is the atomic lock): one dir per live set, global across prefixes. */
export const SLOTS_DIR = `${STATE_ROOT}/.slots`

/** sshd pid files: on the shared /run so the root side can see them (ready = the file exists). */
export const PIDFILE_DIR = '/run/clusterd-test'

/** Slot n owns the subnet `${SUBNET_PREFIX}.n.0/24`; the root namespace takes `.1` on the bridge. */
export const SUBNET_PREFIX = '10.213'

/** Slots 0..MAX_SLOT-1; the third octet of the subnet. */
export const MAX_SLOT = 250

/** Hosts per set: addresses .2 .. .253. */
export const MAX_HOSTS_PER_SET = 252

/** Used when `TestHostsInit.prefix` is not given. */
export const DEFAULT_PREFIX = 'cd'

/**
 * A prefix is short (names stay <= 15 chars: `${prefix}${slot}-v${index}`) and ends in a letter
 * so `cd1` + slot `0` can never be read as `cd` + slot `10`.
 */
export const PREFIX_PATTERN = /^[a-z](?:[a-z0-9]{0,3}[a-z])?$/

/**
 * Dirs overlaid per host (the host sees Debian, its writes land in its own upper dir).
 * `/var` comes last: the upper dirs live under /var/tmp, and once /var is overlaid inside the
 * host's mount namespace those paths resolve into the overlay and cannot be used as upper dirs.
 */
export const OVERLAY_DIRS = ['/etc', '/opt', '/home', '/srv', '/usr/local', '/var'] as const

/** Private tmpfs mounts per host; `/run` is otherwise shared with the machine. */
export const TMPFS_DIRS = ['/tmp', '/run/clusterd'] as const

/** Absolute paths of the tools the harness runs (never rely on PATH for these). */
export const BIN = {
  ip: '/usr/sbin/ip',
  nsenter: '/usr/bin/nsenter',
  unshare: '/usr/bin/unshare',
  sh: '/bin/sh',
  sshd: '/usr/sbin/sshd',
  ssh: '/usr/bin/ssh',
  sshKeygen: '/usr/bin/ssh-keygen',
  mknod: '/usr/bin/mknod'
} as const

/** The environment a process inside a host starts with (plus what the caller adds): a clean machine. */
export const HOST_BASE_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  USER: 'root',
  LOGNAME: 'root'
}

/** How long an sshd may take to write its pid file. */
export const READY_TIMEOUT_MS = 10_000

/** How long killed processes may take to leave a network namespace. */
export const KILL_TIMEOUT_MS = 5_000

/** How long teardown on SIGINT/SIGTERM may take before the process exits anyway. */
export const SIGNAL_TEARDOWN_TIMEOUT_MS = 15_000

/** ssh ConnectTimeout (seconds) for the readiness check and `TestHost.ssh`. */
export const SSH_CONNECT_TIMEOUT_S = 5

/** Timeout of one readiness ssh (ms). */
export const SSH_VERIFY_TIMEOUT_MS = 15_000

/** Parallel readiness ssh connections (2 cores: more only queues). */
export const SSH_VERIFY_CONCURRENCY = 6

/** A slot dir without an owner record older than this is a crashed create. */
export const ORPHAN_SLOT_AGE_MS = 60_000
