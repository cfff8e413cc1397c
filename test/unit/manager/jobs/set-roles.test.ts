// `node set-roles` through the manager route, the real job runner and a real LevelDB store with
// the shipped roles.yaml; the Ansible edge is a fake that records each plan and can fail a host.

import { afterEach, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { PlaybookPlan } from '../../../../manager/roles/plan.js'
import type { ManagerStore } from '../../../../manager/store/index.js'
import type { JobRecord } from '../../../../protocol/jobs.js'
import { finishedJob, openRouteFixture, refusal, type FakePlaybooks, type RouteFixture } from './job-fixture.js'

describe('node set-roles (route, job runner, real store, shipped roles)', () => {
  let fx: RouteFixture
  let store: ManagerStore
  let playbooks: FakePlaybooks

  const setRoles = async (name: string, body: unknown): Promise<JobRecord> => await fx.call<JobRecord>('setNodeRoles', { name }, body)
  const types = async (node: string): Promise<string[]> => (await store.listEvents({ node })).map(e => e.type)

  beforeEach(async () => {
    fx = await openRouteFixture('setroles', ['a', 'b', 'fresh'], ['a', 'b'])
    store = fx.store
    playbooks = fx.playbooks
  })

  afterEach(async () => { await fx.close() })

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
