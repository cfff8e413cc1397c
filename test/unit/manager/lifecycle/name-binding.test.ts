// The rules binding a node name to a peer (pure): who may take a name, when a claim is
// recorded as a conflict, and when an operator may move or forget a name.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { checkForget, checkRebind, conflictsAfterRebind, judgeClaim } from '../../../../manager/lifecycle/name-binding.js'
import type { Member } from '../../../../protocol/members.js'
import { MAX_NAME_CONFLICTS, type NodeRecord } from '../../../../protocol/nodes.js'

const AT = '2026-12-06T08:00:00.000Z'

function record (extra: Partial<NodeRecord> = {}): NodeRecord {
  return {
    name: 'db1', peerId: 'peer-a', state: 'commissioned', roles: ['base'], vars: {}, reachable: true, currentJob: null, lastJob: 'j1', reason: null,
    since: AT, discoveredAt: AT, updatedAt: AT, boot: null, drift: null, nameConflicts: [], revision: null, agentVersion: null, cordoned: false, labels: {}, ...extra
  }
}

function member (peerId: string, status: Member['status'] = 'alive', name = 'db1'): Member {
  return { name, peerId, addresses: [], status, incarnation: 1, labels: {}, facts: null, boot: null, managerEligible: false, lastSeen: AT }
}

describe('name binding rules', () => {
  it('a name with no record goes to its first claimant; the bound peer is an ordinary update', () => {
    assert.deepEqual(judgeClaim(undefined, { peerId: 'peer-a', reachable: true }, AT), { kind: 'new' })
    assert.deepEqual(judgeClaim(record(), { peerId: 'peer-a', reachable: false }, AT), { kind: 'bound' })
  })

  it("another live peer's claim is recorded once; repeats, unreachable claimants and a full list add nothing", () => {
    const first = judgeClaim(record(), { peerId: 'peer-b', reachable: true }, AT)
    assert.deepEqual(first, { kind: 'conflict', conflicts: [{ peerId: 'peer-b', since: AT }] })
    const withB = record({ nameConflicts: [{ peerId: 'peer-b', since: AT }], cordoned: false, labels: {} })
    assert.deepEqual(judgeClaim(withB, { peerId: 'peer-b', reachable: true }, AT), { kind: 'refused', why: 'recorded' })
    assert.deepEqual(judgeClaim(withB, { peerId: 'peer-c', reachable: false }, AT), { kind: 'refused', why: 'unreachable' })
    const full = record({ nameConflicts: Array.from({ length: MAX_NAME_CONFLICTS }, (_, i) => ({ peerId: `peer-x${i}`, since: AT })) })
    assert.deepEqual(judgeClaim(full, { peerId: 'peer-c', reachable: true }, AT), { kind: 'refused', why: 'full' })
  })

  it('rebind: only to a live member claiming the name, never during a job; the bound peer itself clears the conflicts', () => {
    const r = record({ nameConflicts: [{ peerId: 'peer-b', since: AT }, { peerId: 'peer-c', since: AT }], cordoned: false, labels: {} })
    assert.deepEqual(checkRebind(r, 'peer-b', member('peer-b'), null), { ok: true, same: false })
    assert.deepEqual(checkRebind(r, 'peer-a', member('peer-a'), null), { ok: true, same: true })
    const codes = [
      checkRebind(r, 'peer-b', member('peer-b'), 'j7'),
      checkRebind(r, 'peer-z', undefined, null),
      checkRebind(r, 'peer-b', member('peer-b', 'alive', 'web3'), null),
      checkRebind(r, 'peer-b', member('peer-b', 'failed'), null)
    ].map(x => x.ok ? 'ok' : x.code)
    assert.deepEqual(codes, ['CLUSTERD_ERR_NODE_BUSY', 'CLUSTERD_ERR_PEER_NOT_CLAIMING', 'CLUSTERD_ERR_PEER_NOT_CLAIMING', 'CLUSTERD_ERR_PEER_NOT_CLAIMING'])
    assert.deepEqual(conflictsAfterRebind(r.nameConflicts, 'peer-a', 'peer-b'), [{ peerId: 'peer-c', since: AT }])
    assert.deepEqual(conflictsAfterRebind(r.nameConflicts, 'peer-a', 'peer-a'), [])
  })

  it('forget: never during a job; a reachable bound peer only with force; a gone or failed one freely', () => {
    const r = record()
    const code = (x: ReturnType<typeof checkForget>): string => x.ok ? 'ok' : x.code
    assert.equal(code(checkForget(r, member('peer-a', 'alive'), null, false)), 'CLUSTERD_ERR_NODE_REACHABLE')
    assert.equal(code(checkForget(r, member('peer-a', 'suspect'), null, false)), 'CLUSTERD_ERR_NODE_REACHABLE')
    assert.equal(code(checkForget(r, member('peer-a', 'alive'), null, true)), 'ok')
    assert.equal(code(checkForget(r, member('peer-a', 'failed'), null, false)), 'ok')
    assert.equal(code(checkForget(r, undefined, null, false)), 'ok')
    assert.equal(code(checkForget(r, undefined, 'j9', true)), 'CLUSTERD_ERR_NODE_BUSY', 'force does not cut a job short')
  })
})
