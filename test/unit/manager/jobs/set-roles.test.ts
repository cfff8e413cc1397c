// `node set-roles` through the manager route, the real job runner and a real LevelDB store with
// the shipped roles.yaml; the Ansible edge is a fake that records each plan and can fail a host.

import { afterEach, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiReply, type ApiHandler } from '../../../../protocol/api-handler.js'
import { managerRoutes } from '../../../../manager/api/manager-routes.js'
import { JobRunner } from '../../../../manager/jobs/job-runner.js'
import type { PlaybookPlan } from '../../../../manager/roles/plan.js'
import type { PlaybookResult } from '../../../../manager/ansible/playbook-runner.js'
import type { ManagerStore } from '../../../../manager/store/index.js'
import type { ClusterdError } from '../../../../protocol/errors.js'
import type { JobRecord } from '../../../../protocol/jobs.js'
import { RUNNER_INIT, finishedJob, jobComponents, openJobStore } from './job-fixture.js'

class RecordingPlaybooks {
  plans: PlaybookPlan[] = []
  failHosts = new Set<string>()
  async run (plan: PlaybookPlan): Promise<PlaybookResult> {
    this.plans.push(plan)
    return {
      ident: 'x', status: 'completed', check: false, exitCode: 0, durationMs: 1,
      hosts: plan.hosts.map(h => this.failHosts.has(h.name)
        ? { name: h.name, alias: h.name, outcome: 'failed' as const, reason: 'task-failed' as const, changed: 0, ok: 1, failedTask: 'Worker user is removed', message: 'boom', changes: [] }
        : { name: h.name, alias: h.name, outcome: 'ok' as const, changed: 2, ok: 5, changes: [] })
    }
  }
}

describe('node set-roles (route, job runner, real store, shipped roles)', () => {
  let store: ManagerStore
  let close: () => Promise<void>
  let playbooks: RecordingPlaybooks
  let runner: JobRunner
  let routes: Record<string, ApiHandler>

  const setRoles = async (name: string, body: unknown): Promise<JobRecord> => {
    const out = await (routes.setNodeRoles as ApiHandler)({ params: { name }, query: {}, body, signal: new AbortController().signal })
    return (out as ApiReply).body as JobRecord
  }
  const refusal = async (p: Promise<unknown>): Promise<string> => await p.then(() => 'ok', (err: ClusterdError) => `${err.code}: ${err.message}`)
  const types = async (node: string): Promise<string[]> => (await store.listEvents({ node })).map(e => e.type)

  beforeEach(async () => {
    ({ store, close } = await openJobStore('setroles', ['a', 'b', 'fresh']))
    for (const n of ['a', 'b']) {
      await store.applyTransition(n, { type: 'COMMISSION', jobId: `j-${n}`, roles: ['worker'], vars: {} }, { actor: 'operator' })
      await store.applyTransition(n, { type: 'JOB_SUCCEEDED', jobId: `j-${n}` }, { actor: 'job-runner' })
    }
    playbooks = new RecordingPlaybooks()
    runner = new JobRunner(jobComponents(store, playbooks), RUNNER_INIT)
    await runner.start()
    routes = managerRoutes({ store, jobs: runner, members: () => [] })
  })

  afterEach(async () => {
    await runner.stop()
    await close()
  })

  it('cleans up the removed role first, applies the new set, then records the roles and vars on the node', async () => {
    const job = await setRoles('a', { roles: ['storage'], vars: { storage_path: '/srv/data' } })
    assert.equal(job.kind, 'reconfigure')
    assert.deepEqual(job.roles, ['storage'])
    const done = await finishedJob(store, job.id)
    assert.equal(done.status, 'succeeded', done.reason ?? '')
    const plan = playbooks.plans.at(-1) as PlaybookPlan
    assert.deepEqual(plan.playbooks.map(p => p.split('/').at(-1)), ['worker-cleanup.yml', 'base.yml', 'storage.yml'])
    assert.deepEqual(plan.hosts.map(h => [h.name, h.roles, h.cleanupRoles]), [['a', ['base', 'storage'], ['worker']]])
    assert.equal(plan.hosts[0]?.vars.storage_path, '/srv/data')
    const a = await store.getNode('a')
    assert.deepEqual(a?.roles, ['storage'])
    assert.equal(a?.vars.storage_path, '/srv/data', 'request vars become the node\'s, so later jobs have them')
    assert.equal(a?.state, 'commissioned')
    assert.deepEqual((await types('a')).slice(-3), ['reconfigure-requested', 'roles-set', 'reconfigured'])
    const rolesSet = (await store.listEvents({ node: 'a' })).find(e => e.type === 'roles-set')
    assert.deepEqual(rolesSet?.roles, ['storage'])
    assert.equal(rolesSet?.jobId, job.id)

    // Adding a role back needs no cleanup; a later plain reconfigure uses the recorded roles.
    const back = await finishedJob(store, (await setRoles('a', { roles: ['storage', 'worker'] })).id)
    assert.equal(back.status, 'succeeded')
    assert.deepEqual(playbooks.plans.at(-1)?.playbooks.map(p => p.split('/').at(-1)), ['base.yml', 'worker.yml', 'storage.yml'])
    assert.equal(playbooks.plans.at(-1)?.hosts[0]?.cleanupRoles, undefined)
    assert.deepEqual((await store.getNode('a'))?.roles, ['storage', 'worker'])
  })

  it('a failed set-roles keeps the old roles and records reconfigure-failed', async () => {
    playbooks.failHosts.add('b')
    const done = await finishedJob(store, (await setRoles('b', { roles: ['storage'], vars: { storage_path: '/srv/x' } })).id)
    assert.equal(done.status, 'failed')
    assert.deepEqual((await store.getNode('b'))?.roles, ['worker'])
    assert.equal((await store.getNode('b'))?.vars.storage_path, undefined)
    assert.equal((await types('b')).at(-1), 'reconfigure-failed')
  })

  it('refuses what cannot run before writing anything', async () => {
    const before = (await store.listJobs()).length
    assert.match(await refusal(setRoles('a', { roles: ['storage'] })), /^CLUSTERD_ERR_INVALID_ARGUMENT: node 'a': required variable\(s\) storage_path/)
    assert.match(await refusal(setRoles('a', { roles: ['nope'] })), /^CLUSTERD_ERR_UNKNOWN_ROLE/)
    assert.match(await refusal(setRoles('a', { roles: [] })), /^CLUSTERD_ERR_INVALID_ARGUMENT: set-roles needs at least one role/)
    assert.match(await refusal(setRoles('a', { roles: ['worker'] })), /^CLUSTERD_ERR_INVALID_ARGUMENT: node a already has roles worker/)
    assert.match(await refusal(setRoles('fresh', { roles: ['worker'] })), /^CLUSTERD_ERR_INVALID_TRANSITION: cannot reconfigure a node that is discovered/)
    assert.match(await refusal(setRoles('ghost', { roles: ['worker'] })), /^CLUSTERD_ERR_NODE_NOT_FOUND/)
    assert.equal((await store.listJobs()).length, before)
    assert.deepEqual((await store.getNode('a'))?.roles, ['worker'])
  })
})
