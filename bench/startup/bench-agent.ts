/**
 * One real agent process on 127.0.0.1 for the start-up benchmark, and the moment its API
 * socket first accepts a connection. The socket's directory is watched (inotify), so the
 * benchmark learns of the socket without spinning; a slow fallback poll covers a missed event.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { watch, type FSWatcher } from 'node:fs'
import { connect } from 'node:net'
import { basename, dirname } from 'node:path'
import { performance } from 'node:perf_hooks'
import { cpuSeconds, rssBytes } from '../membership/proc-stats.js'
import { NODE } from '../../test/harness/agent-process.js'
import { LISTEN_TIMEOUT_MS, POLL_FALLBACK_MS, REFUSED_RETRY_MS } from './constants.js'

/** How to start one agent. */
export interface BenchAgentOptions {
  /** The script node runs: bin/clusterd.js, or dist/agent/main.js of some build. */
  entry: string
  name: string
  dataDir: string
  secretFile: string
  /** API socket; its directory must exist and be watched by a SocketWatch. */
  socket: string
  port: number
  /** Seeds, as `127.0.0.1:PORT`. */
  join: string[]
  env: Record<string, string>
}

/** Whether a unix socket accepts a connection right now. */
async function accepts (path: string): Promise<'yes' | 'refused' | 'absent'> {
  return await new Promise(resolve => {
    const s = connect(path)
    s.once('connect', () => { s.destroy(); resolve('yes') })
    s.once('error', (err: NodeJS.ErrnoException) => { s.destroy(); resolve(err.code === 'ECONNREFUSED' ? 'refused' : 'absent') })
  })
}

/** A spawned agent. */
export class BenchAgent {
  readonly name: string
  readonly socket: string
  readonly proc: ChildProcess
  /** performance.now() just before spawn(). */
  readonly spawnedAt: number
  /** ms from spawn to the first accepted connection, once known. */
  listeningMs: number | null = null
  /** The process's CPU time (user + system) when it first accepted, ms (10 ms ticks). */
  cpuMsAtListening: number | null = null
  private out = ''
  private checking = false
  private readonly exited: Promise<void>
  private settle: ((err?: Error) => void) | null = null

  constructor (opts: BenchAgentOptions) {
    this.name = opts.name
    this.socket = opts.socket
    const argv = [
      opts.entry, 'agent',
      '--data-dir', opts.dataDir,
      '--listen', `127.0.0.1:${opts.port}`,
      '--secret-file', opts.secretFile,
      '--node-name', opts.name,
      '--api-socket', opts.socket,
      ...opts.join.flatMap(j => ['--join', j])
    ]
    this.spawnedAt = performance.now()
    this.proc = spawn(NODE, argv, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const keep = (b: Buffer): void => { this.out = (this.out + b.toString()).slice(-20_000) }
    this.proc.stdout?.on('data', keep)
    this.proc.stderr?.on('data', keep)
    this.exited = new Promise(resolve => {
      this.proc.once('exit', code => {
        this.settle?.(new Error(`${this.name} exited (${String(code)}) before listening:\n${this.out.slice(-2000)}`))
        resolve()
      })
    })
  }

  get pid (): number { return this.proc.pid as number }

  /** Last output lines, for error messages. */
  tail (): string { return this.out.slice(-2000) }

  /** Resident memory now, MB. */
  rssMb (): number | null {
    const b = rssBytes(this.pid)
    return b === null ? null : Math.round(b / 2 ** 20 * 10) / 10
  }

  /**
   * Tries the socket once (called on a directory event or by the fallback poll); records the
   * time of the first accepted connection. Returns true once listening.
   */
  async check (): Promise<boolean> {
    if (this.listeningMs !== null) return true
    if (this.checking) return false
    this.checking = true
    try {
      for (;;) {
        const r = await accepts(this.socket)
        if (r === 'yes') {
          this.listeningMs = performance.now() - this.spawnedAt
          const cpu = cpuSeconds(this.pid)
          this.cpuMsAtListening = cpu === null ? null : Math.round(cpu * 1000)
          this.settle?.()
          return true
        }
        if (r === 'absent') return false
        await new Promise(resolve => setTimeout(resolve, REFUSED_RETRY_MS))
      }
    } finally {
      this.checking = false
    }
  }

  /** Resolves once the API accepts; rejects if the process exits first or at the deadline. */
  async listening (): Promise<number> {
    const done = new Promise<void>((resolve, reject) => {
      this.settle = err => { err === undefined ? resolve() : reject(err) }
    })
    const fallback = setInterval(() => { void this.check() }, POLL_FALLBACK_MS)
    const deadline = setTimeout(() => { this.settle?.(new Error(`${this.name} did not listen within ${LISTEN_TIMEOUT_MS} ms:\n${this.tail()}`)) }, LISTEN_TIMEOUT_MS)
    try {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`${this.name} exited before listening:\n${this.tail()}`)
      if (!await this.check()) await done
      return this.listeningMs as number
    } finally {
      clearInterval(fallback)
      clearTimeout(deadline)
      this.settle = null
    }
  }

  /** SIGTERM (a graceful leave), SIGKILL after 10 s; resolves once the process is gone. */
  async stop (): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    this.proc.kill('SIGTERM')
    const timer = setTimeout(() => { this.proc.kill('SIGKILL') }, 10_000)
    try { await this.exited } finally { clearTimeout(timer) }
  }
}

/** Watches one socket directory and pokes the agent whose socket appeared. */
export class SocketWatch {
  private readonly watcher: FSWatcher
  private readonly agents = new Map<string, BenchAgent>()

  constructor (dir: string) {
    this.watcher = watch(dir, (_event, file) => {
      const agent = file === null ? undefined : this.agents.get(file.toString())
      if (agent !== undefined) void agent.check()
    })
  }

  /** Follow `agent`, whose socket must be in this directory. */
  add (agent: BenchAgent): void {
    if (dirname(agent.socket) === '') throw new Error('socket without a directory')
    this.agents.set(basename(agent.socket), agent)
  }

  close (): void { this.watcher.close() }
}
