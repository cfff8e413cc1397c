/**
 * PlaybookRunner: runs a plan's playbooks on its hosts and reports per-host outcomes as
 * values. AnsibleRunner drives ansible-runner with a fresh private data dir, control-path dir
 * and ident per run, a minimal environment, and strict host-key checking against a
 * known_hosts file generated from the pinned keys (docs/ansible.md names the trap each
 * setting avoids).
 */
import { randomUUID } from 'node:crypto'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { isAbsolute, join } from 'node:path'
import { createInterface } from 'node:readline'
import { execa } from 'execa'
import type { Logger } from 'pino'
import { stringify } from 'yaml'
import type { PlaybookPlan } from '../roles/plan.js'
import { packageRoot } from '../roles/shipped.js'
import {
  ANSIBLE_RUNNER_PATH, CONTROL_PERSIST_S, DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_FORKS,
  DEFAULT_RUN_TIMEOUT_MS, DIAGNOSTIC_TAIL_BYTES, KILL_GRACE_MS, GUARD_PYTHON, NICE_PATH, PYTHON_INTERPRETER, RUN_GUARD_FILE, RUNNER_NICENESS, RUNNER_PATH_ENV, RUNNER_POLL_S, SAFE_PATH
} from './constants.js'
import { parseEventLine, ResultCollector } from './events.js'
import type { HostResult, PlaybookEvent, RunEnd } from './events.js'
import { buildInventory } from './inventory.js'
import { closeControlMasters, signalTree } from './process-tree.js'

/** Options of one run. */
export interface RunOptions {
  /** Aborting kills the run's whole process tree; the result is `cancelled`. */
  signal?: AbortSignal
  /** Called for every typed event as it arrives; exceptions in it are logged and ignored. */
  onEvent?: (event: PlaybookEvent) => void
  /** Check mode (`--check --diff`): report what would change, change nothing. */
  check?: boolean
  /** Whole-run deadline; the result is `timeout` when it passes. */
  timeoutMs?: number
}

/** The outcome of one run: how it ended and each host's result. */
export interface PlaybookResult {
  /** Unique id of the run (the ansible-runner ident). */
  ident: string
  status: RunEnd
  check: boolean
  hosts: HostResult[]
  /** ansible-runner exit code: 0 ok, 2 task failures, 4 unreachable; null when killed. */
  exitCode: number | null
  durationMs: number
  /** For `error`: the tail of the runner's diagnostics. */
  message?: string
}

/**
 * The ssh options of every Ansible run: strict checking against our own known_hosts only,
 * key auth only, a control master per host. Shared with the benchmark baseline so the two
 * compare like with like.
 */
export function strictSshArgs (knownHostsPath: string, certificatePath?: string): string {
  return [
    // The manager's short-lived user certificate (manager/ssh/cert-issuer.ts), when it has one.
    ...(certificatePath !== undefined ? ['-o', `CertificateFile=${certificatePath}`] : []),
    '-o', 'ControlMaster=auto', '-o', `ControlPersist=${CONTROL_PERSIST_S}s`,
    '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHostsPath}`,
    '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'CheckHostIP=no', '-o', 'UpdateHostKeys=no',
    '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none',
    '-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no',
    '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3'
  ].join(' ')
}

/** Runs playbook plans; implementations report expected failures as values, never throw them. */
export interface PlaybookRunner {
  run: (plan: PlaybookPlan, options?: RunOptions) => Promise<PlaybookResult>
}

/** Collaborators of {@link AnsibleRunner}. */
export interface AnsibleRunnerComponents {
  logger: Logger
}

/** Settings of {@link AnsibleRunner}. */
export interface AnsibleRunnerInit {
  /** Absolute path of the manager's SSH private key. */
  privateKeyPath: string
  /** Its OpenSSH user certificate, when nodes trust a CA rather than the key (absolute, plain path). */
  certificatePath?: string
  /** ansible-runner executable, by absolute path. */
  runnerPath?: string
  /** The run guard script (default: the package's `manager/ansible/run-guard.py`). */
  guardPath?: string
  /** Parent of the per-run private data dirs; must be a plain path (no spaces). */
  workDir?: string
  forks?: number
  timeoutMs?: number
  connectTimeoutS?: number
  /** Keep each run's private data dir (artifacts, inventory) for debugging. */
  keepRunDir?: boolean
}

class Tail {
  private text = ''
  push (s: string): void {
    this.text = (this.text + s).slice(-DIAGNOSTIC_TAIL_BYTES)
  }

  toString (): string { return this.text.trim() }
}

