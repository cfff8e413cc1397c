import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ElectionProbe } from '../../../sim/election-probe.js'
import { Metrics } from '../../../sim/metrics.js'
import { swimFactory } from '../../../sim/swim-factory.js'
import { World } from '../../../sim/world.js'

// The invariant checks must catch what they are for: two managers in one component, a
// component without one, and false deaths.
function cluster (n: number): { world: World<any, any>, metrics: Metrics<any, any>, probe: ElectionProbe<any, any> } {
  const factory = swimFactory({ seed: 3, capacity: n, booted: n, eligibleCount: n, endpoint: World.endpointOf })
  const world = new World({ seed: 3, capacity: n, loss: 0, delayMs: 1, jitterMs: 0 }, factory)
  const metrics = new Metrics(world, n)
  const probe = new ElectionProbe(world, metrics, n, { eligible: () => true, settleGraceMs: 1000 })
  const user = probe.bootClaim(n)
  world.bootConverged(n, user)
  metrics.booted(0, n)
  probe.booted(0, n, user)
  world.every(100, 100, 60_000, () => { probe.check(world.now) })
  return { world, metrics, probe }
}

describe('simulator invariant checks', () => {
  it('count two managers in one component once they outlast the settle grace', () => {
    const { world, probe } = cluster(10)
    world.runUntil(2000)
    assert.equal(probe.violations, 0)
    // Two nodes each adopt their own claim at an epoch nobody else hears of: two managers.
    const a = (probe.bootManager + 1) % 10
    const b = (probe.bootManager + 2) % 10
    probe.electionOf(a)!.claim({ epoch: 7, peerId: world.idOf(a), name: `n${a}`, revision: 0, at: 0 })
    probe.electionOf(b)!.claim({ epoch: 7, peerId: world.idOf(b), name: `n${b}`, revision: 0, at: 0 })
    world.runUntil(4000)
    assert.ok(probe.violations > 0, 'two managers went unnoticed')
    assert.ok(probe.maxDualMs >= 1000)
  })

  it('do not count managers in different partition groups', () => {
    const { world, probe } = cluster(10)
    world.runUntil(2000)
    const a = probe.bootManager
    const b = (a + 1) % 10
    for (let i = 0; i < 10; i++) world.net.setGroup(i, i === b ? 1 : 0)
    probe.electionOf(b)!.claim({ epoch: 7, peerId: world.idOf(b), name: `n${b}`, revision: 0, at: 0 })
    world.runUntil(4000)
    assert.equal(probe.violations, 0)
  })

  it('count a component with eligible nodes and no manager', () => {
    const { world, probe } = cluster(10)
    world.runUntil(1000)
    // Node b alone in its group holds the old manager: nobody there believes it is manager.
    const b = (probe.bootManager + 1) % 10
    for (let i = 0; i < 10; i++) world.net.setGroup(i, i === b ? 1 : 0)
    world.runUntil(2500)
    assert.ok(probe.managerless > 0)
  })

  it('count a death verdict against a live reachable node as false', () => {
    const { world, metrics } = cluster(10)
    world.runUntil(1000)
    // Tell node 0 that node 1 is dead, as a broken peer would, at node 1's own incarnation.
    const core = world.core(0) as unknown as { receive: (from: unknown, msg: unknown, now: number) => unknown }
    const out = core.receive(world.endpoint(2), {
      t: 'gossip', from: world.idOf(2), gossip: [{ t: 'dead', id: world.idOf(1), incarnation: 1, from: world.idOf(2) }]
    }, world.now)
    world.perform(0, out as never)
    assert.equal(metrics.verdicts.deaths + metrics.verdicts.deathsAfterDisruption, 1)
  })
})
