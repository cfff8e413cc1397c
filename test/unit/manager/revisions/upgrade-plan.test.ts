import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { byJobRevision, jobRevisions, planRefusal, planUpgrade, upgradeAction } from '../../../../manager/revisions/upgrade-plan.js'
import { ClusterdError } from '../../../../protocol/errors.js'

const node = (name: string, revision: number | null, agentVersion: string | null = '1.0.0'): { name: string, revision: number | null, agentVersion: string | null } => ({ name, revision, agentVersion })

describe('upgrade plans', () => {
  it('names upgrades, no-ops and downgrades', () => {
    assert.equal(upgradeAction(1, 2), 'upgrade')
    assert.equal(upgradeAction(null, 1), 'upgrade')
    assert.equal(upgradeAction(2, 2), 'no-op')
    assert.equal(upgradeAction(3, 2), 'downgrade')
  })

  it('groups nodes by current revision and agent version, oldest first, names sorted', () => {
    const plan = planUpgrade([node('c', 3), node('b', 1), node('a', 1), node('d', null, null), node('e', 2)], 2, '1.0.0')
    assert.deepEqual(plan.groups.map(g => [g.fromRevision, g.action, g.nodes]), [
      [null, 'upgrade', ['d']], [1, 'upgrade', ['a', 'b']], [2, 'no-op', ['e']], [3, 'downgrade', ['c']]
    ])
    assert.equal(plan.toRevision, 2)
  })

  it('refuses a plan holding no-ops or downgrades, naming the nodes; passes a clean one', () => {
    const err = planRefusal(planUpgrade([node('a', 1), node('b', 2), node('c', 3)], 2, '1.0.0'))
    assert.ok(err instanceof ClusterdError)
    assert.equal(err.code, 'CLUSTERD_ERR_UPGRADE_REFUSED')
    assert.match(err.message, /b already at revision 2.*c would go down from revision 3 to 2.*--force/)
    assert.deepEqual(err.details, { noOp: ['b'], downgrade: ['c'] })
    assert.equal(planRefusal(planUpgrade([node('a', 1)], 2, '1.0.0')), null)
  })
})

describe('the revision a job runs', () => {
  it('commission and upgrade: the one asked for, else the current one', () => {
    assert.deepEqual(jobRevisions('commission', undefined, [], 4), { revision: 4 })
    assert.deepEqual(jobRevisions('upgrade', 2, [node('a', 4)], 4), { revision: 2 })
    assert.deepEqual(jobRevisions('decommission', undefined, [node('a', 1)], 4), { revision: 4 })
    assert.deepEqual(jobRevisions('commission', undefined, [], null), { revision: null })
  })
  it('verify and reconfigure: each node\'s applied revision (unrecorded counts as current)', () => {
    assert.deepEqual(jobRevisions('verify', undefined, [node('a', 2), node('b', 2)], 4), { revision: 2 })
    assert.deepEqual(jobRevisions('reconfigure', undefined, [node('a', null), node('b', 4)], 4), { revision: 4 })
    const mixed = jobRevisions('verify', undefined, [node('a', 3), node('b', 2), node('c', null)], 4)
    assert.deepEqual(mixed, { revision: null, nodeRevisions: { a: 3, b: 2, c: 4 } })
    assert.deepEqual(byJobRevision({ nodeRevisions: mixed.nodeRevisions ?? {} }, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]).map(([r, ts]) => [r, ts.map(t => t.name)]), [[2, ['b']], [3, ['a']], [4, ['c']]])
    assert.deepEqual(byJobRevision({}, [{ name: 'a' }]), [[null, [{ name: 'a' }]]], 'a job from before revisions')
  })
})
