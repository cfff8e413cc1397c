/**
 * A set of real test hosts on one private bridge and /24: what every integration test and
 * benchmark starts from. docs/ansible.md ("Test hosts") has the facts behind the design.
 */
import { mkdirSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { pino, type Logger } from 'pino'
import { fillCompileCache } from './compile-cache.js'
import { DEFAULT_PREFIX, MAX_HOSTS_PER_SET, PIDFILE_DIR, PREFIX_PATTERN, SSH_VERIFY_CONCURRENCY } from './constants.js'
import { track, untrack } from './exit-hooks.js'
import { TestHost } from './host.js'
import { createBridge, createHostLinks, SetNames, subnetsInUse } from './net.js'
import { ensureNeighbourRoom } from './neighbour-table.js'
import { generateKey, knownHostsLine } from './sshd.js'
import { claimSlot, setStateDir, type SlotOwner } from './state.js'
import { planForSet, sweep, teardown, teardownSync, type TeardownLeftovers, type TeardownPlan } from './teardown.js'

export { TestHost } from './host.js'
export type { HostExecOptions, HostExecResult, HostSpawnOptions, HostSshOptions } from './host.js'

/** Options of `TestHosts.create`. */
export interface TestHostsInit {
  /** Hosts to start (more can join with `addHost`). */
  count: number
  /** Short name stem (1-5 chars, letters/digits, ends in a letter), e.g. `cd`; default `cd`. */
  prefix?: string
  /** Prove each host with a real ssh before returning (default true). */
  verifySsh?: boolean
  /** Hosts outlive this process (CLI `up`); only `down` / `destroy` remove them. */
  persistent?: boolean
  logger?: Logger
}

/** The set's files, as the CLI prints them. */
export interface TestHostsDescription {
  prefix: string
  slot: number
  bridge: string
  bridgeAddress: string
  stateDir: string
  clientKeyPath: string
  knownHostsPath: string
  controlDir: string
  hosts: Array<{ name: string, hostname: string, address: string, pid: number | null }>
}

async function inBatches<T> (items: readonly T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  const workers = Array.from({ length: Math.min(size, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item)
  })
  await Promise.all(workers)
}

/** A set of test hosts on one private bridge + subnet. */
export class TestHosts {
  /** The hosts, in index order (host `i` is `hosts[i - 1]`). */
  readonly hosts: TestHost[] = []
  /** ed25519 private key the tests use to ssh as root (authorized on every host). */
  readonly clientKeyPath: string
  /** known_hosts generated from the host keys made here (address and name of each host). */
  readonly knownHostsPath: string
  /** Put ssh ControlPath sockets here (e.g. `${controlDir}/%C`): destroy closes their masters first. */
  readonly controlDir: string
  /** Root-side state of the set (keys, known_hosts, per-host upper dirs). */
  readonly stateDir: string
  /** Kernel names and subnet of the set. */
  readonly names: SetNames

  private readonly owner: SlotOwner
  private readonly verify: boolean
  private readonly log: Logger
  private clientPublicKey = ''
  private nextIndex = 1
  private destroyed: Promise<void> | null = null
  // The create/addHost in flight: destroy (e.g. on SIGINT) waits for it, or it would go on
  // creating links after the teardown looked.
  private busy: Promise<unknown> = Promise.resolve()

  private constructor (owner: SlotOwner, init: TestHostsInit, log: Logger) {
    this.owner = owner
    this.names = new SetNames(owner.prefix, owner.slot)
    this.stateDir = setStateDir(owner.prefix, owner.slot)
    this.clientKeyPath = `${this.stateDir}/client_ed25519`
    this.knownHostsPath = `${this.stateDir}/known_hosts`
    this.controlDir = `${this.stateDir}/control`
    this.verify = init.verifySsh ?? true
    this.log = log
  }

  /**
   * Sweeps what earlier (crashed or interrupted) runs of this prefix left, reserves a free slot
   * (bridge `<prefix><slot>-br`, subnet 10.213.<slot>.0/24, root side .1) and starts `count` hosts.
   * A failed create tears down what it built before rethrowing.
   */
  static async create (init: TestHostsInit): Promise<TestHosts> {
    const prefix = init.prefix ?? DEFAULT_PREFIX
    if (!PREFIX_PATTERN.test(prefix)) throw new Error(`invalid test-host prefix '${prefix}' (1-5 chars [a-z0-9], starting and ending in a letter)`)
    if (!Number.isInteger(init.count) || init.count < 0 || init.count > MAX_HOSTS_PER_SET) throw new RangeError(`count ${init.count} outside 0..${MAX_HOSTS_PER_SET}`)
    const log = (init.logger ?? pino({ level: process.env.CLUSTERD_TEST_LOG ?? 'silent' })).child({ component: 'test-hosts', prefix })
    await sweep(prefix, log)
    // Before any host mounts its overlay of /var: the hosts see the machine's cache.
    await fillCompileCache()
    const owner = claimSlot(prefix, init.persistent ?? false, await subnetsInUse())
    const set = new TestHosts(owner, init, log)
    if (!owner.persistent) track(set)
    try {
      await set.exclusive(async () => { await set.setUp(init.count) })
    } catch (err) {
      await set.destroy().catch(() => {})
      throw err
    }
    return set
  }

  private async setUp (count: number): Promise<void> {
    const started = Date.now()
    await mkdir(this.controlDir, { recursive: true, mode: 0o700 })
    // sshd's privilege-separation dir, the pid-file dir, and the mount point of the hosts'
    // private /run/clusterd all live on the shared /run.
    for (const d of ['/run/sshd', PIDFILE_DIR, '/run/clusterd']) mkdirSync(d, { recursive: true, mode: 0o755 })
    await writeFile(`${this.stateDir}/owner.json`, JSON.stringify(this.owner) + '\n')
    this.clientPublicKey = await generateKey(this.clientKeyPath, `clusterd-test-client@${this.names.base}`)
    await createBridge(this.names)
    await this.startHosts(count)
    this.log.info({ count, ms: Date.now() - started, slot: this.owner.slot }, 'test hosts up')
  }

  private async startHosts (count: number): Promise<TestHost[]> {
    if (this.nextIndex + count - 1 > MAX_HOSTS_PER_SET) throw new RangeError(`a set holds at most ${MAX_HOSTS_PER_SET} hosts`)
    const hosts: TestHost[] = []
    for (let n = 0; n < count; n++) {
      hosts.push(new TestHost({
        names: this.names,
        setStateDir: this.stateDir,
        client: { clientKeyPath: this.clientKeyPath, knownHostsPath: this.knownHostsPath },
        clientPublicKey: this.clientPublicKey,
        log: this.log
      }, { index: this.nextIndex++, persistent: this.owner.persistent }))
    }
    if (hosts.length === 0) return hosts
    // Listed before anything exists, so a failure below still tears them down.
    this.hosts.push(...hosts)
    await Promise.all(hosts.map(async h => { await h.prepare() }))
    await this.writeKnownHosts()
    const room = await ensureNeighbourRoom(this.hosts.length)
    if (!room.ok) { this.log.warn({ error: room.error }, 'neighbour table'); process.emitWarning(room.error, 'TestHostsWarning') }
    else if (room.raised.length > 0) this.log.info({ raised: room.raised }, 'neighbour-table limits raised')
    await createHostLinks(this.names, hosts.map(h => h.index))
    await Promise.all(hosts.map(async h => { await h.boot() }))
    if (this.verify) await inBatches(hosts, SSH_VERIFY_CONCURRENCY, async h => { await h.verifySsh() })
    return hosts
  }

  private async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const result = this.busy.catch(() => {}).then(fn)
    this.busy = result
    return await result
  }

  private async writeKnownHosts (): Promise<void> {
    const lines = this.hosts.filter(h => h.hostKeyPublic !== '').map(h => knownHostsLine([h.address, h.name], h.hostKeyPublic))
    await writeFile(this.knownHostsPath, lines.join('\n') + '\n')
  }

  /** Starts one more host on the same bridge (a node that joins later); known_hosts is rewritten. */
  async addHost (): Promise<TestHost> {
    if (this.destroyed != null) throw new Error('test hosts already destroyed')
    const [host] = await this.exclusive(async () => await this.startHosts(1))
    if (host == null) throw new Error('addHost started no host')
    return host
  }

  /** The set's files and hosts, for the CLI and logs. */
  describe (): TestHostsDescription {
    return {
      prefix: this.names.prefix,
      slot: this.names.slot,
      bridge: this.names.bridge,
      bridgeAddress: this.names.bridgeAddress,
      stateDir: this.stateDir,
      clientKeyPath: this.clientKeyPath,
      knownHostsPath: this.knownHostsPath,
      controlDir: this.controlDir,
      hosts: this.hosts.map(h => ({ name: h.name, hostname: h.hostname, address: h.address, pid: h.pid }))
    }
  }

  private plan (): TeardownPlan {
    return planForSet(this.names, {
      netns: this.hosts.map(h => h.name),
      links: this.hosts.map(h => h.veth),
      releaseSlot: true
    })
  }

  private settle (left: TeardownLeftovers): void {
    for (const h of this.hosts) h.markDestroyed()
    untrack(this)
    if (left.netns.length > 0 || left.links.length > 0 || left.pids.length > 0) {
      throw new Error(`test hosts ${this.names.base}: teardown left ${JSON.stringify(left)}`)
    }
  }

  /**
   * Tears everything down (ssh masters, sockets, processes, namespaces, veths, bridge, files).
   * Idempotent; throws only if something could not be removed.
   */
  async destroy (): Promise<void> {
    this.destroyed ??= (async () => {
      await this.busy.catch(() => {})
      const started = Date.now()
      this.settle(await teardown(this.plan(), this.log))
      this.log.info({ ms: Date.now() - started }, 'test hosts down')
    })()
    await this.destroyed
  }

  /** @internal Blocking destroy for the process 'exit' hook. */
  destroySync (): void {
    if (this.destroyed != null) return
    this.destroyed = Promise.resolve()
    this.settle(teardownSync(this.plan()))
  }
}
