import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { StallWatch } from '../../../../protocol/stall-watch.js'
import { judgeHealth, judgeReadiness, type ReadinessInput } from '../../../../agent/metrics/probes.js'

const READY: ReadinessInput = { hasSeeds: true, otherAliveMembers: 2, manager: { name: 'n1', local: false }, managerServing: false, managerStartError: null }

describe('judgeReadiness', () => {
  it('is ready once joined, with a manager elected elsewhere', () => {
    assert.deepEqual(judgeReadiness(READY), { ok: true })
  })
  it('is not ready while an agent with seeds holds no other member alive', () => {
    const r = judgeReadiness({ ...READY, otherAliveMembers: 0 })
    assert.equal(r.ok, false)
    assert.match(r.reason ?? '', /not joined/)
  })
  it('counts a lone first node (no seeds) as joined', () => {
    assert.deepEqual(judgeReadiness({ ...READY, hasSeeds: false, otherAliveMembers: 0, manager: { name: 'me', local: true }, managerServing: true }), { ok: true })
  })
  it('is not ready without an elected manager', () => {
    assert.deepEqual(judgeReadiness({ ...READY, manager: null }), { ok: false, reason: 'no manager is elected yet' })
  })
  it('on the manager, waits for its role to serve and names a failed start', () => {
    const local = { ...READY, manager: { name: 'me', local: true } }
    assert.match(judgeReadiness(local).reason ?? '', /role is starting/)
    assert.match(judgeReadiness({ ...local, managerStartError: 'disk full' }).reason ?? '', /failed to start: disk full/)
    assert.deepEqual(judgeReadiness({ ...local, managerServing: true }), { ok: true })
  })
})

describe('judgeHealth and the stall watch\'s reading', () => {
  it('healthy when ticks come on time; unhealthy after a stall beyond the limit, until it leaves the window', () => {
    let now = 1_000
    const watch = new StallWatch({ periodMs: 250, windowMs: 30_000, now: () => now })
    watch.start()
    watch.stop() // ticks are driven by hand below
    for (let i = 0; i < 4; i++) { now += 250; watch.tick() }
    assert.deepEqual(judgeHealth(watch.reading(), 5000), { ok: true })
    assert.equal(watch.reading().worstLagMs, 0)
    now += 250 + 6000 // a 6 s stall
    watch.tick()
    assert.equal(watch.reading().worstLagMs, 6000)
    const sick = judgeHealth(watch.reading(), 5000)
    assert.equal(sick.ok, false)
    assert.match(sick.reason ?? '', /stalled for 6000 ms/)
    // A 2 s stall stays under the limit.
    for (let t = 0; t < 31_000; t += 250) { now += 250; watch.tick() }
    assert.deepEqual(judgeHealth(watch.reading(), 5000), { ok: true })
  })
  it('unhealthy while the loop has not turned for longer than the limit', () => {
    let now = 0
    const watch = new StallWatch({ periodMs: 250, now: () => now })
    watch.start()
    watch.stop()
    now += 7000
    const r = judgeHealth(watch.reading(), 5000)
    assert.equal(r.ok, false)
    assert.match(r.reason ?? '', /has not turned for 7000 ms/)
  })
  it('keeps bounded state when every tick is late', () => {
    let now = 0
    const watch = new StallWatch({ periodMs: 10, windowMs: 1e9, now: () => now })
    for (let i = 0; i < 5000; i++) { now += 100; watch.tick() }
    assert.equal(watch.reading().worstLagMs, 90)
    assert.ok((watch as unknown as { lags: unknown[] }).lags.length <= 512)
  })
})
