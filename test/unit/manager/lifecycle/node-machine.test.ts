import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createActor } from 'xstate'
import { LIFECYCLE_STATES, isTransitionalState, type LifecycleState } from '../../../../protocol/nodes.js'
import {
  ACCEPTING_STATES, BREAKABLE_STATES, MACHINE_VERSION, decide, nodeMachine, resolveNodeState, stateOf,
  type Decision, type NodeContext, type NodeMachineEvent, type NodeSnapshot
} from '../../../../manager/lifecycle/node-machine.js'

const AT = '2026-01-01T00:00:00.000Z'
const LATER = '2026-01-01T00:05:00.000Z'
const CURRENT = 'job-current'

type Op = 'COMMISSION' | 'UPGRADE' | 'DECOMMISSION'

// The documented transition table (node-machine.ts header); null = refused.
const OPERATIONS: Record<LifecycleState, Record<Op, LifecycleState | null>> = {
  discovered: { COMMISSION: 'commissioning', UPGRADE: null, DECOMMISSION: null },
  commissioning: { COMMISSION: null, UPGRADE: null, DECOMMISSION: null },
  commissioned: { COMMISSION: null, UPGRADE: 'upgrading', DECOMMISSION: 'decommissioning' },
  upgrading: { COMMISSION: null, UPGRADE: null, DECOMMISSION: null },
  decommissioning: { COMMISSION: null, UPGRADE: null, DECOMMISSION: null },
  decommissioned: { COMMISSION: 'commissioning', UPGRADE: null, DECOMMISSION: null },
  'commission-failed': { COMMISSION: 'commissioning', UPGRADE: null, DECOMMISSION: 'decommissioning' },
  'upgrade-failed': { COMMISSION: null, UPGRADE: 'upgrading', DECOMMISSION: 'decommissioning' },
  'decommission-failed': { COMMISSION: null, UPGRADE: null, DECOMMISSION: 'decommissioning' },
  broken: { COMMISSION: null, UPGRADE: null, DECOMMISSION: null }
}

const OUTCOMES: Record<'commissioning' | 'upgrading' | 'decommissioning', { ok: LifecycleState, failed: LifecycleState }> = {
  commissioning: { ok: 'commissioned', failed: 'commission-failed' },
  upgrading: { ok: 'commissioned', failed: 'upgrade-failed' },
  decommissioning: { ok: 'decommissioned', failed: 'decommission-failed' }
}

function contextFor (state: LifecycleState): NodeContext {
  return {
    roles: ['web'],
    vars: { region: 'eu' },
    currentJob: isTransitionalState(state) ? CURRENT : null,
    lastJob: state === 'discovered' ? null : CURRENT,
    reason: state.endsWith('-failed') || state === 'broken' ? 'boom' : null,
    since: AT,
    brokenFrom: state === 'broken' ? { state: 'commissioned', reason: null } : null
  }
}

function at (state: LifecycleState): NodeSnapshot {
  return resolveNodeState({ value: state, context: contextFor(state) })
}

function opEvent (op: Op, jobId = 'job-new'): NodeMachineEvent {
  return op === 'COMMISSION'
    ? { type: 'COMMISSION', at: LATER, jobId, roles: ['db'], vars: { tier: 'gold' } }
    : { type: op, at: LATER, jobId }
}

function expectChanged (d: Decision): Extract<Decision, { changed: true }> {
  assert.equal(d.ok, true, `expected a transition, got ${JSON.stringify(d)}`)
  assert.ok(d.ok && d.changed)
  return d as Extract<Decision, { changed: true }>
}

