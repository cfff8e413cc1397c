import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { EventQueue } from '../../../sim/event-queue.js'
import { Prng } from '../../../sim/prng.js'
import { World } from '../../../sim/world.js'
import type { SimCore, SimEndpoint, SimNodeFactory, SimOutput } from '../../../sim/sim-types.js'

// A trivial stand-in node for the engine's own tests (not a membership protocol): every
// `period` ms it sends a numbered datagram to the next node; it logs what it receives, when.
interface Msg { n: number, from: number }
type Out = SimOutput<Msg, string>
const empty = (): Out => ({ send: [], syncs: [], events: [] })

class Echo implements SimCore<Msg, string> {
  readonly got: Array<{ at: number, n: number, from: number }> = []
  readonly ticks: number[] = []
  readonly syncReplies: string[] = []
  readonly syncFailures: number[] = []
  private due: number
  private n = 0
  constructor (readonly index: number, readonly count: number, readonly period: number, readonly ep: (i: number) => SimEndpoint) {
    this.due = period
  }

  start (now: number): Out { this.due = now + this.period; return empty() }
  receive (_from: SimEndpoint, msg: Msg, now: number): Out { this.got.push({ at: now, n: msg.n, from: msg.from }); return empty() }
  onSyncRequest (state: string, _now: number): { reply: string, out: Out } { return { reply: `re:${state}`, out: empty() } }
  onSyncReply (state: string, _now: number): Out { this.syncReplies.push(state); return empty() }
  onSyncFailed (_to: SimEndpoint, now: number): Out { this.syncFailures.push(now); return empty() }
  tick (now: number): Out {
    this.ticks.push(now)
    const out = empty()
    if (now >= this.due) {
      this.due = now + this.period
      out.send.push({ to: this.ep((this.index + 1) % this.count), msg: { n: this.n++, from: this.index } })
    }
    return out
  }

  nextDeadline (): number { return this.due }
  member (_id: string): { status: string } | undefined { return undefined }
  size (): number { return this.count }
}

function echoWorld (n: number, opts: { seed?: number, loss?: number, delayMs?: number, jitterMs?: number, period?: number } = {}): { world: World<Msg, string>, nodes: Echo[] } {
  const nodes: Echo[] = []
  let world: World<Msg, string> | undefined
  const factory: SimNodeFactory<Msg, string> = {
    create: (i) => { const e = new Echo(i, n, opts.period ?? 100, (j) => world!.endpoint(j)); nodes[i] = e; return e },
    datagramBytes: () => 10,
    syncBytes: (s) => s.length,
    idOf: (i) => `id${i}`
  }
  world = new World<Msg, string>({ seed: opts.seed ?? 1, capacity: n, loss: opts.loss ?? 0, delayMs: opts.delayMs ?? 5, jitterMs: opts.jitterMs ?? 0 }, factory)
  world.bootConverged(n)
  return { world, nodes }
}

