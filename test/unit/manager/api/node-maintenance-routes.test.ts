// Cordon, mark-broken/fixed, labels and selectors through the manager's routes, a real store
// (LevelDB) and the real job runner; only the Ansible edge is a fake (every host ok, and a run
// can be held open to keep a node in a job).

import { afterEach, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { ManagerStore } from '../../../../manager/store/index.js'
import type { JobRecord } from '../../../../protocol/jobs.js'
import type { LabelResponse, NodeChangeResponse, NodeRecord } from '../../../../protocol/nodes.js'
import { finishedJob, openRouteFixture, refusal, type FakePlaybooks, type RouteFixture } from '../jobs/job-fixture.js'

describe('manager routes: cordon, mark-broken, labels, selectors (real store and job runner)', () => {
  let fx: RouteFixture
  let store: ManagerStore
  let playbooks: FakePlaybooks

  const call = async <T>(name: string, params: Record<string, string>, body?: unknown, query: Record<string, string> = {}): Promise<T> => await fx.call<T>(name, params, body, query)
  const job = async (name: string, body: unknown): Promise<JobRecord> => await finishedJob(store, (await call<JobRecord>(name, {}, body)).id)

  beforeEach(async () => {
    fx = await openRouteFixture('nodelife', ['a', 'b', 'c', 'fresh'], ['a', 'b', 'c'])
    store = fx.store
    playbooks = fx.playbooks
  })

  afterEach(async () => { await fx.close() })

  it('cordon: recorded once, refuses new jobs on the node by name, is skipped by --all, still allows decommission; uncordon undoes it', async () => {
    const res = await call<NodeChangeResponse>('cordonNode', { name: 'a' }, {})
    assert.equal(res.node.cordoned, true)
    assert.equal(res.event?.type, 'cordoned')
    assert.equal(res.event?.actor, 'operator')
    assert.equal((await call<NodeChangeResponse>('cordonNode', { name: 'a' }, {})).event, null, 'a repeat writes nothing')
    assert.equal((await store.listEvents({ node: 'a' })).filter(e => e.type === 'cordoned').length, 1)

    assert.match(await refusal(call('upgrade', {}, { nodes: ['a'] })), /^CLUSTERD_ERR_NODE_CORDONED: node a is cordoned/)
    assert.match(await refusal(call('verify', {}, { nodes: ['a', 'b'] })), /^CLUSTERD_ERR_NODE_CORDONED/)
    assert.deepEqual((await job('upgrade', { nodes: [], all: true })).nodes, ['b', 'c'], '--all skips the cordoned node')
    assert.deepEqual((await job('reconfigure', { nodes: [], all: true })).nodes, ['b', 'c'])
    assert.equal((await store.getNode('a'))?.state, 'commissioned', 'untouched')

    const un = await call<NodeChangeResponse>('uncordonNode', { name: 'a' }, {})
    assert.equal(un.node.cordoned, false)
    assert.equal(un.event?.type, 'uncordoned')
    assert.deepEqual((await job('verify', { nodes: [], all: true })).nodes, ['a', 'b', 'c'])

    await call('cordonNode', { name: 'c' }, {})
    const dec = await job('decommission', { nodes: ['c'] })
    assert.equal(dec.status, 'succeeded', 'a cordoned node can still be retired')
    assert.equal((await store.getNode('c'))?.state, 'decommissioned')
    assert.equal((await store.getNode('c'))?.cordoned, true, 'the flag stays until uncordoned')
  })

  it('refuses bad bodies and unknown nodes', async () => {
    assert.match(await refusal(call('cordonNode', { name: 'ghost' }, {})), /^CLUSTERD_ERR_NODE_NOT_FOUND/)
    assert.match(await refusal(call('cordonNode', { name: 'a' }, { force: true })), /^CLUSTERD_ERR_INVALID_ARGUMENT: unknown field/)
    assert.match(await refusal(call('markBroken', { name: 'a' }, {})), /^CLUSTERD_ERR_INVALID_ARGUMENT: reason must be/)
    assert.match(await refusal(call('markBroken', { name: 'a' }, { reason: '   ' })), /^CLUSTERD_ERR_INVALID_ARGUMENT/)
    assert.match(await refusal(call('markBroken', { name: 'a' }, { reason: 'x'.repeat(501) })), /^CLUSTERD_ERR_INVALID_ARGUMENT/)
    assert.match(await refusal(call('markFixed', { name: 'a' }, {})), /^CLUSTERD_ERR_INVALID_TRANSITION: cannot mark_fixed a node that is commissioned/)
  })

  it('mark-broken takes a node out of service (no job, not picked) and mark-fixed returns it; refused while the node is in a job', async () => {
    let release = (): void => {}
    playbooks.hold = new Promise(resolve => { release = resolve })
    const held = await call<JobRecord>('verify', {}, { nodes: ['b'] })
    assert.match(await refusal(call('markBroken', { name: 'b' }, { reason: 'fan' })), new RegExp(`^CLUSTERD_ERR_NODE_BUSY: node b is in job ${held.id}`))
    release()
    await finishedJob(store, held.id)

    const res = await call<NodeChangeResponse>('markBroken', { name: 'a' }, { reason: 'PSU failed, ticket 42' })
    assert.equal(res.node.state, 'broken')
    assert.equal(res.node.reason, 'PSU failed, ticket 42')
    assert.deepEqual(res.node.roles, ['worker'], 'not decommissioned')
    assert.equal(res.event?.type, 'marked-broken')
    assert.equal(res.event?.from, 'commissioned')
    assert.equal(res.event?.reason, 'PSU failed, ticket 42')
    assert.match(await refusal(call('upgrade', {}, { nodes: ['a'] })), /^CLUSTERD_ERR_INVALID_TRANSITION: cannot upgrade a node that is broken/)
    assert.match(await refusal(call('decommission', {}, { nodes: ['a'] })), /^CLUSTERD_ERR_INVALID_TRANSITION/)
    assert.deepEqual((await job('upgrade', { nodes: [], all: true })).nodes, ['b', 'c'])

    const fixed = await call<NodeChangeResponse>('markFixed', { name: 'a' }, {})
    assert.equal(fixed.node.state, 'commissioned')
    assert.equal(fixed.node.reason, null)
    assert.equal(fixed.event?.type, 'marked-fixed')
    assert.deepEqual((await store.listEvents({ node: 'a' })).slice(-2).map(e => `${e.type} ${e.from}->${e.to}`),
      ['marked-broken commissioned->broken', 'marked-fixed broken->commissioned'])
  })

  it('mark-broken or cordon sent in the same instant as a job for the node: one of them is refused, never both taken', async () => {
    // The real store answers asynchronously, so without the runner putting these changes between
    // submissions a verify validated before mark-broken and recorded after it ran on a broken node.
    let jobs = 0
    for (let i = 0; i < 12; i++) {
      const pair = [call<NodeChangeResponse>('markBroken', { name: 'a' }, { reason: `round ${i}` }), call<JobRecord>('verify', {}, { nodes: ['a'] })] as const
      const [mark, submitted] = i % 2 === 0 ? await Promise.allSettled(pair) : (await Promise.allSettled([pair[1], pair[0]])).reverse() as [PromiseSettledResult<NodeChangeResponse>, PromiseSettledResult<JobRecord>]
      if (submitted.status === 'fulfilled') {
        jobs++
        assert.equal(mark.status, 'rejected', `round ${i}: a job was taken for a, so marking it broken must wait or be refused`)
        assert.match(String((mark.reason as Error).message), new RegExp(`node a is in job ${submitted.value.id}`))
        assert.equal((await finishedJob(store, submitted.value.id)).status, 'succeeded')
      } else {
        assert.equal(mark.status, 'fulfilled', `round ${i}: neither was taken: ${String(mark.status === 'rejected' ? mark.reason : '')} / ${String(submitted.reason)}`)
        assert.match(await refusal(Promise.reject(submitted.reason)), /^CLUSTERD_ERR_INVALID_TRANSITION: cannot verify a node that is broken/)
        assert.equal((await store.getNode('a'))?.currentJob, null, `round ${i}: no job holds the broken node`)
        await call('markFixed', { name: 'a' }, {})
      }
    }
    assert.ok(jobs > 0, 'the job was taken in some round')

    // The other order, held open so it cannot go by before the submission: a change in flight
    // (as mark-broken's) makes a submission wait, which then sees the node broken.
    let release = (): void => {}
    const hold = new Promise<void>(resolve => { release = resolve })
    const change = fx.runner.betweenSubmissions(async () => {
      const res = await store.applyTransition('a', { type: 'MARK_BROKEN', reason: 'held' }, { actor: 'operator' })
      assert.ok(res.ok)
      await hold
    })
    const late = refusal(call<JobRecord>('verify', {}, { nodes: ['a'] }))
    release()
    await change
    assert.match(await late, /^CLUSTERD_ERR_INVALID_TRANSITION: cannot verify a node that is broken/)
    assert.equal((await store.getNode('a'))?.currentJob, null)
    await call('markFixed', { name: 'a' }, {})
    // A change asked for a node in a job is refused before it runs.
    const busy = await call<JobRecord>('verify', {}, { nodes: ['a'] })
    let ran = false
    assert.match(await refusal(fx.runner.betweenSubmissions(async () => { ran = true }, { idleNode: 'a' })), new RegExp(`^CLUSTERD_ERR_NODE_BUSY: node a is in job ${busy.id}`))
    assert.equal(ran, false)
    await finishedJob(store, busy.id)

    const [cordoned, submitted] = await Promise.allSettled([call<NodeChangeResponse>('cordonNode', { name: 'b' }, {}), call<JobRecord>('verify', {}, { nodes: ['b'] })])
    assert.equal(cordoned.status, 'fulfilled')
    // Submitted first (the calls start in this order and the verify's checks are quicker), the
    // job runs; either way what was recorded is consistent with the order the runner took them in.
    if (submitted.status === 'fulfilled') await finishedJob(store, submitted.value.id)
    else assert.match(await refusal(Promise.reject(submitted.reason)), /^CLUSTERD_ERR_NODE_CORDONED/)
  })

  it('labels: set and remove, recorded with the labels after, re-applied by a reconfigure job where one may run; bad keys refused', async () => {
    const res = await call<LabelResponse>('labelNode', { name: 'a' }, { set: { zone: 'a', rack: 'r1' } })
    assert.deepEqual(res.node.labels, { zone: 'a', rack: 'r1' })
    assert.equal(res.event?.type, 'labels-set')
    assert.deepEqual(res.event?.labels, { zone: 'a', rack: 'r1' })
    assert.equal(res.job?.kind, 'reconfigure')
    assert.equal((await finishedJob(store, res.job?.id ?? '')).status, 'succeeded')
    assert.deepEqual(playbooks.plans.at(-1)?.hosts[0]?.vars.clusterd_labels, { zone: 'a', rack: 'r1' }, 'the playbooks get the labels')
    const removed = await call<LabelResponse>('labelNode', { name: 'a' }, { remove: ['rack'] })
    assert.deepEqual(removed.node.labels, { zone: 'a' })
    await finishedJob(store, removed.job?.id ?? '')
    const same = await call<LabelResponse>('labelNode', { name: 'a' }, { set: { zone: 'a' } })
    assert.equal(same.event, null)
    assert.equal(same.job, null)
    await call('cordonNode', { name: 'b' }, {})
    const cordoned = await call<LabelResponse>('labelNode', { name: 'b' }, { set: { zone: 'b' } })
    assert.equal(cordoned.event?.type, 'labels-set', 'a cordoned node can be labelled')
    assert.equal(cordoned.job, null)
    assert.match(cordoned.notApplied ?? '', /the node is cordoned; run clusterctl reconfigure b later/)
    const fresh = await call<LabelResponse>('labelNode', { name: 'fresh' }, { set: { zone: 'b' } })
    assert.match(fresh.notApplied ?? '', /the node is discovered/)
    assert.match(await refusal(call('labelNode', { name: 'a' }, { set: { role: 'x' } })), /reserved/)
    assert.match(await refusal(call('labelNode', { name: 'a' }, { set: { 'bad key': 'x' } })), /label key "bad key" is invalid/)
    assert.match(await refusal(call('labelNode', { name: 'a' }, { set: { k: 'v' }, remove: ['k'] })), /both set and removed/)
    assert.match(await refusal(call('labelNode', { name: 'a' }, { set: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) })), /at most 32 labels/)
  })

  it('selectors: nodes are filtered, jobs get the matching nodes that can take them (cordoned and broken left out)', async () => {
    for (const n of ['a', 'b', 'c']) {
      const res = await call<LabelResponse>('labelNode', { name: n }, { set: { zone: n === 'c' ? 'b' : 'a' } })
      await finishedJob(store, res.job?.id ?? '')
    }
    await call('labelNode', { name: 'fresh' }, { set: { zone: 'a' } })
    const listed = await call<NodeRecord[]>('listNodes', {}, undefined, { selector: 'zone=a' })
    assert.deepEqual(listed.map(n => n.name), ['a', 'b', 'fresh'])
    const paged = await call<{ items: NodeRecord[] }>('listNodes', {}, undefined, { selector: 'zone=a,state=commissioned', limit: '10' })
    assert.deepEqual(paged.items.map(n => n.name), ['a', 'b'])
    assert.match(await refusal(call('listNodes', {}, undefined, { selector: 'zone' })), /^CLUSTERD_ERR_INVALID_ARGUMENT: selector term "zone" is not K=V/)

    await call('cordonNode', { name: 'b' }, {})
    assert.deepEqual((await job('verify', { nodes: [], selector: 'zone=a' })).nodes, ['a'])
    assert.deepEqual((await job('commission', { nodes: [], selector: 'zone=a', roles: ['worker'] })).nodes, ['fresh'])
    await call('markBroken', { name: 'a' }, { reason: 'disk' })
    assert.deepEqual((await job('upgrade', { nodes: [], selector: 'zone=a,role=worker' })).nodes, ['fresh'], 'a broken, b cordoned')
    assert.match(await refusal(call('upgrade', {}, { nodes: [], selector: 'zone=a,state=broken' })), /^CLUSTERD_ERR_INVALID_ARGUMENT: no node matching zone=a,state=broken can take a upgrade job/)
    assert.match(await refusal(call('upgrade', {}, { nodes: ['a'], selector: 'zone=a' })), /only one of them/)
    assert.match(await refusal(call('reconfigure', {}, { nodes: [], all: true, selector: 'zone=a' })), /only one of them/)
    assert.deepEqual((await job('decommission', { nodes: [], selector: 'role=worker' })).nodes.sort(), ['b', 'c', 'fresh'], 'decommission takes cordoned nodes')
  })
})
