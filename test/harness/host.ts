/**
 * One test host: a network namespace with its own sshd, hostname and private mounts. Its "OS"
 * is a private mount namespace started with `ip netns exec` + `unshare`, whose last exec is sshd;
 * everything else (exec, agents) joins sshd's namespaces with nsenter, so it sees the same files.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { appendFile, lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import { BIN, HOST_BASE_ENV, REPO_ROOT, KILL_TIMEOUT_MS, OVERLAY_DIRS, PIDFILE_DIR, READY_TIMEOUT_MS, SSH_VERIFY_TIMEOUT_MS, STATE_ROOT, TMPFS_DIRS } from './constants.js'
import { killSockets, setLink, type SetNames } from './net.js'
import { waitFor } from './poll.js'
import { delay, killAll, netnsInode, pidsInNetns, processStartTime, run } from './proc.js'
import { FENCE_DROP_IN, FENCE_DROP_IN_TEXT, GATE_PATH, GATE_SOURCE, gateKeyOptions, generateKey, sshArgv, sshdConfig, type SshClientInit } from './sshd.js'

/** Result of a command run inside a host; `code` is null when it died by a signal. */
export interface HostExecResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Options of `TestHost.exec`. */
export interface HostExecOptions {
  /** Added to the host's clean base env (PATH, HOME=/root, LANG). */
  env?: Record<string, string>
  /** Working directory inside the host (default `/`). */
  cwd?: string
  /** Written to the command's stdin (default: no stdin). */
  stdin?: string
  timeoutMs?: number
  signal?: AbortSignal
}

/** Options of `TestHost.spawn`. */
export interface HostSpawnOptions {
  env?: Record<string, string>
  cwd?: string
  /** Default `'pipe'`. */
  stdio?: StdioOptions
}

/** Options of `TestHost.ssh`. */
export interface HostSshOptions {
  /** Use another known_hosts (to prove a wrong key is refused). */
  knownHostsPath?: string
  controlPath?: string
  timeoutMs?: number
  signal?: AbortSignal
}

/** What a host gets from its set. */
export interface TestHostComponents {
  names: SetNames
  /** The set's state dir; the host lives in `<dir>/hosts/<name>`. */
  setStateDir: string
  client: SshClientInit
  /** The client public key line, authorized for root at boot. */
  clientPublicKey: string
  log: Logger
}

/** Per-host settings. */
export interface TestHostInit {
  /** 1-based position in the set (address `.index+1`). */
  index: number
  /** Detach sshd so it outlives this process (CLI `up`). */
  persistent?: boolean
}

// A constant script; every variable part comes in as a positional argument, never spliced in.
// $1 hostname, $2 upper root, $3 work root, $4 /root source, $5 harness state root (hidden),
// $6 the repository (bound back at its own path last, whatever the mounts above cover).
const BOOT_SCRIPT = [
  'set -e',
  'hostname "$1"',
  'mount --bind "$6" /mnt',
  ...OVERLAY_DIRS.filter(d => d !== '/var').map(d =>
    `mount -t overlay overlay -o "lowerdir=${d},upperdir=$2${d},workdir=$3${d}" ${d}`),
  'mount --bind "$4" /root',
  // /var last: the upper dirs are under /var/tmp and must be resolved before /var is overlaid.
  'mount -t overlay overlay -o "lowerdir=/var,upperdir=$2/var,workdir=$3/var" /var',
  ...TMPFS_DIRS.map(d => `mkdir -p ${d} && mount -t tmpfs -o mode=${d === '/tmp' ? '1777' : '755'} tmpfs ${d}`),
  // Otherwise this mount namespace pins every other host's network namespace.
  'umount -R -l /run/netns 2>/dev/null || true',
  // Hide every set's upper dirs (other hosts' files) from this host.
  'mount -t tmpfs -o mode=700 tmpfs "$5"',
  'mkdir -p "$6" && mount --bind /mnt "$6" && umount -l /mnt',
  // Nice 10: what sshd runs (the remote side of Ansible's tasks) is this host's own work, which on
  // real hosts has its own CPUs; here every host shares the machine's, and it must not starve the
  // other hosts' agents (their heartbeats) any more than it would on separate machines.
  `exec nice -n 10 ${BIN.sshd} -D -f /etc/ssh/sshd_config -E /var/log/sshd.log`
].join('\n')