describe('node machine', () => {
  it('exports a machine version and a flat machine whose states are exactly the lifecycle states', () => {
    assert.equal(MACHINE_VERSION, 2)
    assert.deepEqual(Object.keys(nodeMachine.root.states).sort(), [...LIFECYCLE_STATES].sort())
  })

  it('creates a record only from DISCOVERED, in state discovered with empty roles', () => {
    const d = expectChanged(decide(null, { type: 'DISCOVERED', at: AT }))
    assert.equal(d.from, null)
    assert.equal(d.to, 'discovered')
    assert.deepEqual(d.snapshot.context, { roles: [], vars: {}, currentJob: null, lastJob: null, reason: null, since: AT, brokenFrom: null })
    const refused = decide(null, opEvent('COMMISSION'))
    assert.equal(refused.ok, false)
    assert.equal(!refused.ok && refused.code, 'CLUSTERD_ERR_INVALID_TRANSITION')
  })

  it('refuses DISCOVERED for a node that already has a record, in every state', () => {
    for (const state of LIFECYCLE_STATES) {
      const d = decide(at(state), { type: 'DISCOVERED', at: LATER })
      assert.equal(d.ok, false, state)
    }
  })

  for (const state of LIFECYCLE_STATES) {
    for (const op of ['COMMISSION', 'UPGRADE', 'DECOMMISSION'] as const) {
      const expected = OPERATIONS[state][op]
      it(`${op} from ${state} ${expected === null ? 'is refused and changes nothing' : `goes to ${expected}`}`, () => {
        const before = at(state)
        const frozen = structuredClone(before.context)
        const d = decide(before, opEvent(op))
        assert.deepEqual(before.context, frozen, 'decide must not mutate its input')
        if (expected === null) {
          assert.equal(d.ok, false)
          if (d.ok) return
          assert.equal(d.code, 'CLUSTERD_ERR_INVALID_TRANSITION')
          assert.equal(d.from, state)
          assert.equal(d.event, op)
          assert.match(d.message, new RegExp(`that is ${state}`))
          return
        }
        const next = expectChanged(d)
        assert.equal(next.from, state)
        assert.equal(next.to, expected)
        assert.equal(stateOf(next.snapshot), expected)
        assert.equal(next.snapshot.context.currentJob, 'job-new')
        assert.equal(next.snapshot.context.lastJob, 'job-new')
        assert.equal(next.snapshot.context.reason, null, 'starting an operation clears the old failure reason')
        assert.equal(next.snapshot.context.since, LATER)
        if (op === 'COMMISSION') {
          assert.deepEqual(next.snapshot.context.roles, ['db'])
          assert.deepEqual(next.snapshot.context.vars, { region: 'eu', tier: 'gold' }, 'commission vars layer over node vars')
        } else {
          assert.deepEqual(next.snapshot.context.roles, ['web'])
        }
      })
    }
  }

  for (const [state, outcome] of Object.entries(OUTCOMES) as Array<[keyof typeof OUTCOMES, { ok: LifecycleState, failed: LifecycleState }]>) {
    it(`${state}: the current job's success goes to ${outcome.ok}, failure and cancel to ${outcome.failed}`, () => {
      const ok = expectChanged(decide(at(state), { type: 'JOB_SUCCEEDED', at: LATER, jobId: CURRENT }))
      assert.equal(ok.to, outcome.ok)
      assert.equal(ok.snapshot.context.currentJob, null)
      assert.equal(ok.snapshot.context.lastJob, CURRENT)
      assert.equal(ok.snapshot.context.since, LATER)
      assert.deepEqual(ok.snapshot.context.roles, state === 'decommissioning' ? [] : ['web'])

      const failed = expectChanged(decide(at(state), { type: 'JOB_FAILED', at: LATER, jobId: CURRENT, reason: 'task x failed' }))
      assert.equal(failed.to, outcome.failed)
      assert.equal(failed.snapshot.context.reason, 'task x failed')
      assert.equal(failed.snapshot.context.currentJob, null)

      const cancelled = expectChanged(decide(at(state), { type: 'JOB_CANCELLED', at: LATER, jobId: CURRENT, reason: 'operator' }))
      assert.equal(cancelled.to, outcome.failed)
      assert.equal(cancelled.snapshot.context.reason, 'cancelled: operator')
    })

    it(`${state}: reports about another job are ignored, not applied`, () => {
      const before = at(state)
      for (const event of [
        { type: 'JOB_SUCCEEDED', at: LATER, jobId: 'job-stale' },
        { type: 'JOB_FAILED', at: LATER, jobId: 'job-stale', reason: 'x' },
        { type: 'JOB_CANCELLED', at: LATER, jobId: 'job-stale', reason: 'x' }
      ] as NodeMachineEvent[]) {
        const d = decide(before, event)
        assert.equal(d.ok, true)
        assert.ok(d.ok && !d.changed, `${event.type} for a stale job must be ignored`)
        assert.equal(stateOf(d.snapshot), state)
        assert.deepEqual(d.snapshot.context, before.context)
        assert.match(d.ignored, /job-stale/)
      }
    })
  }

  it('ignores job reports in states that wait for no job', () => {
    for (const state of LIFECYCLE_STATES.filter(s => !isTransitionalState(s))) {
      const d = decide(at(state), { type: 'JOB_SUCCEEDED', at: LATER, jobId: CURRENT })
      assert.ok(d.ok && !d.changed, state)
    }
  })

  it('retries a failed commission with new roles and vars, and the retry can succeed', () => {
    let snap = expectChanged(decide(null, { type: 'DISCOVERED', at: AT })).snapshot
    snap = expectChanged(decide(snap, { type: 'COMMISSION', at: AT, jobId: 'j1', roles: ['web'], vars: { a: '1' } })).snapshot
    snap = expectChanged(decide(snap, { type: 'JOB_FAILED', at: AT, jobId: 'j1', reason: 'apt timeout' })).snapshot
    assert.equal(stateOf(snap), 'commission-failed')
    assert.equal(snap.context.reason, 'apt timeout')
    // A late duplicate of j1's failure after the retry started must not fail the retry.
    snap = expectChanged(decide(snap, { type: 'COMMISSION', at: LATER, jobId: 'j2', roles: ['web', 'db'], vars: { a: '2' } })).snapshot
    const dup = decide(snap, { type: 'JOB_FAILED', at: LATER, jobId: 'j1', reason: 'apt timeout' })
    assert.ok(dup.ok && !dup.changed)
    snap = expectChanged(decide(snap, { type: 'JOB_SUCCEEDED', at: LATER, jobId: 'j2' })).snapshot
    assert.equal(stateOf(snap), 'commissioned')
    assert.deepEqual(snap.context, { roles: ['web', 'db'], vars: { a: '2' }, currentJob: null, lastJob: 'j2', reason: null, since: LATER, brokenFrom: null })
  })

  it('retries a failed upgrade and a failed decommission with the same operation', () => {
    const up = expectChanged(decide(at('upgrade-failed'), opEvent('UPGRADE', 'j9')))
    assert.equal(up.to, 'upgrading')
    const down = expectChanged(decide(at('decommission-failed'), opEvent('DECOMMISSION', 'j9')))
    assert.equal(down.to, 'decommissioning')
  })

  it('SET_VARS replaces vars in every state without changing the state or the job', () => {
    for (const state of LIFECYCLE_STATES) {
      const d = expectChanged(decide(at(state), { type: 'SET_VARS', at: LATER, vars: { x: 'y' } }))
      assert.equal(d.to, state)
      assert.deepEqual(d.snapshot.context.vars, { x: 'y' })
      assert.equal(d.snapshot.context.currentJob, contextFor(state).currentJob)
      assert.equal(d.snapshot.context.since, AT, 'since tracks state entry, not var edits')
    }
  })

  it('accepts state given as plain data and gives the same answer as a live snapshot', () => {
    for (const state of LIFECYCLE_STATES) {
      const fromData = decide({ value: state, context: contextFor(state) }, opEvent('DECOMMISSION'))
      const fromSnap = decide(at(state), opEvent('DECOMMISSION'))
      assert.equal(fromData.ok, fromSnap.ok, state)
      if (fromData.ok && fromSnap.ok) assert.deepEqual(fromData.snapshot.context, fromSnap.snapshot.context)
    }
  })

  it('continues from a persisted snapshot restored with createActor', () => {
    const start = expectChanged(decide(at('discovered'), opEvent('COMMISSION', 'j1'))).snapshot
    const persisted = JSON.parse(JSON.stringify(nodeMachine.getPersistedSnapshot(start)))
    const restored = createActor(nodeMachine, { snapshot: persisted, input: { at: AT } }).getSnapshot()
    assert.equal(stateOf(restored), 'commissioning')
    const d = expectChanged(decide(restored, { type: 'JOB_SUCCEEDED', at: LATER, jobId: 'j1' }))
    assert.equal(d.to, 'commissioned')
  })

  it('ACCEPTING_STATES (used in refusal messages) matches the documented table', () => {
    for (const op of ['COMMISSION', 'UPGRADE', 'DECOMMISSION'] as const) {
      const expected = LIFECYCLE_STATES.filter(s => OPERATIONS[s][op] !== null)
      assert.deepEqual([...ACCEPTING_STATES[op]], expected, op)
    }
    assert.deepEqual([...ACCEPTING_STATES.JOB_SUCCEEDED], ['commissioning', 'upgrading', 'decommissioning'])
    assert.deepEqual([...ACCEPTING_STATES.MARK_BROKEN], [...BREAKABLE_STATES].sort((a, b) => LIFECYCLE_STATES.indexOf(a) - LIFECYCLE_STATES.indexOf(b)))
    assert.deepEqual([...ACCEPTING_STATES.MARK_FIXED], ['broken'])
  })
})