/** ansible-runner based {@link PlaybookRunner}. */
export class AnsibleRunner implements PlaybookRunner {
  private readonly log: Logger
  private readonly init: Required<Omit<AnsibleRunnerInit, 'workDir' | 'certificatePath'>> & { workDir: string, certificatePath?: string }

  constructor (components: AnsibleRunnerComponents, init: AnsibleRunnerInit) {
    this.log = components.logger.child({ component: 'ansible-runner' })
    this.init = {
      runnerPath: ANSIBLE_RUNNER_PATH,
      guardPath: join(packageRoot(), RUN_GUARD_FILE),
      workDir: tmpdir(),
      forks: DEFAULT_FORKS,
      timeoutMs: DEFAULT_RUN_TIMEOUT_MS,
      connectTimeoutS: DEFAULT_CONNECT_TIMEOUT_S,
      keepRunDir: false,
      ...init
    }
    if (!isAbsolute(this.init.privateKeyPath)) throw new TypeError('privateKeyPath must be absolute')
  }

  /** Runs `plan`; resolves with per-host outcomes whatever happens on the hosts. */
  async run (plan: PlaybookPlan, options: RunOptions = {}): Promise<PlaybookResult> {
    const started = Date.now()
    const check = options.check === true
    const ident = `clusterd-${plan.kind}-${started}-${randomUUID().slice(0, 8)}`
    const inventory = buildInventory(plan, { privateKeyPath: this.init.privateKeyPath })
    const collector = new ResultCollector(inventory.hosts)
    const finish = (status: RunEnd, exitCode: number | null, message?: string): PlaybookResult => ({
      ident, status, check, hosts: collector.results(status), exitCode, durationMs: Date.now() - started,
      ...(message !== undefined && message.length > 0 ? { message } : {})
    })
    if (options.signal?.aborted === true) return finish('cancelled', null)
    for (const p of plan.playbooks) if (!isAbsolute(p)) throw new TypeError(`playbook path must be absolute: ${p}`)

    const dir = await mkdtemp(join(this.init.workDir, 'clusterd-run-'))
    const log = this.log.child({ ident, kind: plan.kind, check })
    try {
      if (!SAFE_PATH.test(dir)) throw new TypeError(`run dir ${dir} has characters ssh options cannot carry`)
      const cert = this.init.certificatePath
      if (cert !== undefined && !SAFE_PATH.test(cert)) throw new TypeError(`certificate path ${cert} has characters ssh options cannot carry`)
      const paths = await this.prepare(dir, plan, inventory)
      const nameOf = new Map(inventory.hosts.map(h => [h.alias, h.name]))
      const args = [
        'run', dir, '-p', 'site.yml', '-j', '--omit-env-files', '--ident', ident,
        '--rotate-artifacts', '1', '--forks', String(this.init.forks),
        // `=` form: argparse would read a separate '--check --diff' as an unknown option.
        ...(check ? ['--cmdline=--check --diff'] : [])
      ]
      log.info({ hosts: inventory.hosts.map(h => h.name), playbooks: plan.playbooks }, 'playbook run starting')

      const stop = new AbortController()
      let endReason: 'cancelled' | 'timeout' | undefined
      const onAbort = (): void => { endReason ??= 'cancelled'; stop.abort() }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const timer = setTimeout(() => { endReason ??= 'timeout'; stop.abort() }, options.timeoutMs ?? this.init.timeoutMs)

      // guard → nice → ansible-runner (nice exec's the runner): nothing of it outlives us.
      const child = execa(GUARD_PYTHON, [this.init.guardPath, NICE_PATH, '-n', String(RUNNER_NICENESS), this.init.runnerPath, ...args], {
        cwd: dir,
        extendEnv: false,
        env: this.env(paths),
        detached: true,
        stdin: 'ignore',
        buffer: false,
        reject: false,
        stripFinalNewline: false
      })
      const pid = child.pid
      let killer: Promise<void> | undefined
      stop.signal.addEventListener('abort', () => {
        if (pid === undefined) return
        killer = (async () => {
          log.warn({ reason: endReason }, 'stopping playbook run')
          await signalTree(pid, 'SIGTERM')
          const exited = await Promise.race([child.then(() => true), delay(KILL_GRACE_MS).then(() => false)])
          // pexpect's child ignores the runner's exit; finish the whole tree.
          await signalTree(pid, 'SIGKILL')
          if (!exited) await child
        })()
      }, { once: true })

      const diagnostics = new Tail()
      child.stderr?.setEncoding('utf8')
      child.stderr?.on('data', (chunk: string) => diagnostics.push(chunk))
      const lines = createInterface({ input: child.stdout!, crlfDelay: Infinity })
      for await (const line of lines) {
        const event = parseEventLine(line, a => nameOf.get(a) ?? a)
        if (event === undefined) continue
        if (event.type === 'output') diagnostics.push(event.text + '\n')
        collector.add(event, Date.now())
        if (options.onEvent !== undefined) {
          try {
            options.onEvent(event)
          } catch (err) {
            log.error({ err }, 'onEvent listener threw')
          }
        }
      }
      const done = await child
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      if (killer !== undefined) await killer
      const exitCode = typeof done.exitCode === 'number' ? done.exitCode : null
      const status: RunEnd = endReason ?? (collector.hasStats ? 'completed' : 'error')
      const failure = done.failed ? String((done as { shortMessage?: string }).shortMessage ?? '') : ''
      const result = finish(status, exitCode, status === 'error' ? (diagnostics.toString() || failure || `ansible-runner exited ${String(exitCode)} without a result`) : undefined)
      log.info({
        status, exitCode, durationMs: result.durationMs,
        hosts: result.hosts.map(h => ({ name: h.name, outcome: h.outcome, reason: h.reason, changed: h.changed }))
      }, 'playbook run finished')
      return result
    } finally {
      await closeControlMasters(join(dir, 'cp')).catch(() => 0)
      if (!this.init.keepRunDir) await rm(dir, { recursive: true, force: true })
    }
  }

