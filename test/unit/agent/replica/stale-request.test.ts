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

  it('the current epoch, a newer one, or an equal-epoch rival is not judged stale here (claims settle those)', () => {
    assert.equal(staleRequest({ highestEpoch: 2, manager: B }, 2), null)
    assert.equal(staleRequest({ highestEpoch: 2, manager: B }, 3), null)
    assert.equal(staleRequest({ highestEpoch: 0, manager: null }, 1), null)
  })
})