describe('node machine: broken (mark-broken / mark-fixed)', () => {
  const broken = (reason = 'PSU failed'): NodeMachineEvent => ({ type: 'MARK_BROKEN', at: LATER, reason })
  const fixed: NodeMachineEvent = { type: 'MARK_FIXED', at: LATER }

  for (const state of LIFECYCLE_STATES.filter(s => s !== 'broken')) {
    const breakable = (BREAKABLE_STATES as readonly string[]).includes(state)
    it(`MARK_BROKEN from ${state} ${breakable ? 'goes to broken, and MARK_FIXED returns to it with its reason' : 'is refused (a job is in flight)'}`, () => {
      const d = decide(at(state), broken())
      if (!breakable) {
        assert.equal(d.ok, false)
        assert.match(!d.ok ? d.message : '', /cannot mark_broken a node that is .*; allowed from: discovered, commissioned/)
        return
      }
      const b = expectChanged(d)
      assert.equal(b.to, 'broken')
      assert.equal(b.snapshot.context.reason, 'PSU failed')
      assert.equal(b.snapshot.context.since, LATER)
      assert.deepEqual(b.snapshot.context.brokenFrom, { state, reason: contextFor(state).reason })
      assert.deepEqual(b.snapshot.context.roles, ['web'], 'roles and vars are kept: not decommissioned')
      // Through a persisted snapshot, as the store keeps it.
      const persisted = JSON.parse(JSON.stringify(nodeMachine.getPersistedSnapshot(b.snapshot)))
      const restored = createActor(nodeMachine, { snapshot: persisted, input: { at: AT } }).getSnapshot()
      const f = expectChanged(decide(restored, fixed))
      assert.equal(f.to, state)
      assert.equal(f.snapshot.context.reason, contextFor(state).reason)
      assert.equal(f.snapshot.context.brokenFrom, null)
    })
  }

  it('a broken node refuses every job command and a second MARK_BROKEN; job reports are ignored', () => {
    for (const op of ['COMMISSION', 'UPGRADE', 'DECOMMISSION'] as const) {
      const d = decide(at('broken'), opEvent(op))
      assert.equal(d.ok, false, op)
    }
    assert.equal(decide(at('broken'), broken('again')).ok, false)
    const report = decide(at('broken'), { type: 'JOB_FAILED', at: LATER, jobId: CURRENT, reason: 'x' })
    assert.ok(report.ok && !report.changed)
  })

  it('MARK_FIXED is refused outside broken', () => {
    for (const state of LIFECYCLE_STATES.filter(s => s !== 'broken')) assert.equal(decide(at(state), fixed).ok, false, state)
  })

  it('a broken snapshot without brokenFrom (not made by this machine) is fixed to discovered', () => {
    const d = expectChanged(decide({ value: 'broken', context: { ...contextFor('broken'), brokenFrom: null } }, fixed))
    assert.equal(d.to, 'discovered')
  })
})
