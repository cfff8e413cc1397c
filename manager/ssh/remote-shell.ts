/**
 * RemoteShell: a root SSH session to a node whose host key is pinned. Built on node-ssh,
 * which accepts ANY host key unless given a hostVerifier: ours accepts only the pinned keys
 * and offers only their algorithms, so a node with several host keys cannot slip past by
 * negotiating an unpinned one.
 */
import { NodeSSH } from 'node-ssh'
import type { Logger } from 'pino'
import type { HostKey } from '../../protocol/members.js'
import {
  DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_SSH_PORT, DEFAULT_SSH_USER, HOST_KEY_ALGORITHMS
} from './constants.js'
import { hostKeyProblem, matchesPinned } from './host-key.js'
import { quoteArgv } from './quote.js'

/** A node to open a session to. */
export interface SshTarget {
  name: string
  address: string
  port?: number
  /** Pinned host keys (from the node's signed facts); nothing else is accepted. */
  hostKeys: HostKey[]
  /** Remote user; root unless a test says otherwise. */
  username?: string
  /** Environment sent with every command of the session (the node lease its gate checks; sshd must AcceptEnv it). */
  env?: Record<string, string>
}

/** The result of one remote command. */
export interface ExecResult {
  /** Exit status; null when killed by a signal or cancelled. */
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  /** True when the caller's signal or the timeout ended the command. */
  cancelled: boolean
}

/** Options of {@link RemoteShell.exec}. */
export interface ExecOptions {
  signal?: AbortSignal
  timeoutMs?: number
  stdin?: string
}

/** A session on one node. Commands are argv arrays, quoted so no word becomes shell syntax. */
export interface RemoteShell {
  exec: (argv: readonly string[], options?: ExecOptions) => Promise<ExecResult>
  put: (localPath: string, remotePath: string, options?: { signal?: AbortSignal }) => Promise<void>
  close: () => Promise<void>
}

/** Why a session could not be opened. */
export type ConnectFailureReason = 'unreachable' | 'host-key-mismatch' | 'auth-failed'

/** Outcome of {@link SshConnector.connect}. */
export type ConnectResult =
  | { ok: true, shell: RemoteShell }
  | { ok: false, reason: ConnectFailureReason, message: string }

/** Collaborators of {@link SshConnector}. */
export interface SshConnectorComponents {
  logger: Logger
}

/** Settings of {@link SshConnector}. */
export interface SshConnectorInit {
  /** The manager's SSH private key. */
  privateKeyPath: string
  connectTimeoutMs?: number
}

function abortError (signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError')
}

function isAborted (signal: AbortSignal): boolean {
  return signal.aborted
}

/** Opens pinned-key SSH sessions. */
export class SshConnector {
  private readonly log: Logger
  private readonly privateKeyPath: string
  private readonly connectTimeoutMs: number

  constructor (components: SshConnectorComponents, init: SshConnectorInit) {
    this.log = components.logger.child({ component: 'ssh' })
    this.privateKeyPath = init.privateKeyPath
    this.connectTimeoutMs = init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
  }

