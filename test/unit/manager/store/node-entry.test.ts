// The stored node entry across the machine version bump (1 -> 2: the broken state, brokenFrom
// in context, cordoned and labels on the record): older entries restore, damaged ones are refused.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { decodeNode, encodeNode } from '../../../../manager/store/node-entry.js'
import { MACHINE_VERSION, decide } from '../../../../manager/lifecycle/node-machine.js'

const AT = '2026-12-06T08:00:00.000Z'

/** An entry as a version-1 manager wrote it: no brokenFrom, no cordoned, no labels. */
function v1Entry (): Record<string, unknown> {
  const record = {
    name: 'db1', peerId: 'peer-a', state: 'upgrade-failed', roles: ['base'], vars: { a: '1' }, reachable: true, currentJob: null, lastJob: 'j1',
    reason: 'apt timeout', since: AT, discoveredAt: AT, updatedAt: AT, boot: null, drift: null, nameConflicts: []
  }
  const context = { roles: ['base'], vars: { a: '1' }, currentJob: null, lastJob: 'j1', reason: 'apt timeout', since: AT }
  return { record, snapshot: { status: 'active', value: 'upgrade-failed', context, children: {}, historyValue: {} }, machineVersion: 1, lastSeq: 3 }
}

describe('node entry: machine version 2', () => {
  it('restores a version-1 entry with brokenFrom null, uncordoned and without labels; it can then be marked broken and fixed', () => {
    const entry = decodeNode('n!db1', 'db1', JSON.stringify(v1Entry()))
    assert.equal(entry.snapshot.context.brokenFrom, null)
    assert.equal(entry.record.cordoned, false)
    assert.deepEqual(entry.record.labels, {})
    const b = decide(entry.snapshot, { type: 'MARK_BROKEN', at: AT, reason: 'disk' })
    assert.ok(b.ok && b.changed && b.to === 'broken')
    const f = decide(b.snapshot, { type: 'MARK_FIXED', at: AT })
    assert.ok(f.ok && f.changed && f.to === 'upgrade-failed')
    assert.equal(f.snapshot.context.reason, 'apt timeout')
  })

  it('writes version 2 and reads back a broken, cordoned, labelled node', () => {
    const old = decodeNode('n!db1', 'db1', JSON.stringify(v1Entry()))
    const b = decide(old.snapshot, { type: 'MARK_BROKEN', at: AT, reason: 'disk' })
    assert.ok(b.ok && b.changed)
    const record = { ...old.record, state: 'broken' as const, reason: 'disk', cordoned: true, labels: { zone: 'a' } }
    const raw = encodeNode({ record, snapshot: b.snapshot, lastSeq: 4 })
    assert.equal(JSON.parse(raw).machineVersion, MACHINE_VERSION)
    const back = decodeNode('n!db1', 'db1', raw)
    assert.deepEqual(back.snapshot.context.brokenFrom, { state: 'upgrade-failed', reason: 'apt timeout' })
    assert.equal(back.record.cordoned, true)
    assert.deepEqual(back.record.labels, { zone: 'a' })
  })

  it('refuses malformed cordoned, labels and brokenFrom as a corrupt store entry', () => {
    const good = JSON.parse(encodeNode(decodeNode('n!db1', 'db1', JSON.stringify(v1Entry()))))
    const bad = (mutate: (e: any) => void): void => {
      const e = structuredClone(good)
      mutate(e)
      assert.throws(() => decodeNode('n!db1', 'db1', JSON.stringify(e)), (err: any) => err.code === 'CLUSTERD_ERR_STORE_CORRUPT')
    }
    bad(e => { e.record.cordoned = 'yes' })
    bad(e => { e.record.labels = { zone: 1 } })
    bad(e => { e.snapshot.context.brokenFrom = { state: 'nowhere', reason: null } })
    bad(e => { delete e.snapshot.context.brokenFrom })
  })
})
