// The step-down decision of a manager (manager/deposition.ts): the first news of a higher
// epoch deposes it, once; from then on every write is refused with CLUSTERD_ERR_MANAGER_CHANGED.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Deposition, rivalClaimNews } from '../../../manager/deposition.js'
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

  it('a rival claim a node relayed deposes only when it passed the checks and names another manager of our epoch or above', () => {
    const bytes = new Uint8Array([1, 2, 3])
    const ok = (epoch: number, peerId: string): Parameters<typeof rivalClaimNews>[0] => ({ ok: true, claim: { epoch, peerId } })
    const news = rivalClaimNews(ok(4, 'peerW'), 4, 'peerSelf', 'web1', bytes)
    assert.deepEqual(news, { epoch: 4, source: 'node-lease', from: 'web1', manager: 'peerW', claim: bytes })
    const d = new Deposition(4, 'peerSelf')
    assert.equal(news !== null && d.learn(news), true, 'the same-epoch rule of Deposition takes it')
    assert.match(d.refusal()?.message ?? '', /lost epoch 4 to peerW/)
    assert.equal(rivalClaimNews(ok(6, 'peerW'), 4, 'peerSelf', 'web1', bytes)?.epoch, 6)
    assert.equal(rivalClaimNews({ ok: false, reason: 'manager claim not signed by its claimant' }, 4, 'peerSelf', 'web1', bytes), null, 'the node\'s word alone deposes nobody')
    assert.equal(rivalClaimNews(ok(4, 'peerSelf'), 4, 'peerSelf', 'web1', bytes), null, 'our own claim')
    assert.equal(rivalClaimNews(ok(3, 'peerW'), 4, 'peerSelf', 'web1', bytes), null, 'an older epoch')
  })
})
