import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { StallWatch } from '../../../protocol/stall-watch.js'

describe('StallWatch: stalls for the replicator', () => {
  it('reports a gap in its own timer longer than the threshold, once it ended after the asked time', () => {
    let t = 1000
    const w = new StallWatch({ now: () => t, thresholdMs: 1000 })
    w.start()
    try {
      const since = w.now()
      t += 200; w.tick()
      t += 900; w.tick()
      assert.equal(w.stalledSince(since), 0, 'gaps under the threshold are no stall')
      t += 4000; w.tick()
      assert.equal(w.stalledSince(since), 4000)
      assert.equal(w.stalledSince(t), 0, 'a stall that ended by the asked time does not count')
    } finally { w.stop() }
  })

  it('counts a stall still under way: the timer has not run since', () => {
    let t = 0
    const w = new StallWatch({ now: () => t, thresholdMs: 1000 })
    w.start()
    try {
      t += 200; w.tick()
      const since = w.now()
      t += 2500 // frozen: the timer did not run yet
      assert.equal(w.stalledSince(since), 2500)
      t += 100; w.tick()
      assert.equal(w.stalledSince(since), 2600, 'recorded when the overdue run comes')
    } finally { w.stop() }
  })

  it('reports nothing while stopped (the manager is not running)', () => {
    let t = 0
    const w = new StallWatch({ now: () => t })
    t += 10_000
    assert.equal(w.stalledSince(0), 0)
  })

  it('keeps a stall for the replicator after it left the health window: the last confirmed write may be older', () => {
    let t = 0
    const w = new StallWatch({ now: () => t, periodMs: 200, thresholdMs: 1000, windowMs: 30_000 })
    w.start()
    try {
      const since = w.now()
      t += 5000; w.tick()
      assert.equal(w.reading().worstLagMs, 4800, 'health reads the lateness past the period')
      for (let i = 0; i < 300; i++) { t += 200; w.tick() }
      assert.equal(w.reading().worstLagMs, 0, 'gone from the health window after 60 s')
      assert.equal(w.stalledSince(since), 5000, 'still a stall since the older confirmation')
    } finally { w.stop() }
  })
})
