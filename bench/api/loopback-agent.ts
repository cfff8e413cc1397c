/**
 * A real clusterd agent process on 127.0.0.1 of this machine (no test host needed: the API
 * benchmark only needs the manager's store and API, not ssh targets).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { ApiClient } from '../../cli/client.js'
import { CLUSTERD, NODE } from '../../test/harness/agent-process.js'

/** Options of one loopback agent. */
export interface LoopbackAgentOptions {
  name: string
  dataDir: string
  secretFile: string
  socket: string
  eligible: boolean
  sshKeyFile: string
  /** Seeds, as `127.0.0.1:PORT`. */
  join?: string[]
  /** More `clusterd agent` arguments (e.g. a TCP API listener). */
  extraArgs?: string[]
}

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => { typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port')) })
    })
  })
}

/** A running agent on loopback. */
export class LoopbackAgent {
  readonly name: string
  readonly port: number
  readonly socket: string
  readonly client: ApiClient
  readonly proc: ChildProcess
  output = ''
  private readonly exited: Promise<void>

  private constructor (opts: LoopbackAgentOptions, port: number, proc: ChildProcess) {
    this.name = opts.name
    this.port = port
    this.socket = opts.socket
    this.proc = proc
    this.client = new ApiClient({ addr: opts.socket, timeoutMs: 10_000 })
    const keep = (b: Buffer): void => { this.output = (this.output + b.toString()).slice(-100_000) }
    proc.stdout?.on('data', keep)
    proc.stderr?.on('data', keep)
    this.exited = new Promise(resolve => { proc.once('exit', () => { resolve() }) })
  }

  /** Spawns `clusterd agent` listening on 127.0.0.1 at a free port. */
  static async start (opts: LoopbackAgentOptions): Promise<LoopbackAgent> {
    const port = await freePort()
    const argv = [
      CLUSTERD, 'agent',
      '--data-dir', opts.dataDir,
      '--listen', `127.0.0.1:${port}`,
      '--secret-file', opts.secretFile,
      '--node-name', opts.name,
      '--api-socket', opts.socket,
      '--manager-eligible', String(opts.eligible),
      '--ssh-key-file', opts.sshKeyFile,
      '--log-level', 'info',
      ...(opts.join ?? []).flatMap(j => ['--join', j]),
      ...(opts.extraArgs ?? [])
    ]
    const proc = spawn(NODE, argv, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' }, stdio: ['ignore', 'pipe', 'pipe'] })
    return new LoopbackAgent(opts, port, proc)
  }

  /** Kills the process (by its own pid) and waits for it, bounded. */
  async stop (): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    this.proc.kill('SIGTERM')
    const timer = setTimeout(() => { this.proc.kill('SIGKILL') }, 10_000)
    try { await this.exited } finally { clearTimeout(timer) }
  }
}
