/**
 * The baseline: plain `ansible-playbook` over the same playbooks with the same forks, inventory,
 * variables and ssh settings as clusterd's runner, on a fresh set of test hosts.
 *
 * The inventory is built with the manager's own pure planner and inventory builder (planFor +
 * buildInventory), so groups, host aliases, HostKeyAlias and the injected clusterd_* variables
 * are exactly what clusterd would write; the ssh settings mirror AnsibleRunner's environment.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { DEFAULT_CONNECT_TIMEOUT_S, PYTHON_INTERPRETER, RUNNER_PATH_ENV } from '../../manager/ansible/constants.js'
import { buildInventory } from '../../manager/ansible/inventory.js'
import { strictSshArgs } from '../../manager/ansible/playbook-runner.js'
import { planFor, type PlanTarget } from '../../manager/roles/plan.js'
import { loadRoleConfig } from '../../manager/roles/role-config.js'
import type { HostKey } from '../../protocol/members.js'
import { CLUSTERD_VERSION } from '../../protocol/version.js'
import { TestHosts, type TestHost } from '../../test/harness/hosts.js'
import { run } from '../../test/harness/proc.js'
import { waitQuiet } from './machine-load.js'
import { childCpuSeconds } from './proc-cpu.js'
import { ANSIBLE_PLAYBOOK_PATH, BASELINE_FORKS, BASELINE_PREFIX, CLUSTER_NAME, ROLES, RUN_TIMEOUT_MS } from './constants.js'

/** Options of one baseline run. */
export interface BaselineRunOptions {
  hosts: number
  playbookDir: string
  /** Manager-style SSH key pair (private key path; `.pub` next to it). */
  sshKey: string
  /** Wait for the rest of the machine to be quieter than this before the run. */
  quiet: { threshold: number, maxWaitMs: number }
  say: (msg: string) => void
}

/** What one baseline run measured. */
export interface BaselineRunResult {
  hosts: number
  /** ansible-playbook spawn to exit. */
  wallMs: number
  exitCode: number | null
  /** Hosts whose worker config was written (must equal `hosts`). */
  configured: number
  /** CPU seconds of the ansible-playbook tree (forks and ssh clients included). */
  ansibleCpuS: number
  /** CPU fraction other processes used just before the run, and how long we waited for it. */
  busyBefore: number
  quietWaitMs: number
}

/** The pinned key of a test host, as a node would report it in its facts. */
export function hostKeyOf (host: TestHost): HostKey {
  const [type, key] = host.hostKeyPublic.split(' ')
  if (type === undefined || key === undefined) throw new Error(`host ${host.name} has no host key`)
  return { type, key }
}

/** The environment AnsibleRunner gives ansible-runner, for plain ansible-playbook. */
export function baselineEnv (dir: string, knownHosts: string, controlPathDir: string): Record<string, string> {
  const sshArgs = strictSshArgs(knownHosts)
  return {
    PATH: RUNNER_PATH_ENV,
    HOME: join(dir, 'home'),
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    ANSIBLE_CONFIG: join(dir, 'ansible.cfg'),
    ANSIBLE_HOST_KEY_CHECKING: 'True',
    ANSIBLE_SSH_ARGS: sshArgs,
    ANSIBLE_SSH_CONTROL_PATH_DIR: controlPathDir,
    ANSIBLE_SSH_RETRIES: '0',
    ANSIBLE_PIPELINING: 'True',
    ANSIBLE_TIMEOUT: String(DEFAULT_CONNECT_TIMEOUT_S),
    ANSIBLE_LOCAL_TEMP: join(dir, 'home', 'tmp'),
    ANSIBLE_INVENTORY_ENABLED: 'yaml',
    ANSIBLE_GATHERING: 'explicit',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_DEPRECATION_WARNINGS: 'False',
    ANSIBLE_PYTHON_INTERPRETER: PYTHON_INTERPRETER
  }
}

/** Fresh hosts, one plain ansible-playbook run of base.yml + worker.yml, teardown. */
export async function baselineRun (opts: BaselineRunOptions): Promise<BaselineRunResult> {
  const set = await TestHosts.create({ count: opts.hosts, prefix: BASELINE_PREFIX })
  const dir = await mkdtemp(join(tmpdir(), 'clusterd-bench-baseline-'))
  try {
    const pub = (await readFile(`${opts.sshKey}.pub`, 'utf8')).trim()
    for (const h of set.hosts) await h.authorizeKey(pub)
    const config = await loadRoleConfig(opts.playbookDir)
    const targets: PlanTarget[] = set.hosts.map(h => ({ name: h.name, address: h.address, hostKeys: [hostKeyOf(h)], roles: [...ROLES] }))
    // The layers the job runner passes: cluster vars = its base vars + config `vars` (empty).
    const plan = planFor(config, 'commission', targets, { cluster: CLUSTER_NAME, vars: { cluster: { agent_version: CLUSTERD_VERSION }, request: {} } })
    const inventory = buildInventory(plan, { privateKeyPath: opts.sshKey })
    await mkdir(join(dir, 'home', 'tmp'), { recursive: true, mode: 0o700 })
    await writeFile(join(dir, 'hosts.yml'), inventory.yaml, { mode: 0o600 })
    await writeFile(join(dir, 'ansible.cfg'), '')
    // Masters in the set's control dir: destroy closes them, as the runner closes its own.
    const env = baselineEnv(dir, set.knownHostsPath, set.controlDir)
    const argv = [ANSIBLE_PLAYBOOK_PATH, '-f', String(BASELINE_FORKS), '-i', join(dir, 'hosts.yml'), ...plan.playbooks]
    opts.say(`baseline: ${argv.join(' ')}`)
    const quiet = await waitQuiet(opts.quiet.threshold, opts.quiet.maxWaitMs)
    const cpu0 = childCpuSeconds('self')
    const t0 = performance.now()
    const r = await run(argv, { env, timeoutMs: RUN_TIMEOUT_MS })
    const wallMs = performance.now() - t0
    const ansibleCpuS = Math.round((childCpuSeconds('self') - cpu0) * 100) / 100
    if (r.code !== 0) opts.say(`baseline: ansible-playbook exited ${String(r.code)}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`)
    let configured = 0
    for (const h of set.hosts) if ((await h.readFile('/etc/clusterd-worker/worker.conf')) !== null) configured++
    return { hosts: opts.hosts, wallMs, exitCode: r.code, configured, ansibleCpuS, busyBefore: quiet.busy, quietWaitMs: quiet.waitedMs }
  } finally {
    await set.destroy()
    await rm(dir, { recursive: true, force: true })
  }
}
