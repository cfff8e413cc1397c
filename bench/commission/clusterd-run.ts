/**
 * The clusterd side: fresh test hosts, one real agent per host (host 0 the only eligible one,
 * so it becomes the manager), every other node discovered, then one `POST /v1/commission`
 * of all of them timed until the job is finished.
 *
 * The manager host itself is not commissioned: the N targets are hosts 1..N, the same count
 * the baseline configures. The agents on the targets keep running during the job, as they do
 * in a real cluster; their CPU time is reported, because on a 2-core machine it competes
 * with Ansible.
 */
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ApiClient } from '../../cli/client.js'
import type { JobEvent, JobRecord } from '../../protocol/jobs.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { type AgentProcess, PORT, makeSecret, startAgentOn, testDir } from '../../test/harness/agent-process.js'
import { TestHosts, type TestHost } from '../../test/harness/hosts.js'
import { waitFor } from '../../test/harness/poll.js'
import { delay } from '../../test/harness/proc.js'
import { CLUSTERD_PREFIX, FORM_TIMEOUT_MS, JOB_POLL_MS, ROLES, RUN_TIMEOUT_MS, SUBMIT_TIMEOUT_MS } from './constants.js'
import { waitQuiet } from './machine-load.js'
import { childCpuSeconds, cpuSeconds } from './proc-cpu.js'

/** Options of one clusterd run. */
export interface ClusterdRunOptions {
  /** Nodes to commission (the set has one more host: the manager). */
  hosts: number
  playbookDir: string
  sshKey: string
  /** Quiet time after the cluster formed, before the request. */
  settleMs: number
  /** Wait for the rest of the machine to be quieter than this before the request. */
  quiet: { threshold: number, maxWaitMs: number }
  say: (msg: string) => void
}

/** What one clusterd run measured. */
export interface ClusterdRunResult {
  hosts: number
  /** From just before `POST /v1/commission` to the job's `finishedAt` (same clock). */
  requestToFinishedMs: number
  /** From just before the POST to the poll that saw the job finished (adds up to one poll interval). */
  observedMs: number
  /** The POST itself: until the manager answered with the queued job. */
  postMs: number
  /** Job `createdAt` to `startedAt`: queueing inside the manager. */
  queuedMs: number | null
  /** Job `startedAt` to the runner starting: role config, pre-checks (ssh to each node). */
  precheckMs: number | null
  /** AnsibleRunner.run: private data dir, ansible-runner process, closing ssh masters. */
  runnerMs: number | null
  /** Runner end to job `finishedAt`: lifecycle transitions and job record written. */
  finishMs: number | null
  /** Part of finishMs: the runner's cleanup (closing ssh masters, removing the run dir). */
  runnerCleanupMs: number | null
  /** Part of finishMs: per-node lifecycle transitions, job events and the job record. */
  recordMs: number | null
  status: string
  /** Nodes whose worker config was written (must equal `hosts`). */
  configured: number
  /**
   * CPU seconds while the job ran: the manager agent and the other agents themselves, and the
   * ansible-runner tree the manager ran (its waited-for children).
   */
  cpu: { managerAgentS: number, otherAgentsS: number, ansibleS: number }
  /** CPU fraction other processes used just before the request, and how long we waited for it. */
  busyBefore: number
  quietWaitMs: number
}

interface LogLine { msg?: string, time?: number, durationMs?: number, job?: string }

function logLines (output: string): LogLine[] {
  const out: LogLine[] = []
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue
    try { out.push(JSON.parse(line) as LogLine) } catch { /* a partial line at the buffer edge */ }
  }
  return out
}

const ms = (a: string | null | undefined, b: string | null | undefined): number | null =>
  a == null || b == null ? null : Date.parse(b) - Date.parse(a)