describe('simulator engine', () => {
  it('event queue pops in time order, ties in insertion order', () => {
    const q = new EventQueue<number>()
    const rng = new Prng(3)
    const pushed: Array<{ t: number, id: number }> = []
    for (let id = 0; id < 5000; id++) {
      const t = rng.int(50)
      q.push(t, id)
      pushed.push({ t, id })
    }
    const want = [...pushed].sort((a, b) => a.t - b.t || a.id - b.id).map(x => x.id)
    const got: number[] = []
    for (let e = q.pop(); e !== undefined; e = q.pop()) got.push(e.item)
    assert.deepEqual(got, want)
  })

  it('the PRNG is a pure function of its seed and stream, uniform enough', () => {
    const a = new Prng(7, 1)
    const b = new Prng(7, 1)
    const c = new Prng(7, 2)
    const xs = Array.from({ length: 1000 }, () => a.next())
    assert.deepEqual(xs, Array.from({ length: 1000 }, () => b.next()))
    assert.notDeepEqual(xs, Array.from({ length: 1000 }, () => c.next()))
    assert.ok(xs.every(x => x >= 0 && x < 1))
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`)
    const buckets = new Array(10).fill(0)
    for (let i = 0; i < 10000; i++) buckets[a.int(10)]++
    assert.ok(buckets.every(x => x > 850 && x < 1150), `buckets ${buckets.join(',')}`)
  })

  it('delivers datagrams after the configured delay, in order, and calls timers at their deadline', () => {
    const { world, nodes } = echoWorld(3, { delayMs: 5 })
    world.runUntil(1000)
    // Each node sends at 100, 200, ... 1000 ms; the next node receives 5 ms later.
    assert.deepEqual(nodes[1]!.got.map(g => g.at), [105, 205, 305, 405, 505, 605, 705, 805, 905])
    assert.deepEqual(nodes[1]!.got.map(g => g.n), [0, 1, 2, 3, 4, 5, 6, 7, 8])
    assert.deepEqual(nodes[0]!.ticks, [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000])
    assert.equal(world.traffic.msgsOut[0], 10)
    assert.equal(world.traffic.msgsIn[1], 9)
    assert.equal(world.traffic.bytesOut[0], 100)
  })

  it('drops about the configured share of datagrams', () => {
    const { world, nodes } = echoWorld(10, { loss: 0.2, period: 10 })
    world.runUntil(10_000)
    const got = nodes.reduce((s, n) => s + n.got.length, 0)
    const sent = Array.from(world.traffic.msgsOut).reduce((s, x) => s + x, 0)
    const lost = 1 - got / sent
    assert.ok(lost > 0.17 && lost < 0.23, `lost ${lost}`)
  })

  it('a partition drops datagrams between groups until it heals', () => {
    const { world, nodes } = echoWorld(2, { period: 100 })
    world.at(250, () => world.net.setGroup(1, 1))
    world.at(650, () => world.net.heal())
    world.runUntil(1000)
    assert.deepEqual(nodes[1]!.got.map(g => g.at), [105, 205, 705, 805, 905])
  })

  it('a stalled node processes nothing, gets its input when it wakes and its timer fires late', () => {
    const { world, nodes } = echoWorld(2, { period: 100 })
    world.at(150, () => world.stall(1, 400))
    world.runUntil(1000)
    // Node 1 froze 150..550: datagrams sent at 200..500 arrive at 205..505 and are processed at 550.
    assert.deepEqual(nodes[1]!.got.map(g => g.at), [105, 550, 550, 550, 550, 605, 705, 805, 905])
    assert.deepEqual(nodes[1]!.got.map(g => g.n), [0, 1, 2, 3, 4, 5, 6, 7, 8])
    // Its own timer due at 200 fires at 550, then the period resumes from there.
    assert.deepEqual(nodes[1]!.ticks.filter(t => t > 100 && t <= 700), [550, 650])
  })

  it('a crashed node drops its input; a push-pull to it fails, one to a live node gets a reply', () => {
    const { world, nodes } = echoWorld(3, { period: 100, delayMs: 5 })
    world.at(150, () => world.crash(1))
    world.runUntil(300)
    assert.deepEqual(nodes[1]!.got.map(g => g.at), [105])
    assert.equal(world.core(1), null)
    const out = (to: number): Out => ({ send: [], syncs: [{ to: world.endpoint(to), id: null, state: 'hello' }], events: [] })
    // Drive push-pulls through the world's apply path by a tick-less core call.
    ;(world as unknown as { apply: (i: number, o: Out) => void }).apply(0, out(1))
    ;(world as unknown as { apply: (i: number, o: Out) => void }).apply(0, out(2))
    world.runUntil(1000)
    assert.deepEqual(nodes[0]!.syncReplies, ['re:hello'])
    assert.equal(nodes[0]!.syncFailures.length, 1)
    assert.ok(nodes[0]!.syncFailures[0]! < 320, `failed at ${nodes[0]!.syncFailures[0]}`)
  })

  it('the same seed gives the same run, another seed another one', () => {
    const trace = (seed: number): string => {
      const { world, nodes } = echoWorld(20, { seed, loss: 0.1, jitterMs: 3, period: 50 })
      world.runUntil(5000)
      return JSON.stringify(nodes.map(n => n.got))
    }
    assert.equal(trace(5), trace(5))
    assert.notEqual(trace(5), trace(6))
  })
})
