/**
 * A cluster of real agents on real test hosts, set up the way the integration tests do it:
 * the hosts, a scratch directory in the repository, a cluster secret, optionally the manager's
 * SSH key, and one agent process per host, started (and restarted) when the test asks. It waits
 * for a formed membership and an agreed manager by polling with a deadline, and `close()` tears
 * everything down to the end whatever failed before: agents killed, their output kept in
 * `.tmp/it-logs/<suite>/`, hosts destroyed, the scratch directory removed.
 */

import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import {
  AgentProcess, PORT, agreement, isRunning, makeManagerKey, makeSecret, runningAgents, saveAgentLogs, startAgentOn, testDir,
  type AgentOptions
} from './agent-process.js'
import { TestHosts, type TestHost } from './hosts.js'
import { waitFor } from './poll.js'

/**
 * Whom an agent joins: `'first'`, host 0 (which itself joins nobody); `'others'`, every other
 * host (a restarted agent then finds the cluster within the election's settle time); or the
 * indexes of the seed hosts as a function of the agent's host index.
 */
export type SeedPolicy = 'first' | 'others' | ((index: number) => number[])

/** A host of the fleet: its index (0-based) or its name. */
export type HostRef = number | string

/** Options of `AgentFleet.create`. */
export interface AgentFleetInit {
  /** Names the scratch directory (`.tmp/it-<suite>-*`) and the kept logs (`.tmp/it-logs/<suite>/`). */
  suite: string
  /** Test-host prefix (1-5 chars). */
  prefix: string
  /** Hosts to create; agents start only when asked (`start`, `startAll`). */
  count: number
  /** Make the manager's SSH key, authorize it on every host and give it to every agent (default false). */
  managerKey?: boolean
  /** Whom each agent joins (default `'first'`). */
  seeds?: SeedPolicy
  /** Whether the agent on host `index` is manager-eligible (default: every one). */
  eligible?: (index: number) => boolean
  /** Environment of every agent (a `start` that gives `env` replaces it). */
  env?: Record<string, string>
}

/** Options of `AgentFleet.waitForManager`. */
export interface WaitForManagerOptions {
  /** The manager must be the agent of the host so named. */
  name?: string
  /**
   * Whose views must agree: every one of them, a stopped one never does. Default: the current
   * agents that run (as `agreedManager`: a killed manager's agent is left out).
   */
  among?: Iterable<AgentProcess>
  /** Default 60 s. */
  timeoutMs?: number
  intervalMs?: number
}

/** Options of `AgentFleet.waitForFormed`. */
export interface WaitForFormedOptions {
  /** Whose views to check (default: every current agent, stopped or not: a dead one fails the wait). */
  among?: readonly AgentProcess[]
  /** The members each must see alive, exactly (default: the hosts of every current agent). */
  names?: readonly string[]
  /** For each agent in turn (default 60 s). */
  timeoutMs?: number
}

/** Last lines of an agent's output, for failure messages. */
function tail (a: AgentProcess, chars = 2000): string {
  return `--- ${a.host.name} (pid ${String(a.proc.pid)}, exit ${String(a.proc.exitCode)}, signal ${String(a.proc.signalCode)}):\n${a.output.slice(-chars)}`
}

/** Test hosts with one clusterd agent each, and their teardown. */
export class AgentFleet {
  /** The host set. */
  readonly set: TestHosts
  /** Scratch directory (visible from every host): the secret, the key, the API sockets, test files. */
  readonly dir: string
  /** The cluster secret file. */
  readonly secret: string
  /** Where the agents' API sockets go unless a `start` says otherwise. */
  readonly socketDir: string
  private readonly init: AgentFleetInit
  private readonly sshKey: string | undefined
  /** The latest agent started on each host, by host index. */
  private readonly current = new Map<number, AgentProcess>()
  /** Every agent process started, oldest first (restarted ones too): all are stopped and logged. */
  private readonly started: AgentProcess[] = []
  private closed: Promise<void> | null = null

  private constructor (set: TestHosts, dir: string, secret: string, sshKey: string | undefined, init: AgentFleetInit) {
    this.set = set
    this.dir = dir
    this.secret = secret
    this.sshKey = sshKey
    this.socketDir = join(dir, 'sock')
    this.init = init
  }

  /** Hosts up, scratch directory, secret and (if asked) the manager's key; no agent yet. A failed create removes what it made. */
  static async create (init: AgentFleetInit): Promise<AgentFleet> {
    const set = await TestHosts.create({ count: init.count, prefix: init.prefix })
    let dir: string | undefined
    try {
      dir = await testDir(`it-${init.suite}`)
      const secret = await makeSecret(dir)
      const sshKey = init.managerKey === true ? await makeManagerKey(dir, set.hosts) : undefined
      return new AgentFleet(set, dir, secret, sshKey, init)
    } catch (err) {
      await set.destroy().catch(() => {})
      if (dir !== undefined) await rm(dir, { recursive: true, force: true })
      throw err
    }
  }

  /** The manager's SSH private key (authorized on every host); only with `managerKey`. */
  get managerKeyFile (): string {
    if (this.sshKey === undefined) throw new Error('the fleet was made without managerKey')
    return this.sshKey
  }

  /** Every host, in index order. */
  get hosts (): TestHost[] { return this.set.hosts }

  /** The index of a host given by index (checked) or by name. */
  indexOf (which: HostRef): number {
    const i = typeof which === 'number' ? which : this.set.hosts.findIndex(h => h.name === which)
    if (this.set.hosts[i] === undefined) throw new RangeError(`no host ${String(which)} in the fleet (${this.set.hosts.length} hosts)`)
    return i
  }

