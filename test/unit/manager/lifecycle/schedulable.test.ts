import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { cordonRefusal, isSchedulable, selectForJob, statesFor } from '../../../../manager/lifecycle/schedulable.js'
import type { LifecycleState, NodeRecord } from '../../../../protocol/nodes.js'
import { LIFECYCLE_STATES } from '../../../../protocol/nodes.js'
import { parseSelector } from '../../../../protocol/selector.js'

const AT = '2026-12-06T08:00:00.000Z'

function rec (name: string, state: LifecycleState, extra: Partial<NodeRecord> = {}): NodeRecord {
  return {
    name, peerId: `peer-${name}`, state, roles: ['base', 'worker'], vars: {}, reachable: true, currentJob: null, lastJob: null, reason: null,
    since: AT, discoveredAt: AT, updatedAt: AT, boot: null, drift: null, nameConflicts: [], revision: null, agentVersion: null, cordoned: false, labels: {}, ...extra
  }
}

function sel (text: string): ReturnType<typeof parseSelector> & { ok: true } {
  const p = parseSelector(text)
  assert.ok(p.ok)
  return p
}

describe('schedulable: cordon and selection rules', () => {
  it('isSchedulable: only a commissioned, uncordoned node', () => {
    for (const state of LIFECYCLE_STATES) assert.equal(isSchedulable({ state, cordoned: false }), state === 'commissioned', state)
    assert.equal(isSchedulable({ state: 'commissioned', cordoned: true }), false)
  })

  it('a cordoned node refuses every job kind but decommission', () => {
    const n = rec('a', 'commissioned', { cordoned: true })
    for (const kind of ['commission', 'upgrade', 'verify', 'reconfigure'] as const) assert.match(cordonRefusal(n, kind) ?? '', /node a is cordoned.*clusterctl uncordon a/)
    assert.equal(cordonRefusal(n, 'decommission'), null)
    assert.equal(cordonRefusal(rec('b', 'commissioned'), 'upgrade'), null)
  })

  it('states per job kind come from the machine', () => {
    assert.deepEqual([...statesFor('upgrade')].sort(), ['commissioned', 'upgrade-failed'])
    assert.deepEqual([...statesFor('verify')], ['commissioned'])
    assert.ok(!statesFor('commission').includes('broken'))
    assert.ok(!statesFor('decommission').includes('broken'))
  })

  it('a selector picks matching nodes that can take the job, leaving out cordoned ones (but not for decommission)', () => {
    const nodes = [
      rec('w1', 'commissioned', { labels: { zone: 'a' } }),
      rec('w2', 'commissioned', { labels: { zone: 'a' }, cordoned: true }),
      rec('w3', 'commissioned', { labels: { zone: 'b' } }),
      rec('w4', 'broken', { labels: { zone: 'a' } }),
      rec('w5', 'upgrade-failed', { labels: { zone: 'a' } }),
      rec('s1', 'commissioned', { labels: { zone: 'a' }, roles: ['base', 'storage'] }),
      rec('d1', 'discovered', { labels: { zone: 'a' }, roles: [] })
    ]
    assert.deepEqual(selectForJob(nodes, sel('zone=a').selector, 'upgrade'), ['s1', 'w1', 'w5'])
    assert.deepEqual(selectForJob(nodes, sel('zone=a,role=worker').selector, 'verify'), ['w1'])
    assert.deepEqual(selectForJob(nodes, sel('zone=a').selector, 'commission'), ['d1'])
    assert.deepEqual(selectForJob(nodes, sel('zone=a,role=worker').selector, 'decommission'), ['w1', 'w2', 'w5'])
    assert.deepEqual(selectForJob(nodes, sel('state=broken').selector, 'upgrade'), [], 'a broken node takes no job')
  })
})
