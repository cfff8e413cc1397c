// The replica's half of deposing a stale manager (agent/replica/stale-request.ts).

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { staleRequest } from '../../../../agent/replica/stale-request.js'
import type { ManagerInfo } from '../../../../protocol/manager-wire.js'

const B: ManagerInfo = { name: 'b', peerId: 'peerB', epoch: 2, since: '2026-01-01T00:00:00.000Z', local: false }

describe('staleRequest', () => {
  it('a request below the highest epoch seen is stale, naming the newer manager when its claim is known', () => {
    assert.deepEqual(staleRequest({ highestEpoch: 2, manager: B }, 1), { epoch: 2, manager: 'peerB' })
    assert.deepEqual(staleRequest({ highestEpoch: 3, manager: B }, 1), { epoch: 3, manager: null }, 'epoch 3 seen (a lease request), its claim not yet')
    assert.deepEqual(staleRequest({ highestEpoch: 2, manager: null }, 1), { epoch: 2, manager: null })
  })

  it('the current epoch from its manager, or a newer one, is not stale', () => {
    assert.equal(staleRequest({ highestEpoch: 2, manager: B }, 2), null)
    assert.equal(staleRequest({ highestEpoch: 2, manager: B }, 2, 'peerB'), null)
    assert.equal(staleRequest({ highestEpoch: 2, manager: B }, 3), null)
    assert.equal(staleRequest({ highestEpoch: 2, manager: B }, 3, 'peerC'), null)
    assert.equal(staleRequest({ highestEpoch: 0, manager: null }, 1), null)
  })

  it('a rival claimant of the current epoch is answered stale with that epoch and the manager the election names', () => {
    assert.deepEqual(staleRequest({ highestEpoch: 2, manager: B }, 2, 'peerC'), { epoch: 2, manager: 'peerB' })
    // Our own agent holds the epoch (its replica is closed): the rival is told so too.
    assert.deepEqual(staleRequest({ highestEpoch: 2, manager: { ...B, peerId: 'peerA', local: true } }, 2, 'peerC'), { epoch: 2, manager: 'peerA' })
    // No manager known for the epoch (stepped down, or only a lease request raised it): nothing to name.
    assert.equal(staleRequest({ highestEpoch: 2, manager: null }, 2, 'peerC'), null)
    assert.equal(staleRequest({ highestEpoch: 3, manager: B }, 2, 'peerC')?.epoch, 3, 'a higher epoch known: stale for that')
  })
})