/** A host of a `TestHosts` set. Create through `TestHosts`, not directly. */
export class TestHost {
  /** Name of the host = its netns name = its hostname, e.g. `cd0-h1`. */
  readonly name: string
  /** Its hostname (uts namespace). */
  readonly hostname: string
  /** IPv4 address on the set's private subnet. */
  readonly address: string
  /** 1-based position in the set. */
  readonly index: number
  /** Root-side veth (what cutLink takes down). */
  readonly veth: string
  /** Root-side dir holding this host's upper dirs (`upper/etc`...), work dirs and /root. */
  readonly stateDir: string
  /** `ssh-ed25519 AAAA... <name>` line of its sshd host key (set once prepared). */
  hostKeyPublic = ''

  private readonly components: TestHostComponents
  private readonly persistent: boolean
  private readonly pidFile: string
  private child: ChildProcess | null = null
  private sshdPid: number | null = null
  private linkUp = true

  constructor (components: TestHostComponents, init: TestHostInit) {
    this.components = components
    this.index = init.index
    this.persistent = init.persistent ?? false
    this.name = components.names.host(init.index)
    this.hostname = this.name
    this.address = components.names.address(init.index)
    this.veth = components.names.veth(init.index)
    this.stateDir = `${components.setStateDir}/hosts/${this.name}`
    this.pidFile = `${PIDFILE_DIR}/${this.name}.pid`
  }

  /** True while its sshd runs (powered on). */
  get running (): boolean {
    return this.sshdPid != null
  }

  /** Pid of its sshd (the process every exec/spawn joins), or null when powered off. */
  get pid (): number | null {
    return this.sshdPid
  }

  /** True unless `cutLink` took the link down. */
  get linked (): boolean {
    return this.linkUp
  }

  /** Root-side path of the upper dir of overlaid dir `dir` (e.g. `/etc`): the host's own writes. */
  upperDir (dir: (typeof OVERLAY_DIRS)[number]): string {
    return `${this.stateDir}/upper${dir}`
  }

  /** Root-side path of the dir mounted as the host's /root. */
  get rootHome (): string {
    return `${this.stateDir}/root`
  }

  /** @internal Creates dirs, host key, sshd config and /etc identity files (before the netns exists). */
  async prepare (): Promise<void> {
    await Promise.all(OVERLAY_DIRS.flatMap(d => [
      mkdir(`${this.stateDir}/upper${d}`, { recursive: true }),
      mkdir(`${this.stateDir}/work${d}`, { recursive: true })
    ]))
    await mkdir(`${this.rootHome}/.ssh`, { recursive: true, mode: 0o700 })
    await writeFile(`${this.rootHome}/.ssh/authorized_keys`, this.components.clientPublicKey + '\n', { mode: 0o600 })
    const etc = this.upperDir('/etc')
    await mkdir(`${etc}/ssh`, { recursive: true })
    this.hostKeyPublic = await generateKey(`${etc}/ssh/ssh_host_ed25519_key`, this.name)
    // Hide the machine's own host keys (overlay whiteouts): a host must report, and an agent
    // must read from /etc/ssh, only the key its sshd actually serves.
    for (const type of ['rsa', 'ecdsa', 'dsa']) {
      for (const suffix of ['', '.pub']) {
        const path = `${etc}/ssh/ssh_host_${type}_key${suffix}`
        await run([BIN.mknod, path, 'c', '0', '0'])
      }
    }
    await writeFile(`${etc}/ssh/sshd_config`, sshdConfig({
      address: this.address,
      pidFile: this.pidFile,
      hostKeyPath: '/etc/ssh/ssh_host_ed25519_key'
    }))
    // The node gate and its sshd drop-in, as bootstrap.sh installs them on every node.
    await mkdir(`${etc}/ssh/sshd_config.d`, { recursive: true })
    await writeFile(`${this.stateDir}/upper${FENCE_DROP_IN}`, FENCE_DROP_IN_TEXT)
    const gate = `${this.stateDir}/upper${GATE_PATH}`
    await mkdir(gate.slice(0, gate.lastIndexOf('/')), { recursive: true })
    await writeFile(gate, await readFile(GATE_SOURCE), { mode: 0o755 })
    await writeFile(`${etc}/hostname`, this.name + '\n')
    const hosts = readFileSync('/etc/hosts', 'utf8')
    await writeFile(`${etc}/hosts`, `${hosts.trimEnd()}\n${this.address} ${this.name}\n`)
  }