  /** Writes the private data dir: wrapper playbook, inventory, known_hosts, empty config. */
  private async prepare (dir: string, plan: PlaybookPlan, inventory: ReturnType<typeof buildInventory>): Promise<RunPaths> {
    const paths: RunPaths = {
      dir,
      home: join(dir, 'home'),
      controlPath: join(dir, 'cp'),
      knownHosts: join(dir, 'known_hosts'),
      config: join(dir, 'ansible.cfg')
    }
    await Promise.all([
      mkdir(join(dir, 'project')), mkdir(join(dir, 'inventory')), mkdir(join(dir, 'env')),
      mkdir(paths.home, { mode: 0o700 }), mkdir(paths.controlPath, { mode: 0o700 })
    ])
    // The runner's own settings: how often it checks for cancellation (see RUNNER_POLL_S).
    await writeFile(join(dir, 'env', 'settings'), stringify({ pexpect_timeout: RUNNER_POLL_S }))
    // One ansible-playbook run for the whole plan: a host that fails a play is dropped from
    // the later ones, and the ~0.5 s startup is paid once.
    const site = plan.playbooks.map(p => ({ 'ansible.builtin.import_playbook': p }))
    await writeFile(join(dir, 'project', 'site.yml'), stringify(site))
    await writeFile(join(dir, 'inventory', 'hosts.yml'), inventory.yaml, { mode: 0o600 })
    await writeFile(paths.knownHosts, inventory.knownHosts, { mode: 0o600 })
    // An empty config of our own, so no ansible.cfg in the cwd or /etc/ansible applies.
    await writeFile(paths.config, '')
    await chmod(dir, 0o700)
    return paths
  }

  /** The runner's whole environment: nothing inherited from the manager process. */
  private env (paths: RunPaths): Record<string, string> {
    const sshArgs = strictSshArgs(paths.knownHosts, this.init.certificatePath)
    return {
      PATH: RUNNER_PATH_ENV,
      HOME: paths.home,
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      ANSIBLE_CONFIG: paths.config,
      // ansible-runner turns checking off unless this is set explicitly.
      ANSIBLE_HOST_KEY_CHECKING: 'True',
      ANSIBLE_SSH_ARGS: sshArgs,
      ANSIBLE_SSH_CONTROL_PATH_DIR: paths.controlPath,
      ANSIBLE_SSH_RETRIES: '0',
      ANSIBLE_PIPELINING: 'True',
      ANSIBLE_TIMEOUT: String(this.init.connectTimeoutS),
      ANSIBLE_LOCAL_TEMP: join(paths.home, 'tmp'),
      ANSIBLE_INVENTORY_ENABLED: 'yaml',
      ANSIBLE_GATHERING: 'explicit',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_DEPRECATION_WARNINGS: 'False',
      ANSIBLE_PYTHON_INTERPRETER: PYTHON_INTERPRETER
    }
  }
}

interface RunPaths {
  dir: string
  home: string
  controlPath: string
  knownHosts: string
  config: string
}

async function delay (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms).unref())
}
