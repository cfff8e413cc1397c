/**
 * Real clusterd agents as separate processes on real test hosts. Each agent runs inside its
 * host's namespaces (via TestHost.spawn) and serves its API on a socket in a directory the
 * test process can reach, so tests poll it directly (and run the real clusterctl where the
 * behaviour of the CLI itself is under test).
 */

import type { ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ApiClient } from '../../cli/client.js'
import type { Member } from '../../protocol/members.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import { formatSecretFile, generateSecret } from '../../agent/transport/secret.js'
import { REPO_ROOT } from './constants.js'
import { runOk } from './proc.js'
import type { TestHost } from './hosts.js'

/** Repository root (bound into every test host at the same path). */
export const REPO = REPO_ROOT
/** Node.js 22 of the project. */
export const NODE = join(REPO, 'node_modules/.bin/node')
/** The agent launcher. */
export const CLUSTERD = join(REPO, 'bin/clusterd.js')
/** The environment agents run with on a host (and `clusterd compile-cache` on the machine, so both pick the same cache directory). */
export const AGENT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' } as const
/** The CLI launcher. */
export const CLUSTERCTL = join(REPO, 'bin/clusterctl.js')
/** Gossip port agents listen on inside their hosts. */
export const PORT = 7946

/** Options of one agent process. */
export interface AgentOptions {
  /** Seeds, as `host:port`. */
  join?: string[]
  secretFile: string
  /** Where the API socket goes (a directory the test process sees). */
  socketDir: string
  labels?: Record<string, string>
  eligible?: boolean
  /** Extra environment (e.g. CLUSTERD_TIMING). */
  env?: Record<string, string>
  extraArgs?: string[]
  sshKeyFile?: string
  playbookDir?: string
  /** `--node-name`; default the host's name (another host's name makes an impostor). */
  nodeName?: string
}

/** A running agent process. */
export class AgentProcess {
  readonly host: TestHost
  readonly socket: string
  readonly client: ApiClient
  proc: ChildProcess
  output = ''
  private exited: Promise<number | null>

  constructor (host: TestHost, proc: ChildProcess, socket: string) {
    this.host = host
    this.proc = proc
    this.socket = socket
    this.client = new ApiClient({ addr: socket, timeoutMs: 5000 })
    proc.stdout?.on('data', (b: Buffer) => { this.output = (this.output + b.toString()).slice(-200_000) })
    proc.stderr?.on('data', (b: Buffer) => { this.output = (this.output + b.toString()).slice(-200_000) })
    this.exited = new Promise(resolve => { proc.once('exit', code => { resolve(code) }) })
  }

  /**
   * This agent's view of the members, or null while its API is not answering. Facts only as
   * the agent holds them (`'fetch'` to have it fetch them from the members).
   */
  async members (facts: 'cached' | 'fetch' = 'cached'): Promise<Member[] | null> {
    try {
      return await this.client.members({ facts })
    } catch {
      return null
    }
  }

  /** Who this agent thinks the manager is, or null. */
  async manager (): Promise<ManagerInfo | null> {
    try {
      return await this.client.request<ManagerInfo>('GET', '/v1/manager')
    } catch {
      return null
    }
  }

  /** Status of `name` in this agent's view. */
  async statusOf (name: string): Promise<string | undefined> {
    return (await this.members())?.find(m => m.name === name)?.status
  }

