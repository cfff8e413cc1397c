/**
 * A clusterd cluster on real test hosts for fault injection and the failover benchmark: one
 * agent process per host (every other host a seed, so a restarted agent finds the cluster),
 * the manager's SSH key authorized everywhere, and the faults themselves: kill -9 of an agent,
 * power off (link cut first, so no reset reaches anyone, then every process of the host killed)
 * and power on (link back, host booted over the same disk, agent started again).
 */
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import type { ReplicaStatus } from '../../protocol/replication-wire.js'
import { AgentProcess, PORT, makeManagerKey, makeSecret, startAgentOn, testDir } from '../harness/agent-process.js'
import { TestHosts, type TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'

/** Options of `FaultCluster.create`. */
export interface FaultClusterInit {
  /** Test-host prefix (`ft...`/`fb...`). */
  prefix: string
  count: number
  /** Whether host `index0` (0-based) runs a manager-eligible agent (default: all). */
  eligible?: (index0: number) => boolean
  /** Extra environment of every agent. */
  env?: Record<string, string>
  /** The agents' playbook dir (default: the shipped one). */
  playbookDir?: string
}

/** Hosts, agents and faults. */
export class FaultCluster {
  /** Agents by host name (the latest process started on each host). */
  readonly agents = new Map<string, AgentProcess>()
  /** Output of earlier agent processes per host (the last 200 kB of each). */
  private readonly logs = new Map<string, string>()
  private readonly eligible: (index0: number) => boolean

  private constructor (
    readonly set: TestHosts,
    readonly dir: string,
    readonly secret: string,
    readonly sshKey: string,
    private readonly init: FaultClusterInit
  ) {
    this.eligible = init.eligible ?? (() => true)
  }

  /** Hosts up, every agent started; resolves once every agent agrees on one manager. */
  static async create (init: FaultClusterInit): Promise<FaultCluster> {
    const set = await TestHosts.create({ count: init.count, prefix: init.prefix })
    let dir: string | undefined
    try {
      dir = await testDir(`faults-${init.prefix}`)
      const secret = await makeSecret(dir)
      const sshKey = await makeManagerKey(dir, set.hosts)
      const c = new FaultCluster(set, dir, secret, sshKey, init)
      for (const h of set.hosts) await c.startAgent(h)
      await c.waitForStable()
      return c
    } catch (err) {
      await set.destroy().catch(() => {})
      if (dir !== undefined) await rm(dir, { recursive: true, force: true })
      throw err
    }
  }

  /** Every host, in index order. */
  get hosts (): TestHost[] { return this.set.hosts }

  /** The host named `name`. */
  host (name: string): TestHost {
    const h = this.set.hosts.find(x => x.name === name)
    if (h === undefined) throw new Error(`no host ${name}`)
    return h
  }

  /** The agent of host `name`. */
  agent (name: string): AgentProcess {
    const a = this.agents.get(name)
    if (a === undefined) throw new Error(`no agent on ${name}`)
    return a
  }

  /** Whether host `name` runs an eligible agent. */
  isEligible (name: string): boolean {
    return this.eligible(this.set.hosts.findIndex(h => h.name === name))
  }

  /** Start (or restart) the agent of `host`, with its data dir kept. */
  async startAgent (host: TestHost): Promise<AgentProcess> {
    const i = this.set.hosts.indexOf(host)
    const old = this.agents.get(host.name)
    if (old !== undefined) this.logs.set(host.name, (this.logs.get(host.name) ?? '') + old.output + `\n----- agent restarted at ${new Date().toISOString()} -----\n`)
    const a = await startAgentOn(host, {
      secretFile: this.secret,
      socketDir: join(this.dir, 'sock'),
      join: this.set.hosts.filter(x => x !== host).map(x => `${x.address}:${PORT}`),
      eligible: this.eligible(i),
      sshKeyFile: this.sshKey,
      ...(this.init.env !== undefined ? { env: this.init.env } : {}),
      ...(this.init.playbookDir !== undefined ? { playbookDir: this.init.playbookDir } : {})
    })
    this.agents.set(host.name, a)
    return a
  }

  /** Agents whose process runs. */
  running (): AgentProcess[] {
    return [...this.agents.values()].filter(a => a.proc.exitCode === null && a.proc.signalCode === null)
  }

  /** The manager every running agent (or every agent in `among`) names, if they agree. */
  async agreedManager (among: AgentProcess[] = this.running()): Promise<ManagerInfo | undefined> {
    const views = await Promise.all(among.map(async a => await a.manager()))
    const first = views[0]
    if (first == null || views.some(v => v?.peerId !== first.peerId || v.epoch !== first.epoch)) return undefined
    return first
  }

  /** Waits until the agents agree on a manager (one newer than `after`, when given). */
  async waitForManager (opts: { after?: ManagerInfo, among?: () => AgentProcess[], timeoutMs?: number } = {}): Promise<ManagerInfo> {
    return await waitFor(async () => {
      const m = await this.agreedManager(opts.among?.() ?? this.running())
      if (m === undefined) return undefined
      if (opts.after !== undefined && (m.epoch <= opts.after.epoch || m.peerId === opts.after.peerId)) return undefined
      return m
    }, { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 100, message: `agents agreeing on a manager${opts.after !== undefined ? ` after ${opts.after.name} (epoch ${opts.after.epoch})` : ''}` })
  }

  /**
   * Waits for a settled cluster: one manager all agree on, every eligible agent a replica synced
   * with it, and still the same manager afterwards (agents started together elect more than once).
   */
  async waitForStable (timeoutMs = 180_000): Promise<ManagerInfo> {
    const deadline = Date.now() + timeoutMs
    while (true) {
      const left = (): number => Math.max(1000, deadline - Date.now())
      const m = await this.waitForManager({ timeoutMs: left() })
      try {
        for (const a of this.running()) {
          if (a.host.name !== m.name && this.isEligible(a.host.name)) await this.waitForReplica(a.host.name, m, Math.min(left(), 30_000), 0)
        }
        const again = await this.agreedManager()
        if (again?.peerId === m.peerId && again.epoch === m.epoch) return m
      } catch (err) {
        if (Date.now() >= deadline) throw err
      }
      if (Date.now() >= deadline) throw new Error('the cluster did not settle on one manager')
    }
  }

  /** Waits until the manager serves and lists `count` nodes. */
  async waitForNodes (count: number, timeoutMs = 60_000): Promise<NodeRecord[]> {
    return await waitFor(async () => {
      const a = this.running()[0]
      const nodes = await a?.client.request<NodeRecord[]>('GET', '/v1/nodes')
      return nodes !== undefined && nodes.length >= count ? nodes : undefined
    }, { timeoutMs, intervalMs: 250, message: `the manager listing ${count} nodes` })
  }

  /** `GET /v1/replica` of an agent. */
  async replicaStatus (a: AgentProcess): Promise<ReplicaStatus> {
    return await a.client.request<ReplicaStatus>('GET', '/v1/replica')
  }

  /**
   * Waits until the agent of `name` holds a replica synced in `manager`'s epoch, at most `lag`
   * revisions behind the manager (0: the same revision; allow some while writes go on).
   */
  async waitForReplica (name: string, manager: ManagerInfo, timeoutMs = 60_000, lag = 0): Promise<void> {
    let last: unknown
    await waitFor(async () => {
      const [mine, theirs] = await Promise.all([this.replicaStatus(this.agent(name)), this.replicaStatus(this.agent(manager.name))])
      last = { mine, theirs }
      return mine.role === 'replica' && theirs.role === 'manager' && mine.syncedEpoch === manager.epoch && theirs.revision - mine.revision <= lag ? true : undefined
    }, { timeoutMs, intervalMs: 250 }).catch(err => {
      throw new Error(`${name} did not catch up as a replica of ${manager.name} (epoch ${manager.epoch}): ${JSON.stringify(last)}: ${(err as Error).message}`)
    })
  }

  /** kill -9 the agent of `name`; resolves once it is gone. */
  async kill (name: string): Promise<void> {
    await this.agent(name).stop('SIGKILL')
  }

  /**
   * Power `name` off: its link goes down first (as when a machine loses power, nobody gets a
   * TCP reset or a goodbye), then every process of the host is killed.
   */
  async powerOff (name: string): Promise<void> {
    const h = this.host(name)
    await h.cutLink()
    await h.powerOff()
    await this.agents.get(name)?.exit()
  }

  /** Power `name` on: link up, boot over the same disk, start its agent again. */
  async powerOn (name: string): Promise<AgentProcess> {
    const h = this.host(name)
    await h.restoreLink()
    await h.powerOn()
    return await this.startAgent(h)
  }

  /** Write every agent's recent output (and of agents that died) to `<dir>/<host>.log`. */
  async saveLogs (dir: string): Promise<void> {
    await mkdir(dir, { recursive: true })
    for (const [name, text] of this.logs) await writeFile(join(dir, `${name}.log`), text)
    for (const [name, a] of this.agents) await appendFile(join(dir, `${name}.log`), a.output)
  }

  /** Stop every agent and remove the hosts and files. */
  async destroy (): Promise<void> {
    await Promise.allSettled([...this.agents.values()].map(async a => await a.stop('SIGKILL')))
    await this.set.destroy()
    await rm(this.dir, { recursive: true, force: true })
  }
}