  /** @internal Starts the host's sshd and waits for its pid file (ready = listening). */
  async boot (): Promise<void> {
    if (this.running) return
    await rm(this.pidFile, { force: true })
    const bootLog = `${this.stateDir}/boot.log`
    const logFd = openSync(bootLog, 'w')
    let child: ChildProcess
    try {
      // ip netns exec and unshare (no --fork) both exec: the child pid ends up being sshd.
      child = spawn(BIN.ip, [
        'netns', 'exec', this.name,
        BIN.unshare, '--mount', '--uts', '--propagation', 'private',
        BIN.sh, '-c', BOOT_SCRIPT, 'boot', this.hostname, `${this.stateDir}/upper`, `${this.stateDir}/work`, this.rootHome, STATE_ROOT, REPO_ROOT
      ], {
        stdio: ['ignore', logFd, logFd],
        env: { ...HOST_BASE_ENV },
        detached: this.persistent
      })
    } finally {
      closeSync(logFd)
    }
    // Never let a forgotten host keep the test process alive; the exit hook tears it down.
    child.unref()
    this.child = child
    let exited = false
    child.once('exit', () => {
      exited = true
      if (this.child === child) this.child = null
    })
    const deadline = Date.now() + READY_TIMEOUT_MS
    while (!existsSync(this.pidFile)) {
      if (exited || Date.now() > deadline) {
        const log = await readFile(bootLog, 'utf8').catch(() => '')
        child.kill('SIGKILL')
        throw new Error(`host ${this.name} did not start (${exited ? 'boot exited' : 'timeout'}): ${log.trim()}`)
      }
      await delay(3)
    }
    // sshd may have written the file but not yet the newline; the pid is what we need.
    const pid = await waitFor(async () => {
      const n = Number.parseInt(await readFile(this.pidFile, 'utf8'), 10)
      return Number.isInteger(n) && n > 0 ? n : null
    }, { timeoutMs: 2_000, intervalMs: 2, message: `pid file of ${this.name}` })
    this.sshdPid = pid
    this.components.log.debug({ host: this.name, pid }, 'host up')
  }

  /** @internal Proves the host is reachable by real ssh with strict host key checking. */
  async verifySsh (): Promise<void> {
    const r = await this.ssh(['true'], { timeoutMs: SSH_VERIFY_TIMEOUT_MS })
    if (r.code !== 0) throw new Error(`ssh to ${this.name} (${this.address}) failed: code ${String(r.code)} ${r.stderr.trim()}`)
  }

  private nsenterArgs (cwd: string | undefined): string[] {
    if (this.sshdPid == null) throw new Error(`host ${this.name} is powered off`)
    return [`--target=${this.sshdPid}`, '--net', '--mount', '--uts', ...(cwd == null ? [] : [`--wdns=${cwd}`]), '--']
  }

  /** Runs argv inside the host (net + mount + uts namespaces of its sshd) to completion. */
  async exec (argv: string[], opts: HostExecOptions = {}): Promise<HostExecResult> {
    const r = await run([BIN.nsenter, ...this.nsenterArgs(opts.cwd), ...argv], {
      env: { ...HOST_BASE_ENV, ...opts.env },
      input: opts.stdin,
      timeoutMs: opts.timeoutMs,
      signal: opts.signal
    })
    return { code: r.code, stdout: r.stdout, stderr: r.stderr }
  }

  /**
   * Starts a long-running process (an agent) inside the host. It is a child of this process
   * (nsenter execs into argv, same pid) and dies with powerOff/destroy.
   */
  spawn (argv: string[], opts: HostSpawnOptions = {}): ChildProcess {
    return spawn(BIN.nsenter, [...this.nsenterArgs(opts.cwd), ...argv], {
      env: { ...HOST_BASE_ENV, ...opts.env },
      stdio: opts.stdio ?? 'pipe'
    })
  }

  /** Runs a command on the host through real ssh (strict host key checking, the set's key). */
  async ssh (remote: string[], opts: HostSshOptions = {}): Promise<HostExecResult> {
    const r = await run(this.sshArgv(remote, opts), { timeoutMs: opts.timeoutMs, signal: opts.signal })
    return { code: r.code, stdout: r.stdout, stderr: r.stderr }
  }