  /** Send a signal and wait for the process to exit (bounded). */
  async stop (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode
    this.proc.kill(signal)
    const timer = setTimeout(() => { this.proc.kill('SIGKILL') }, timeoutMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }

  /** Resolves with the exit code when the process exits. */
  async exit (): Promise<number | null> { return await this.exited }
}

/**
 * A fresh directory for one test's secrets and sockets, inside the repository (visible from
 * every test host, unlike /tmp, which each host has privately) and git-ignored.
 */
export async function testDir (prefix: string): Promise<string> {
  const base = join(REPO, '.tmp')
  await mkdir(base, { recursive: true, mode: 0o700 })
  return await mkdtemp(join(base, `${prefix}-`))
}

/**
 * Create the manager's SSH key pair in `dir` (as bootstrap.sh does) and authorize its public
 * key for root on every host, through the node gate (every session must present the node's
 * live lease). Returns the private key path.
 */
export async function makeManagerKey (dir: string, hosts: readonly TestHost[]): Promise<string> {
  const key = join(dir, 'manager_ed25519')
  await runOk(['/usr/bin/ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'clusterd-manager', '-f', key])
  const pub = (await readFile(`${key}.pub`, 'utf8')).trim()
  for (const host of hosts) await host.authorizeKey(pub, { gated: true })
  return key
}

/** Write a fresh cluster secret (0600) into `dir`. */
export async function makeSecret (dir: string, name = 'secret'): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const path = join(dir, name)
  await writeFile(path, formatSecretFile(generateSecret()), { mode: 0o600 })
  return path
}

/** Start `clusterd agent` on a host, listening on its address. */
export async function startAgentOn (host: TestHost, opts: AgentOptions): Promise<AgentProcess> {
  await mkdir(opts.socketDir, { recursive: true, mode: 0o700 })
  const socket = join(opts.socketDir, `${host.name}.sock`)
  const args = [
    CLUSTERD, 'agent',
    '--data-dir', '/var/lib/clusterd',
    '--listen', `${host.address}:${PORT}`,
    '--secret-file', opts.secretFile,
    '--node-name', opts.nodeName ?? host.name,
    '--api-socket', socket,
    '--manager-eligible', String(opts.eligible ?? true),
    '--log-level', 'info',
    ...(opts.join ?? []).flatMap(j => ['--join', j]),
    ...Object.entries(opts.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    ...(opts.sshKeyFile !== undefined ? ['--ssh-key-file', opts.sshKeyFile] : []),
    ...(opts.playbookDir !== undefined ? ['--playbook-dir', opts.playbookDir] : []),
    ...(opts.extraArgs ?? [])
  ]
  const proc = host.spawn([NODE, ...args], { env: { ...AGENT_ENV, ...opts.env } })
  return new AgentProcess(host, proc, socket)
}

/**
 * Keep what each agent printed (oldest process first) in `.tmp/it-logs/<suite>/<host>.log`
 * (git-ignored), replacing the previous run's: an intermittent failure can then be read after the run, not only in the
 * assertion message.
 */
export async function saveAgentLogs (suite: string, agents: Iterable<AgentProcess>): Promise<void> {
  const dir = join(REPO, '.tmp', 'it-logs', suite)
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true, mode: 0o700 })
  for (const a of agents) {
    await writeFile(join(dir, `${a.host.name}.log`), `----- pid ${String(a.proc.pid)} exit ${String(a.proc.exitCode)} signal ${String(a.proc.signalCode)}\n${a.output}\n`, { flag: 'a' })
  }
}

/** True while the agent's process has neither exited nor been killed. */
export function isRunning (a: AgentProcess): boolean {
  return a.proc.exitCode === null && a.proc.signalCode === null
}

/** The running ones among `agents`. */
export function runningAgents (agents: Iterable<AgentProcess>): AgentProcess[] {
  return [...agents].filter(isRunning)
}

/** The manager every one of `views` names (same peer, same epoch), or undefined while they disagree, one names none, or there is none. */
export function agreement (views: ReadonlyArray<ManagerInfo | null>): ManagerInfo | undefined {
  const first = views[0]
  if (first == null || views.some(v => v?.peerId !== first.peerId || v.epoch !== first.epoch)) return undefined
  return first
}

/**
 * The manager every running agent among `agents` names (same peer, same epoch), or undefined
 * while they disagree or one names none: a `waitFor` condition.
 */
export async function agreedManager (agents: Iterable<AgentProcess>): Promise<ManagerInfo | undefined> {
  return agreement(await Promise.all(runningAgents(agents).map(async a => await a.manager())))
}

/** Every other host's gossip address: the seeds an agent on `host` joins. */
export function seedsExcept (hosts: readonly TestHost[], host: TestHost): string[] {
  return hosts.filter(x => x !== host).map(x => `${x.address}:${PORT}`)
}