  /**
   * Connects and authenticates. Failures are values; aborting `signal` rejects with the
   * abort reason.
   */
  async connect (target: SshTarget, options: { signal?: AbortSignal } = {}): Promise<ConnectResult> {
    const { signal } = options
    if (signal?.aborted === true) throw abortError(signal)
    const pinned = (target.hostKeys ?? []).filter(k => hostKeyProblem(k) === undefined)
    if (pinned.length === 0) {
      return { ok: false, reason: 'host-key-mismatch', message: `node ${JSON.stringify(target.name)} has no valid pinned host key` }
    }
    const serverHostKey = [...new Set(pinned.flatMap(k => HOST_KEY_ALGORITHMS[k.type] ?? []))]
    let presented: Buffer | undefined
    let rejected = false
    const ssh = new NodeSSH()
    const onAbort = (): void => ssh.dispose()
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await ssh.connect({
        host: target.address,
        port: target.port ?? DEFAULT_SSH_PORT,
        username: target.username ?? DEFAULT_SSH_USER,
        privateKeyPath: this.privateKeyPath,
        readyTimeout: this.connectTimeoutMs,
        tryKeyboard: false,
        algorithms: { serverHostKey },
        hostVerifier: (key: Buffer): boolean => {
          presented = key
          rejected = !matchesPinned(key, pinned)
          return !rejected
        }
      } as any)
      // node-ssh listens for connection errors only while connecting: a reset that arrives
      // later (e.g. while closing) would otherwise be an uncaught exception in the agent.
      ssh.connection?.on('error', (err: Error) => { this.log.debug({ node: target.name, err: err.message }, 'ssh connection error after connect') })
    } catch (err: any) {
      ssh.dispose()
      // Re-read: the abort listener may have fired while we awaited.
      if (signal !== undefined && isAborted(signal)) throw abortError(signal)
      const message = String(err?.message ?? err)
      let result: ConnectResult
      if (rejected) {
        result = { ok: false, reason: 'host-key-mismatch', message: `host key presented by ${target.address} does not match the key pinned for ${JSON.stringify(target.name)} (${presented !== undefined ? `${presented.length}-byte key` : 'none'})` }
      } else if (err?.level === 'client-authentication') {
        result = { ok: false, reason: 'auth-failed', message: `authentication as ${target.username ?? DEFAULT_SSH_USER} refused: ${message}` }
      } else {
        result = { ok: false, reason: 'unreachable', message: `cannot reach ${target.address}:${target.port ?? DEFAULT_SSH_PORT}: ${message}` }
      }
      this.log.debug({ node: target.name, reason: result.reason }, 'ssh connect failed')
      return result
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    return { ok: true, shell: new NodeSshShell(ssh, target.env) }
  }
}

/** RemoteShell over one node-ssh connection. */
class NodeSshShell implements RemoteShell {
  constructor (private readonly ssh: NodeSSH, private readonly env: Record<string, string> | undefined) {}

  async exec (argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    // sshd ignores "signal" requests and keeps a session open until its command exits, so
    // the command reports its pid first (then execs in place) and cancel kills that pid over
    // a second channel.
    const command = `echo "$$" && exec ${quoteArgv(argv)}`
    const signals = [options.signal, options.timeoutMs !== undefined ? AbortSignal.timeout(options.timeoutMs) : undefined]
      .filter((s): s is AbortSignal => s !== undefined)
    const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined
    if (signal?.aborted === true) return { code: null, signal: null, stdout: '', stderr: '', cancelled: true }
    let head = ''
    let pid: string | undefined
    let cancelled = false
    let killing: Promise<unknown> | undefined
    const kill = (): void => {
      if (!cancelled || pid === undefined || killing !== undefined) return
      killing = this.ssh.execCommand(`pkill -KILL -P ${pid}; kill -KILL ${pid}`, this.execOptions()).catch(() => undefined)
    }
    const onAbort = (): void => { cancelled = true; kill() }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const r = await this.ssh.execCommand(command, {
        ...this.execOptions(),
        noTrim: true,
        ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
        onStdout: (chunk) => {
          if (pid !== undefined) return
          head += chunk.toString('latin1')
          const nl = head.indexOf('\n')
          if (nl >= 0) {
            const line = head.slice(0, nl)
            if (/^\d+$/.test(line)) pid = line
            kill()
          }
        }
      })
      await killing
      const nl = r.stdout.indexOf('\n')
      const stdout = nl >= 0 ? r.stdout.slice(nl + 1) : ''
      return { code: cancelled ? null : r.code, signal: r.signal ?? null, stdout, stderr: r.stderr, cancelled }
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  private execOptions (): { execOptions?: { env: Record<string, string> } } {
    return this.env === undefined ? {} : { execOptions: { env: this.env } }
  }

  async put (localPath: string, remotePath: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (options.signal?.aborted === true) throw abortError(options.signal)
    await this.ssh.putFile(localPath, remotePath)
  }

  async close (): Promise<void> {
    this.ssh.dispose()
  }
}
