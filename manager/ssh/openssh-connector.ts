/**
 * OpenSshConnector: root sessions over the OpenSSH client, for certificate authentication.
 * node-ssh's ssh2 (1.17) cannot log in with an OpenSSH user certificate: it sends the
 * certificate's algorithm name inside the signature blob, where sshd expects the plain key
 * type, so the manager's short-lived certificate (cert-issuer.ts) goes through `/usr/bin/ssh`,
 * the client Ansible already uses. Host keys stay pinned: a known_hosts file of the node's
 * signed keys under a per-node alias, strict checking, nothing else trusted. One control
 * master per session; every command is an argument array, each word quoted for the remote
 * shell (quote.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import type { Logger } from 'pino'
import { addressProblem, hostAlias } from '../ansible/inventory.js'
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_SSH_PORT, DEFAULT_SSH_USER, OPENSSH_PATH } from './constants.js'
import { hostKeyProblem, knownHostsLine } from './host-key.js'
import { quoteArgv } from './quote.js'
import type { ConnectResult, ExecOptions, ExecResult, RemoteShell, SshTarget } from './remote-shell.js'

/** Session environment names and values that may travel as `SetEnv` (no quoting, no spaces). */
const SSH_ENV_NAME = /^[A-Z][A-Z0-9_]{0,63}$/
const SSH_ENV_VALUE = /^[A-Za-z0-9_.:-]{1,200}$/

/** Collaborators of {@link OpenSshConnector}. */
export interface OpenSshConnectorComponents {
  logger: Logger
}

/** Settings of {@link OpenSshConnector}. */
export interface OpenSshConnectorInit {
  /** The private key (`ssh -i`). */
  privateKeyPath: string
  /** The user certificate for it (`CertificateFile`); read at each connect, so renewals apply. */
  certificatePath?: string
  /** Parent of the per-session directories (known_hosts, control socket); a private directory. */
  workDir: string
  connectTimeoutMs?: number
  sshPath?: string
}

/** How ssh reported a failed login, from its exit status 255 and stderr. */
export function classifySshFailure (stderr: string): 'host-key-mismatch' | 'auth-failed' | 'unreachable' {
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key for .* has changed|No \S+ host key is known/i.test(stderr)) return 'host-key-mismatch'
  if (/Permission denied|Too many authentication failures/i.test(stderr)) return 'auth-failed'
  return 'unreachable'
}

/** Opens pinned-host-key sessions with a key and (optionally) its certificate. */
export class OpenSshConnector {
  private readonly log: Logger
  private readonly init: OpenSshConnectorInit

  constructor (components: OpenSshConnectorComponents, init: OpenSshConnectorInit) {
    this.log = components.logger.child({ component: 'openssh' })
    this.init = init
  }

