import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { StallWatch } from '../../../../manager/replication/stall-watch.js'

describe('StallWatch', () => {
  it('reports a gap in its own timer longer than the threshold, once it ended after the asked time', () => {
    let t = 1000
    const w = new StallWatch({ now: () => t, thresholdMs: 1000 })
    w.start()
    try {
      const since = w.now()
      t += 200; w.observe()
      t += 900; w.observe()
      assert.equal(w.stalledSince(since), 0, 'gaps under the threshold are no stall')
      t += 4000; w.observe()
      assert.equal(w.stalledSince(since), 4000)
      assert.equal(w.stalledSince(t), 0, 'a stall that ended by the asked time does not count')
    } finally { w.stop() }
  })

  it('counts a stall still under way: the timer has not run since', () => {
    let t = 0
    const w = new StallWatch({ now: () => t, thresholdMs: 1000 })
    w.start()
    try {
      t += 200; w.observe()
      const since = w.now()
      t += 2500 // frozen: the timer did not run yet
      assert.equal(w.stalledSince(since), 2500)
      t += 100; w.observe()
      assert.equal(w.stalledSince(since), 2600, 'recorded when the overdue run comes')
    } finally { w.stop() }
  })

  it('reports nothing while stopped (the manager is not running)', () => {
    let t = 0
    const w = new StallWatch({ now: () => t })
    t += 10_000
    assert.equal(w.stalledSince(0), 0)
  })
})
