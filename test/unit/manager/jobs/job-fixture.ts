/**
 * What the job-runner unit tests share: a real LevelDB store in a temporary directory with some
 * nodes, the components every JobRunner needs (fakes at the Ansible and SSH edges, the shipped
 * roles), a fake Ansible edge that records what it is asked to run, the manager routes over
 * all of it, and a wait for a job to finish.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { PlaybookResult, RunOptions } from '../../../../manager/ansible/playbook-runner.js'
import { managerRoutes } from '../../../../manager/api/manager-routes.js'
import { JobRunner, type JobRunnerComponents } from '../../../../manager/jobs/job-runner.js'
import type { PlaybookPlan } from '../../../../manager/roles/plan.js'
import { loadRoleConfig } from '../../../../manager/roles/role-config.js'
import { shippedPlaybookDir } from '../../../../manager/roles/shipped.js'
import { ManagerStore } from '../../../../manager/store/index.js'
import { ApiReply, type ApiHandler } from '../../../../protocol/api-handler.js'
import type { ClusterdError } from '../../../../protocol/errors.js'
import type { JobRecord } from '../../../../protocol/jobs.js'
import { waitFor } from '../../../harness/poll.js'

export const logger = pino({ level: 'silent' })

/** A pinned host key for targets (any valid ed25519 public key will do). */
export const HOST_KEY = { type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl' }

/** JobRunner settings the tests use. */
export const RUNNER_INIT = { epoch: 1, cluster: 'test', baseVars: { agent_version: '0.1.0' } }

/** A started store holding `nodes` (discovered, reachable); `close()` stops it and removes it. */
export async function openJobStore (prefix: string, nodes: string[]): Promise<{ store: ManagerStore, close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`))
  const store = new ManagerStore({ logger }, { path: join(dir, 'db') })
  await store.start()
  for (const n of nodes) await store.upsertNode({ name: n, peerId: `peer-${n}`, reachable: true })
  return { store, close: async () => { await store.stop(); await rm(dir, { recursive: true, force: true }) } }
}

/** Components with the shipped roles, every pre-check passing and every node at 10.0.0.1; `over` replaces any. */
export function jobComponents (store: ManagerStore, playbooks: JobRunnerComponents['playbooks'], over: Partial<JobRunnerComponents> = {}): JobRunnerComponents {
  return {
    store,
    logger,
    playbooks,
    precheck: async () => ({ ok: true }),
    roles: async () => await loadRoleConfig(shippedPlaybookDir()),
    target: () => ({ address: '10.0.0.1', hostKeys: [HOST_KEY] }),
    ...over
  }
}

/** Waits (5 s at most) until job `id` has finished. */
export async function finishedJob (store: ManagerStore, id: string): Promise<JobRecord> {
  return await waitFor(async () => {
    const j = await store.getJob(id)
    return j !== undefined && ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined
  }, { timeoutMs: 5000, message: `job ${id} did not finish` })
}

/** Take `nodes` (discovered) to commissioned with role worker, as a finished commission job leaves them. */
export async function commissionNodes (store: ManagerStore, nodes: string[]): Promise<void> {
  for (const n of nodes) {
    await store.applyTransition(n, { type: 'COMMISSION', jobId: `j-${n}`, roles: ['worker'], vars: {} }, { actor: 'operator' })
    await store.applyTransition(n, { type: 'JOB_SUCCEEDED', jobId: `j-${n}` }, { actor: 'job-runner' })
  }
}

/**
 * The Ansible edge as a fake: records every run (its plan, whether in check mode). Hosts in
 * `failHosts` fail at `failedTask`; the others end ok with the tasks `changes` names for them
 * as changed. While `hold` is set a run waits for it, so its nodes stay in their job.
 */
export class FakePlaybooks {
  runs: Array<{ plan: PlaybookPlan, check: boolean }> = []
  changes = new Map<string, string[]>()
  failHosts = new Set<string>()
  failedTask = 'Worker user exists'
  hold: Promise<void> | null = null

  /** Every plan run, in order. */
  get plans (): PlaybookPlan[] { return this.runs.map(r => r.plan) }

  async run (plan: PlaybookPlan, options: RunOptions = {}): Promise<PlaybookResult> {
    const check = options.check === true
    this.runs.push({ plan, check })
    if (this.hold !== null) await this.hold
    return {
      ident: 'x', status: 'completed', check, exitCode: 0, durationMs: 1,
      hosts: plan.hosts.map(h => {
        const tasks = this.changes.get(h.name) ?? []
        return this.failHosts.has(h.name)
          ? { name: h.name, alias: h.name, outcome: 'failed' as const, reason: 'task-failed' as const, changed: 0, ok: 1, failedTask: this.failedTask, message: 'boom', changes: [] }
          : { name: h.name, alias: h.name, outcome: 'ok' as const, changed: tasks.length, ok: 9, changes: tasks.map(task => ({ task })) }
      })
    }
  }
}

/** A started JobRunner over a real store, with the Ansible edge faked, and the manager routes on both. */
export interface RouteFixture {
  store: ManagerStore
  playbooks: FakePlaybooks
  runner: JobRunner
  routes: Record<string, ApiHandler>
  /** Call route `name`; its reply body. */
  call: <T>(name: string, params: Record<string, string>, body?: unknown, query?: Record<string, string>) => Promise<T>
  /** Stops the runner, then the store, and removes it. */
  close: () => Promise<void>
}

/** A route fixture whose store holds `nodes` (discovered), those in `commissioned` commissioned with role worker. */
export async function openRouteFixture (prefix: string, nodes: string[], commissioned: string[]): Promise<RouteFixture> {
  const { store, close } = await openJobStore(prefix, nodes)
  await commissionNodes(store, commissioned)
  const playbooks = new FakePlaybooks()
  const runner = new JobRunner(jobComponents(store, playbooks), RUNNER_INIT)
  await runner.start()
  const routes: Record<string, ApiHandler> = managerRoutes({ store, jobs: runner, members: () => [] })
  const call = async <T>(name: string, params: Record<string, string>, body?: unknown, query: Record<string, string> = {}): Promise<T> => {
    const out = await (routes[name] as ApiHandler)({ params, query, body, signal: new AbortController().signal })
    return (out instanceof ApiReply ? out.body : out) as T
  }
  return { store, playbooks, runner, routes, call, close: async () => { await runner.stop(); await close() } }
}

/** What a call that should be refused did: `CODE: message`, or 'ok' when it was not refused. */
export async function refusal (p: Promise<unknown>): Promise<string> {
  return await p.then(() => 'ok', (err: ClusterdError) => `${err.code}: ${err.message}`)
}