  /** A host, by index (0-based) or name. */
  host (which: HostRef): TestHost {
    return this.set.hosts[this.indexOf(which)] as TestHost
  }

  /** The latest agent started on a host (by index or name). */
  agent (which: HostRef): AgentProcess {
    const a = this.current.get(this.indexOf(which))
    if (a === undefined) throw new Error(`no agent was started on host ${String(which)}`)
    return a
  }

  /** The latest agent of every host that has one, in host order (stopped ones included). */
  get agents (): AgentProcess[] {
    return [...this.current.entries()].sort(([x], [y]) => x - y).map(([, a]) => a)
  }

  /** Every agent process started so far, oldest first. */
  get all (): readonly AgentProcess[] { return this.started }

  /** The current agents whose process runs. */
  running (): AgentProcess[] { return runningAgents(this.agents) }

  /** The gossip addresses agent `index` joins under the fleet's seed policy. */
  seedsOf (index: number): string[] {
    const policy = this.init.seeds ?? 'first'
    const seeds = policy === 'first'
      ? (index === 0 ? [] : [0])
      : policy === 'others'
        ? this.set.hosts.map((_h, i) => i).filter(i => i !== index)
        : policy(index)
    return seeds.map(i => `${this.host(i).address}:${PORT}`)
  }

  /**
   * Start (or restart, keeping its data dir) the agent on a host (by index or name): the
   * fleet's secret, socket dir, seeds, eligibility, key and environment, with `opts` over them.
   */
  async start (which: HostRef, opts: Partial<AgentOptions> = {}): Promise<AgentProcess> {
    if (this.closed !== null) throw new Error('the fleet is closed')
    const index = this.indexOf(which)
    const a = await startAgentOn(this.host(index), {
      secretFile: this.secret,
      socketDir: this.socketDir,
      join: this.seedsOf(index),
      eligible: this.init.eligible?.(index) ?? true,
      ...(this.sshKey !== undefined ? { sshKeyFile: this.sshKey } : {}),
      ...(this.init.env !== undefined ? { env: this.init.env } : {}),
      ...opts
    })
    this.started.push(a)
    this.current.set(index, a)
    return a
  }

  /** Start the agents of `indexes` (default: every host) one after the other. */
  async startAll (indexes: readonly number[] = this.set.hosts.map((_h, i) => i)): Promise<AgentProcess[]> {
    const out: AgentProcess[] = []
    for (const i of indexes) out.push(await this.start(i))
    return out
  }

  /**
   * Waits until the agents of `among` agree on one manager (same peer, same epoch), the host
   * `name` when given, and resolves with it.
   */
  async waitForManager (opts: WaitForManagerOptions = {}): Promise<ManagerInfo> {
    const listed = opts.among !== undefined ? [...opts.among] : undefined
    let among: AgentProcess[] = []
    let views: Array<[string, ManagerInfo | null]> = []
    return await waitFor(async () => {
      among = listed ?? this.running()
      views = await Promise.all(among.map(async a => [a.host.name, isRunning(a) ? await a.manager() : null] as [string, ManagerInfo | null]))
      const m = agreement(views.map(([, v]) => v))
      return m !== undefined && (opts.name === undefined || m.name === opts.name) ? m : undefined
    }, {
      timeoutMs: opts.timeoutMs ?? 60_000,
      ...(opts.intervalMs !== undefined ? { intervalMs: opts.intervalMs } : {}),
      message: () => {
        const named = opts.name === undefined ? undefined : this.agents.find(a => a.host.name === opts.name)
        const shown = named === undefined || among.includes(named) ? among : [named, ...among]
        const seen = views.map(([h, m]) => `${h}: ${m === null ? 'none' : `${m.name} epoch ${m.epoch}`}`).join(', ')
        return `${among.map(a => a.host.name).join(', ')} to agree on ${opts.name ?? 'a manager'} (views: ${seen})\n${shown.map(a => tail(a, 1500)).join('\n')}`
      }
    })
  }

  /** Waits until each agent of `among`, in turn, lists exactly `names` as its alive members. */
  async waitForFormed (opts: WaitForFormedOptions = {}): Promise<void> {
    const among = opts.among ?? this.agents
    const want = [...(opts.names ?? this.agents.map(a => a.host.name))].sort()
    for (const a of among) {
      let seen: string[] | null = null
      await waitFor(async () => {
        const ms = await a.members()
        seen = ms === null ? null : ms.filter(m => m.status === 'alive').map(m => m.name).sort()
        return seen !== null && seen.join() === want.join() ? true : undefined
      }, {
        timeoutMs: opts.timeoutMs ?? 60_000,
        message: () => `${a.host.name} to see ${want.join(', ')} alive (it sees ${seen === null ? 'nothing: no API' : seen.join(', ')})\n${tail(a, 3000)}`
      })
    }
  }

  /**
   * Kill every agent ever started, keep their output in `.tmp/it-logs/<suite>/`, destroy the
   * hosts, remove the scratch directory. Each step runs even if an earlier one failed; a second
   * call waits for the first. Throws only if the hosts could not be removed.
   */
  async close (): Promise<void> {
    this.closed ??= this.teardown()
    await this.closed
  }

  private async teardown (): Promise<void> {
    try {
      await Promise.allSettled(this.started.map(async a => await a.stop('SIGKILL')))
      await saveAgentLogs(this.init.suite, this.started).catch(() => {})
    } finally {
      try {
        await this.set.destroy()
      } finally {
        await rm(this.dir, { recursive: true, force: true })
      }
    }
  }
}