/** Fresh hosts + agents, one commissioning job of `hosts` nodes, teardown. */
export async function clusterdRun (opts: ClusterdRunOptions): Promise<ClusterdRunResult> {
  const set = await TestHosts.create({ count: opts.hosts + 1, prefix: CLUSTERD_PREFIX })
  const dir = await testDir('bench-commission')
  const agents: AgentProcess[] = []
  try {
    const secretFile = await makeSecret(dir)
    const pub = (await readFile(`${opts.sshKey}.pub`, 'utf8')).trim()
    // As bootstrap.sh authorizes it: every session through the node gate.
    for (const h of set.hosts) await h.authorizeKey(pub, { gated: true })
    const [seed, ...targets] = set.hosts as [TestHost, ...TestHost[]]
    for (const h of set.hosts) {
      agents.push(await startAgentOn(h, {
        secretFile,
        socketDir: join(dir, 'sock'),
        join: h === seed ? [] : [`${seed.address}:${PORT}`],
        eligible: h === seed,
        sshKeyFile: opts.sshKey,
        playbookDir: opts.playbookDir
      }))
    }
    const manager = agents[0] as AgentProcess
    const api = manager.client
    const submitClient = new ApiClient({ addr: manager.socket, timeoutMs: SUBMIT_TIMEOUT_MS })
    await waitFor(async () => (await manager.manager())?.name === seed.name ? true : undefined,
      { timeoutMs: FORM_TIMEOUT_MS, intervalMs: 250, message: () => `${seed.name} becoming manager:\n${manager.output.slice(-2000)}` })
    const names = targets.map(t => t.name)
    await waitFor(async () => {
      const nodes = await api.request<NodeRecord[]>('GET', '/v1/nodes')
      const ready = nodes.filter(n => names.includes(n.name) && n.reachable && n.state === 'discovered')
      return ready.length === names.length ? true : undefined
    }, { timeoutMs: FORM_TIMEOUT_MS, intervalMs: 250, message: `all ${names.length} nodes discovered` })
    opts.say(`clusterd: ${names.length} nodes discovered; settling ${opts.settleMs / 1000} s`)
    await delay(opts.settleMs)

    const pids = agents.map(a => a.proc.pid as number)
    const quiet = await waitQuiet(opts.quiet.threshold, opts.quiet.maxWaitMs, pids)
    const cpuBefore = pids.map(cpuSeconds)
    const ansibleBefore = childCpuSeconds(pids[0] as number)
    const t0 = Date.now()
    // A long deadline and no retry: a retried POST would submit the job twice.
    const submitted = await submitClient.request<JobRecord>('POST', '/v1/commission', { nodes: names, roles: [...ROLES] })
    const postMs = Date.now() - t0
    const job = await waitFor(async () => {
      const j = await api.request<JobRecord>('GET', `/v1/jobs/${encodeURIComponent(submitted.id)}`)
      return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined
    }, { timeoutMs: RUN_TIMEOUT_MS, intervalMs: JOB_POLL_MS, message: `job ${submitted.id} finishing` })
    const observedMs = Date.now() - t0
    const cpuAfter = pids.map(cpuSeconds)
    const ansibleS = childCpuSeconds(pids[0] as number) - ansibleBefore
    const used = cpuAfter.map((c, i) => c - (cpuBefore[i] ?? 0))

    const lines = logLines(manager.output)
    const start = lines.find(l => l.msg === 'playbook run starting')
    const end = lines.find(l => l.msg === 'playbook run finished')
    // Logged by the job runner once AnsibleRunner.run returned (after its cleanup).
    const returned = lines.find(l => l.msg === 'playbook run ended')
    const iso = (t: number | undefined): string | null => t === undefined ? null : new Date(t).toISOString()
    if (job.status !== 'succeeded') {
      const events = await api.request<JobEvent[]>('GET', `/v1/jobs/${encodeURIComponent(job.id)}/events`)
      opts.say(`clusterd: job ${job.status}: ${job.reason ?? ''}\n${JSON.stringify(events.filter(e => e.kind === 'precheck' || e.kind === 'task-failed' || e.kind === 'unreachable')).slice(0, 3000)}`)
    }
    let configured = 0
    for (const h of targets) if ((await h.readFile('/etc/clusterd-worker/worker.conf')) !== null) configured++
    return {
      hosts: opts.hosts,
      requestToFinishedMs: job.finishedAt === null ? observedMs : Date.parse(job.finishedAt) - t0,
      observedMs,
      postMs,
      queuedMs: ms(job.createdAt, job.startedAt),
      precheckMs: ms(job.startedAt, iso(start?.time)),
      runnerMs: end?.durationMs ?? null,
      finishMs: ms(iso(end?.time), job.finishedAt),
      runnerCleanupMs: ms(iso(end?.time), iso(returned?.time)),
      recordMs: ms(iso(returned?.time), job.finishedAt),
      status: job.status,
      configured,
      cpu: {
        managerAgentS: Math.round((used[0] ?? 0) * 100) / 100,
        otherAgentsS: Math.round(used.slice(1).reduce((a, b) => a + b, 0) * 100) / 100,
        ansibleS: Math.round(ansibleS * 100) / 100
      },
      busyBefore: quiet.busy,
      quietWaitMs: quiet.waitedMs
    }
  } finally {
    await Promise.allSettled(agents.map(async a => await a.stop('SIGKILL')))
    await set.destroy()
    await rm(dir, { recursive: true, force: true })
  }
}
