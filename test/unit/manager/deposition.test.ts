// The step-down decision of a manager (manager/deposition.ts): the first news of a higher
// epoch deposes it, once; from then on every write is refused with CLUSTERD_ERR_MANAGER_CHANGED.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Deposition } from '../../../manager/deposition.js'
import { ERROR_CODES } from '../../../protocol/errors.js'

describe('Deposition', () => {
  it('is not deposed by its own or a lower epoch', () => {
    const d = new Deposition(3)
    assert.equal(d.learn({ epoch: 3, source: 'replica' }), false)
    assert.equal(d.learn({ epoch: 1, source: 'node-lease' }), false)
    assert.equal(d.news, null)
    assert.equal(d.refusal(), null, 'writes go through')
  })

  it('acts on the first news of a higher epoch only, and refuses every write from then on', () => {
    const d = new Deposition(1)
    assert.equal(d.learn({ epoch: 2, source: 'replica', from: 'peerR', manager: 'peerB' }), true)
    assert.equal(d.learn({ epoch: 2, source: 'node-lease' }), false, 'later news is not acted on again')
    assert.equal(d.learn({ epoch: 7, source: 'election' }), false)
    assert.deepEqual(d.news, { epoch: 2, source: 'replica', from: 'peerR', manager: 'peerB' })
    const err = d.refusal()
    assert.equal(err?.code, 'CLUSTERD_ERR_MANAGER_CHANGED')
    assert.equal(err?.status, ERROR_CODES.CLUSTERD_ERR_MANAGER_CHANGED.status)
    assert.equal(err?.exitCode, 8)
    assert.match(err?.message ?? '', /\(epoch 1\) was replaced by epoch 2 \(peerB\)/)
    assert.notEqual(d.refusal(), err, 'a fresh error per refused write')
  })

  it('is deposed by news naming another manager for its own epoch (a same-epoch claim it lost), not by news naming itself', () => {
    const d = new Deposition(4, 'peerSelf')
    assert.equal(d.learn({ epoch: 4, source: 'replica', manager: 'peerSelf' }), false)
    assert.equal(d.learn({ epoch: 4, source: 'replica', manager: null }), false, 'nobody named: nothing learned')
    assert.equal(d.learn({ epoch: 3, source: 'replica', manager: 'peerW' }), false)
    assert.equal(d.learn({ epoch: 4, source: 'replica', from: 'peerR', manager: 'peerW' }), true)
    assert.match(d.refusal()?.message ?? '', /lost epoch 4 to peerW/)
    assert.equal(d.refusal()?.code, 'CLUSTERD_ERR_MANAGER_CHANGED')
    // Without its own id (older callers) the rule is the higher epoch only.
    assert.equal(new Deposition(4).learn({ epoch: 4, source: 'replica', manager: 'peerW' }), false)
  })

  it('a stall no replica confirmed deposes it with its own refusal (nobody named as successor)', () => {
    const d = new Deposition(4, 'self')
    assert.equal(d.learn({ epoch: 5, source: 'stall', stalledMs: 3200 }), true)
    assert.equal(d.learn({ epoch: 6, source: 'replica' }), false, 'acted on once')
    const err = d.refusal()
    assert.equal(err?.code, 'CLUSTERD_ERR_MANAGER_CHANGED')
    assert.match(err?.message ?? '', /\(epoch 4\) stood still and no replica confirmed it since.*nothing was written/)
  })
})