  /** The argv `ssh()` runs (for tools that want to run ssh themselves). */
  sshArgv (remote: string[], opts: Pick<HostSshOptions, 'knownHostsPath' | 'controlPath'> = {}): string[] {
    return sshArgv({
      ...this.components.client,
      ...(opts.knownHostsPath == null ? {} : { knownHostsPath: opts.knownHostsPath }),
      ...(opts.controlPath == null ? {} : { controlPath: opts.controlPath })
    }, this.address, remote)
  }

  /**
   * A file as the host sees it, or null when absent. Powered on: read through its sshd's root
   * (/proc/PID/root). Powered off: resolved from its disk (upper dir, else the machine's file);
   * its tmpfs dirs are gone then.
   */
  async readFile (path: string): Promise<string | null> {
    if (!path.startsWith('/')) throw new Error(`readFile needs an absolute path: ${path}`)
    const real = this.sshdPid == null ? await this.offlinePath(path) : this.pathFromRoot(path)
    if (real == null) return null
    try {
      return await readFile(real, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  }

  private async offlinePath (path: string): Promise<string | null> {
    const under = (dir: string): boolean => path === dir || path.startsWith(dir + '/')
    if (TMPFS_DIRS.some(under)) return null
    if (under('/root')) return this.rootHome + path.slice('/root'.length)
    const dir = OVERLAY_DIRS.find(under)
    if (dir == null) return path
    const upper = this.upperDir(dir) + path.slice(dir.length)
    try {
      const st = await lstat(upper)
      // An overlay whiteout (char device 0/0) records a deletion.
      return st.isCharacterDevice() && st.rdev === 0 ? null : upper
    } catch {
      return path
    }
  }

  /**
   * A root-side path to `path` as the host sees it (through /proc/<sshd pid>/root), e.g. to
   * connect to an agent's socket in the host's private /run/clusterd. Valid while powered on.
   */
  pathFromRoot (path: string): string {
    if (this.sshdPid == null) throw new Error(`host ${this.name} is powered off`)
    if (!path.startsWith('/')) throw new Error(`pathFromRoot needs an absolute path: ${path}`)
    return `/proc/${this.sshdPid}/root${path}`
  }

  /**
   * Appends a public key line to the host's /root/.ssh/authorized_keys; `gated`: with the options
   * bootstrap.sh gives the cluster's manager key (every session through the node gate).
   */
  async authorizeKey (publicKeyLine: string, options: { gated?: boolean } = {}): Promise<void> {
    const line = options.gated === true ? `${gateKeyOptions()} ${publicKeyLine.trim()}` : publicKeyLine.trim()
    await appendFile(`${this.rootHome}/.ssh/authorized_keys`, line + '\n', { mode: 0o600 })
  }

  /**
   * Pulls the plug: aborts its TCP sockets, kills every process in its netns (sshd, sessions,
   * spawned agents) and waits until they are out. Files stay (see powerOn).
   */
  async powerOff (): Promise<void> {
    if (this.sshdPid == null) return
    const child = this.child
    this.sshdPid = null
    await killSockets(this.name)
    const ino = netnsInode(this.name)
    if (ino != null) {
      const inodes = new Set([ino])
      await waitFor(() => {
        const pids = pidsInNetns(inodes)
        killAll(pids)
        return pids.length === 0
      }, { timeoutMs: KILL_TIMEOUT_MS, intervalMs: 10, message: `processes of ${this.name} to die` })
    }
    if (child != null && child.exitCode == null && child.signalCode == null) {
      await Promise.race([once(child, 'exit'), delay(KILL_TIMEOUT_MS)])
    }
    await rm(this.pidFile, { force: true })
    this.components.log.debug({ host: this.name }, 'host powered off')
  }

  /** Boots again over the same upper dirs (a reboot that keeps files); ready when ssh works. */
  async powerOn (): Promise<void> {
    if (this.running) return
    await this.boot()
    await this.verifySsh()
  }

  /** Takes the root-side veth down: the host is unreachable, and does not notice. */
  async cutLink (): Promise<void> {
    await setLink(this.veth, false)
    this.linkUp = false
  }

  /** Brings the root-side veth back up. */
  async restoreLink (): Promise<void> {
    await setLink(this.veth, true)
    this.linkUp = true
  }

  /** @internal Forgets the processes (after the set's teardown killed them). */
  markDestroyed (): void {
    this.sshdPid = null
    this.child = null
  }

  /** @internal True when sshd is alive per /proc (not just `kill -0`, which sees zombies). */
  sshdAlive (): boolean {
    return this.sshdPid != null && processStartTime(this.sshdPid) != null
  }
}
