/**
 * What the job-runner unit tests share: a real LevelDB store in a temporary directory with some
 * nodes, the components every JobRunner needs (fakes at the Ansible and SSH edges, the shipped
 * roles), and a wait for a job to finish.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { JobRunnerComponents } from '../../../../manager/jobs/job-runner.js'
import { loadRoleConfig } from '../../../../manager/roles/role-config.js'
import { shippedPlaybookDir } from '../../../../manager/roles/shipped.js'
import { ManagerStore } from '../../../../manager/store/index.js'
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