  /** Connects and authenticates (runs `true`). Failures are values; aborting rejects. */
  async connect (target: SshTarget, options: { signal?: AbortSignal } = {}): Promise<ConnectResult> {
    const { signal } = options
    signal?.throwIfAborted()
    const pinned = (target.hostKeys ?? []).filter(k => hostKeyProblem(k) === undefined)
    if (pinned.length === 0) {
      return { ok: false, reason: 'host-key-mismatch', message: `node ${JSON.stringify(target.name)} has no valid pinned host key` }
    }
    const bad = addressProblem(target.address)
    if (bad !== undefined) return { ok: false, reason: 'unreachable', message: `node ${JSON.stringify(target.name)}: ${bad}` }
    const alias = hostAlias(target.name)
    const dir = await mkdtemp(join(this.init.workDir, 'ssh-'))
    const knownHosts = join(dir, 'known_hosts')
    await writeFile(knownHosts, pinned.map(k => knownHostsLine(alias, k)).join('\n') + '\n', { mode: 0o600 })
    const setEnv: string[] = []
    for (const [k, v] of Object.entries(target.env ?? {})) {
      if (!SSH_ENV_NAME.test(k) || !SSH_ENV_VALUE.test(v)) {
        return { ok: false, reason: 'unreachable', message: `node ${JSON.stringify(target.name)}: session environment ${JSON.stringify(k)} cannot be sent safely` }
      }
      setEnv.push('-o', `SetEnv=${k}=${v}`)
    }
    const timeoutS = Math.max(1, Math.ceil((this.init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) / 1000))
    const base = [
      '-F', '/dev/null',
      '-i', this.init.privateKeyPath,
      ...(this.init.certificatePath !== undefined ? ['-o', `CertificateFile=${this.init.certificatePath}`] : []),
      '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes',
      '-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no',
      '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'CheckHostIP=no', '-o', 'UpdateHostKeys=no',
      '-o', `HostKeyAlias=${alias}`, '-o', `ConnectTimeout=${timeoutS}`,
      '-o', 'ControlMaster=auto', '-o', `ControlPath=${join(dir, 'cm')}`, '-o', 'ControlPersist=30s',
      '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3', '-o', 'LogLevel=ERROR', ...setEnv,
      '-l', target.username ?? DEFAULT_SSH_USER, '-p', String(target.port ?? DEFAULT_SSH_PORT)
    ]
    const shell = new OpenSshShell(this.init.sshPath ?? OPENSSH_PATH, base, target.address, dir)
    const r = await shell.exec(['true'], { ...(signal !== undefined ? { signal } : {}), timeoutMs: (timeoutS + 5) * 1000 })
    if (r.code === 0) return { ok: true, shell }
    await shell.close()
    signal?.throwIfAborted()
    const reason = r.cancelled ? 'unreachable' : classifySshFailure(r.stderr)
    const detail = r.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300)
    const message = reason === 'host-key-mismatch'
      ? `host key presented by ${target.address} does not match the key pinned for ${JSON.stringify(target.name)}: ${detail}`
      : reason === 'auth-failed'
        ? `authentication as ${target.username ?? DEFAULT_SSH_USER} refused (is the cluster SSH CA trusted there?): ${detail}`
        : `cannot reach ${target.address}:${target.port ?? DEFAULT_SSH_PORT}: ${r.cancelled ? 'timed out or cancelled' : detail}`
    this.log.debug({ node: target.name, reason }, 'ssh connect failed')
    return { ok: false, reason, message }
  }
}

function isAborted (signal: AbortSignal): boolean {
  return signal.aborted
}

/** A session: commands multiplexed over one control master, closed with `ssh -O exit`. */
class OpenSshShell implements RemoteShell {
  constructor (
    private readonly ssh: string,
    private readonly base: string[],
    private readonly host: string,
    private readonly dir: string
  ) {}

  async exec (argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const signals = [options.signal, options.timeoutMs !== undefined ? AbortSignal.timeout(options.timeoutMs) : undefined]
      .filter((s): s is AbortSignal => s !== undefined)
    const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined
    if (signal?.aborted === true) return { code: null, signal: null, stdout: '', stderr: '', cancelled: true }
    // `--` ends ssh's options: the address cannot be read as one (addressProblem refuses `-` too).
    const r = await execa(this.ssh, [...this.base, '--', this.host, quoteArgv(argv)], {
      extendEnv: false,
      env: { PATH: '/usr/bin:/bin', HOME: this.dir, LANG: 'C.UTF-8' },
      reject: false,
      stripFinalNewline: false,
      ...(options.stdin !== undefined ? { input: options.stdin } : { stdin: 'ignore' }),
      ...(signal !== undefined ? { cancelSignal: signal } : {}),
      forceKillAfterDelay: 1000
    })
    // Read again after the await (TypeScript narrowed it above).
    const cancelled = signal !== undefined && isAborted(signal)
    return {
      code: cancelled ? null : (typeof r.exitCode === 'number' ? r.exitCode : null),
      signal: r.signal ?? null,
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? ''),
      cancelled
    }
  }

  async put (): Promise<void> {
    throw new Error('file transfer is not supported over the certificate connector')
  }

  async close (): Promise<void> {
    await execa(this.ssh, [...this.base, '-O', 'exit', '--', this.host], { extendEnv: false, env: { PATH: '/usr/bin:/bin', HOME: this.dir }, reject: false, stdin: 'ignore', timeout: 5000 })
    await rm(this.dir, { recursive: true, force: true })
  }
}
