import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ElectionCore, type ElectionClaim, type ElectionOutput } from '../../../../agent/election/election-core.js'
import type { MemberStatus } from '../../../../agent/membership/core/types.js'

/**
 * A few election cores sharing one membership view (set by the test) and an instant claim
 * broadcast, on a fake clock ticked every 250 ms.
 */
class Net {
  now = 1_000_000
  readonly cores = new Map<string, ElectionCore>()
  readonly revision = new Map<string, number>()
  readonly claimsSent: ElectionClaim[] = []
  readonly persisted = new Map<string, number>()
  readonly view = new Map<string, { status: MemberStatus, lastChange: number }>()

  add (id: string, opts: { hasSeeds?: boolean, eligible?: boolean, highestEpoch?: number } = {}): ElectionCore {
    const core = new ElectionCore({ selfId: id, name: id, eligible: opts.eligible ?? true, hasSeeds: opts.hasSeeds ?? true, highestEpoch: opts.highestEpoch ?? 0, selfRevision: () => ({ revision: this.revision.get(id) ?? 0, awaiting: false }) })
    this.cores.set(id, core)
    this.view.set(id, { status: 'alive', lastChange: this.now })
    core.start(this.now)
    // Everyone learns of the new member, and the newcomer of everyone (push-pull), claims included.
    for (const c of this.cores.values()) this.feedView(c)
    for (const [other, c] of this.cores) {
      if (other === id) continue
      const m = c.manager()
      if (m !== null) this.handle(id, core.claim(m))
      // Replica revisions are broadcasts: both sides know each other's by settle time.
      core.revision({ peerId: other, revision: this.revision.get(other) ?? 0, awaiting: false })
      c.revision({ peerId: id, revision: this.revision.get(id) ?? 0, awaiting: false })
    }
    return core
  }

  setStatus (id: string, status: MemberStatus): void {
    this.view.set(id, { status, lastChange: this.now })
    for (const c of this.cores.values()) this.feedView(c)
  }

  feedView (c: ElectionCore): void {
    for (const [id, v] of this.view) c.member({ id, status: v.status, eligible: true, lastChange: v.lastChange })
  }

  live (): number { return [...this.view.values()].filter(v => v.status === 'alive' || v.status === 'suspect').length }

  handle (id: string, out: ElectionOutput): void {
    if (out.persistEpoch !== null) this.persisted.set(id, out.persistEpoch)
    for (const claim of out.claims) {
      this.claimsSent.push(claim)
      for (const [other, c] of this.cores) {
        if (other !== id && this.view.get(other)?.status !== 'failed') this.handle(other, c.claim(claim))
      }
    }
  }

  run (ms: number, down: Set<string> = new Set()): void {
    const end = this.now + ms
    while (this.now < end) {
      this.now += 250
      for (const [id, c] of this.cores) if (!down.has(id)) this.handle(id, c.tick(this.now, this.live()))
    }
  }

  managers (): Array<string | undefined> { return [...this.cores.values()].map(c => c.manager()?.peerId) }
}

describe('ElectionCore', () => {
  it('a joiner that knows members only by gossip (its join push-pull not done) does not claim until one completes', () => {
    const net = new Net()
    const b = net.add('b')
    net.add('c')
    let synced = false
    const tick = (ms: number): void => {
      for (const end = net.now + ms; net.now < end;) { net.now += 250; net.handle('b', b.tick(net.now, net.live(), synced)) }
    }
    tick(60_000)
    assert.equal(b.manager(), null, 'no claim while not synced, past settle and isolated settle')
    synced = true
    tick(500)
    assert.equal(b.manager()?.peerId, 'b', 'b is the winner (lowest id) once synced')
  })

  it('a lone first node claims epoch 1 after the settle time, not before, once', () => {
    const net = new Net()
    const a = net.add('a', { hasSeeds: false })
    net.run(2_750)
    assert.equal(a.manager(), null)
    net.run(500)
    assert.equal(a.manager()?.peerId, 'a')
    assert.equal(a.epoch, 1)
    assert.equal(net.persisted.get('a'), 1)
    net.run(60_000)
    assert.equal(net.claimsSent.length, 1, 'no periodic re-announcement')
  })

  it('the lowest peer id wins among equals; a higher replica revision beats a lower id', () => {
    const net = new Net()
    for (const id of ['c', 'b', 'a']) net.add(id)
    net.run(3_500)
    assert.deepEqual(net.managers(), ['a', 'a', 'a'])
    const net2 = new Net()
    net2.revision.set('c', 9)
    for (const id of ['c', 'b', 'a']) net2.add(id)
    net2.run(3_500)
    assert.deepEqual(net2.managers(), ['c', 'c', 'c'])
    assert.equal(net2.claimsSent.length, 1)
  })

  it('keeps a sitting manager when a better-ranked node joins', () => {
    const net = new Net()
    net.add('m')
    net.add('z')
    net.run(3_500)
    assert.deepEqual(net.managers(), ['m', 'm'])
    net.add('a')
    net.run(10_000)
    assert.deepEqual(net.managers(), ['m', 'm', 'm'])
    assert.equal(net.claimsSent.length, 1)
  })

  it('replaces a failed manager at once with epoch + 1, and a left one too', () => {
    const net = new Net()
    for (const id of ['a', 'b', 'c', 'd']) net.add(id)
    net.run(3_500)
    net.setStatus('a', 'failed')
    net.run(250, new Set(['a']))
    assert.equal(net.cores.get('b')?.manager()?.peerId, 'b')
    assert.equal(net.cores.get('c')?.manager()?.epoch, 2)
    net.setStatus('b', 'left')
    net.run(250, new Set(['a', 'b']))
    assert.equal(net.cores.get('d')?.manager()?.peerId, 'c')
    assert.equal(net.cores.get('c')?.manager()?.peerId, 'c')
    assert.equal(net.cores.get('c')?.epoch, 3)
  })

  it('replaces a suspect manager only after it stayed suspect for suspectSilenceMs without refutation', () => {
    const net = new Net()
    for (const id of ['a', 'b', 'c']) net.add(id)
    net.run(3_500)
    net.setStatus('a', 'suspect')
    net.run(2_000)
    assert.deepEqual(net.managers(), ['a', 'a', 'a'])
    net.setStatus('a', 'alive') // refuted
    net.run(5_000)
    assert.deepEqual(net.managers(), ['a', 'a', 'a'])
    net.setStatus('a', 'suspect')
    net.run(2_750, new Set(['a']))
    assert.equal(net.cores.get('b')?.manager()?.peerId, 'b')
    assert.equal(net.cores.get('c')?.manager()?.peerId, 'b')
  })

  it('after its own stall, does not judge a suspect manager for stallGraceMs', () => {
    const net = new Net()
    for (const id of ['a', 'b']) net.add(id)
    net.run(3_500)
    const b = net.cores.get('b')
    assert.ok(b !== undefined)
    net.setStatus('a', 'suspect')
    // b's ticks stop for 5 s (its own stall); at wake-up a has been suspect long enough.
    net.now += 5_000
    const out = b.tick(net.now, 2)
    assert.equal(out.changes.length, 0)
    assert.equal(b.manager()?.peerId, 'a')
    net.now += 500
    assert.equal(b.tick(net.now, 2).changes.length, 0, 'still inside the grace')
    net.now += 600
    assert.equal(b.tick(net.now, 2).changes[0]?.previous?.peerId, 'a', 'judged after the grace')
  })

  it('a node with seeds that knows nobody waits isolatedSettleMs before claiming', () => {
    const net = new Net()
    const a = net.add('a', { hasSeeds: true })
    net.run(29_000)
    assert.equal(a.manager(), null)
    net.run(1_250)
    assert.equal(a.manager()?.peerId, 'a')
  })

  it('refuses claims and epochs above 2^32 or more than 1,024 above the highest known, and persists accepted ones', () => {
    const core = new ElectionCore({ selfId: 'x', name: 'x', eligible: false, hasSeeds: true, highestEpoch: 10, selfRevision: () => ({ revision: 0, awaiting: false }) })
    core.start(0)
    core.member({ id: 'm', status: 'alive', eligible: true, lastChange: 0 })
    const claim = (epoch: number): ElectionClaim => ({ epoch, peerId: 'm', name: 'm', revision: 0, at: 0 })
    assert.equal(core.claim(claim(10 + 1025)).changes.length, 0)
    assert.equal(core.claim(claim(2 ** 32)).changes.length, 0)
    assert.equal(core.observeEpoch(2 ** 40).persistEpoch, null)
    assert.equal(core.refused, 3)
    assert.equal(core.epoch, 10)
    const out = core.claim(claim(10 + 1024))
    assert.equal(out.persistEpoch, 1034)
    assert.equal(core.manager()?.epoch, 1034)
    assert.equal(core.claim(claim(9)).changes.length, 0, 'a stale claim does not win')
    assert.equal(core.observeEpoch(1040).persistEpoch, 1040)
  })

  it('settles competing claims of the same epoch by revision, then lower peer id', () => {
    const core = new ElectionCore({ selfId: 'x', name: 'x', eligible: false, hasSeeds: true, highestEpoch: 4, selfRevision: () => ({ revision: 0, awaiting: false }) })
    core.start(0)
    for (const id of ['a', 'b', 'c']) core.member({ id, status: 'alive', eligible: true, lastChange: 0 })
    core.claim({ epoch: 5, peerId: 'b', name: 'b', revision: 3, at: 0 })
    core.claim({ epoch: 5, peerId: 'a', name: 'a', revision: 3, at: 0 })
    assert.equal(core.manager()?.peerId, 'a')
    core.claim({ epoch: 5, peerId: 'c', name: 'c', revision: 4, at: 0 })
    assert.equal(core.manager()?.peerId, 'c')
    core.claim({ epoch: 5, peerId: 'a', name: 'a', revision: 3, at: 0 })
    assert.equal(core.manager()?.peerId, 'c')
  })

  it('names the same manager whatever order the claims arrive in, and never one whose claimant is gone', () => {
    const claims: ElectionClaim[] = [
      { epoch: 2, peerId: 'd', name: 'd', revision: 1, at: 0 },
      { epoch: 2, peerId: 'b', name: 'b', revision: 4, at: 0 },
      { epoch: 2, peerId: 'c', name: 'c', revision: 4, at: 0 },
      { epoch: 1, peerId: 'a', name: 'a', revision: 9, at: 0 }
    ]
    const orders = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]]
    for (const order of orders) {
      const core = new ElectionCore({ selfId: 'x', name: 'x', eligible: false, hasSeeds: true, highestEpoch: 0, selfRevision: () => ({ revision: 0, awaiting: false }) })
      core.start(0)
      for (const id of ['a', 'b', 'c', 'd']) core.member({ id, status: 'alive', eligible: true, lastChange: 0 })
      for (const i of order) core.claim(claims[i] as ElectionClaim, 10)
      assert.equal(core.manager()?.peerId, 'b', `order ${order.join(',')}`)
    }
    // The best claimant fails: its epoch goes with it (no loser of epoch 2 is named), and nobody
    // is named until a claim above it.
    const core = new ElectionCore({ selfId: 'x', name: 'x', eligible: false, hasSeeds: true, highestEpoch: 0, selfRevision: () => ({ revision: 0, awaiting: false }) })
    core.start(0)
    for (const id of ['a', 'b', 'c', 'd']) core.member({ id, status: 'alive', eligible: true, lastChange: 0 })
    for (const c of claims) core.claim(c, 10)
    core.member({ id: 'b', status: 'failed', eligible: true, lastChange: 20 })
    core.tick(250, 3)
    assert.equal(core.manager(), null, 'c and d lost epoch 2 to b: neither may act under it')
    core.claim({ epoch: 3, peerId: 'c', name: 'c', revision: 4, at: 0 }, 300)
    assert.equal(core.manager()?.peerId, 'c')
  })

  it('an ineligible node never claims', () => {
    const net = new Net()
    const a = net.add('a', { eligible: false, hasSeeds: false })
    net.view.set('a', { status: 'alive', lastChange: net.now })
    a.member({ id: 'a', status: 'alive', eligible: false, lastChange: net.now })
    net.run(60_000)
    assert.equal(a.manager(), null)
    assert.equal(net.claimsSent.length, 0)
  })

  it('never deposes itself, whatever its own view says of it', () => {
    const net = new Net()
    const a = net.add('a', { hasSeeds: false })
    net.run(3_500)
    assert.equal(a.manager()?.peerId, 'a')
    a.member({ id: 'a', status: 'suspect', eligible: true, lastChange: net.now - 10_000 })
    net.run(5_000)
    assert.equal(a.manager()?.peerId, 'a')
    assert.equal(a.epoch, 1)
  })

  it('a frozen manager that learns of a higher epoch steps down at once, holds its claims, and accepts the newer claim', () => {
    const net = new Net()
    for (const id of ['a', 'b', 'c']) net.add(id)
    net.run(3_500)
    const a = net.cores.get('a') as ElectionCore
    assert.equal(a.manager()?.peerId, 'a')
    // a freezes; the others depose it and elect b (epoch 2); a hears nothing meanwhile.
    net.setStatus('a', 'failed')
    net.run(500, new Set(['a']))
    assert.equal(net.cores.get('c')?.manager()?.peerId, 'b')
    const claimB = net.cores.get('b')?.manager() as ElectionClaim
    // a wakes: lower epochs and its own epoch change nothing...
    assert.deepEqual(a.stepDown(1, net.now).changes, [])
    assert.equal(a.isManager, true)
    // ...a replica refusing it as stale (epoch 2) makes it step down now.
    const out = a.stepDown(2, net.now)
    assert.equal(out.changes.length, 1)
    assert.equal(out.changes[0]?.manager, null)
    assert.equal(out.changes[0]?.previous?.peerId, 'a')
    assert.equal(out.persistEpoch, 2, 'the newer epoch is persisted')
    assert.equal(a.manager(), null)
    assert.equal(a.isManager, false)
    // It does not claim again while it waits for the newer claim, although it ranks first.
    net.view.set('a', { status: 'alive', lastChange: net.now })
    net.feedView(a)
    for (let i = 0; i < 20; i++) { net.now += 250; assert.deepEqual(a.tick(net.now, 3).claims, []) }
    // The newer manager's claim arrives: accepted.
    a.claim(claimB)
    assert.equal(a.manager()?.peerId, 'b')
    assert.equal(a.manager()?.epoch, 2)
    // A second stale answer after that changes nothing.
    assert.deepEqual(a.stepDown(2, net.now).changes, [])
  })

  it('a manager whose own node sees a newer epoch (a lease request) steps down; a non-manager only raises its epoch', () => {
    const net = new Net()
    for (const id of ['a', 'b']) net.add(id)
    net.run(3_500)
    const a = net.cores.get('a') as ElectionCore
    const b = net.cores.get('b') as ElectionCore
    assert.deepEqual(b.observeEpoch(5, net.now).changes.map(c => [c.manager, c.previous?.peerId]), [[null, 'a']], 'b names nobody until the claim of epoch 5 arrives')
    assert.equal(b.epoch, 5)
    for (let i = 0; i < 20; i++) { net.now += 250; assert.deepEqual(b.tick(net.now, 2).claims, [], 'b does not claim over the unheard manager of epoch 5') }
    b.claim({ epoch: 5, peerId: 'a', name: 'a', revision: 0, at: net.now }, net.now)
    assert.equal(b.manager()?.epoch, 5)
    const out = a.observeEpoch(6, net.now)
    assert.equal(out.changes.length, 1)
    assert.equal(a.manager(), null)
    // Still bounded: an absurd epoch is refused and changes nothing.
    const c = net.add('c')
    net.run(3_500)
    assert.deepEqual(c.stepDown(2 ** 40, net.now), { claims: [], changes: [], persistEpoch: null })
  })
})

describe('ElectionCore: same-epoch claims', () => {
  const T0 = 5_000_000
  /** A core that claimed epoch 1 alone (it knows only itself), as a joiner whose push-pull was lost does. */
  function soloClaimant (id: string, revision = 0): { core: ElectionCore, claim: ElectionClaim } {
    const core = new ElectionCore({ selfId: id, name: id, eligible: true, hasSeeds: false, highestEpoch: 0, selfRevision: () => ({ revision, awaiting: false }) })
    core.start(T0)
    core.member({ id, status: 'alive', eligible: true, lastChange: T0 })
    const out = core.tick(T0 + 3000, 1)
    // Membership brings the rivals (the wrapper accepts claims of known eligible members only).
    for (const other of ['A', 'B', 'C']) if (other !== id) core.member({ id: other, status: 'alive', eligible: true, lastChange: T0 + 3500 })
    assert.equal(out.claims.length, 1)
    const claim = out.claims[0]
    assert.ok(claim !== undefined)
    assert.equal(claim.epoch, 1)
    return { core, claim }
  }

  for (const order of ['winner first', 'loser first'] as const) {
    it(`two claimants of one epoch (${order}): the loser adopts the winner, the winner re-claims epoch 2, and both end on it`, () => {
      const a = soloClaimant('A') // lower id: wins the tie at equal revisions
      const b = soloClaimant('B')
      const now = T0 + 4000
      const deliver = (to: ElectionCore, c: ElectionClaim): ElectionOutput => to.claim(c, now)
      // Each learns the other's epoch-1 claim; the order of the two deliveries varies.
      const outs = order === 'winner first'
        ? { b: deliver(b.core, a.claim), a: deliver(a.core, b.claim) }
        : { a: deliver(a.core, b.claim), b: deliver(b.core, a.claim) }
      assert.equal(b.core.isManager, false, 'the losing claimant stops at once')
      assert.deepEqual(outs.b.changes.map(ch => [ch.manager?.peerId, ch.previous?.peerId]), [['A', 'B']])
      assert.deepEqual(outs.b.claims, [], 'the loser claims nothing')
      assert.equal(a.core.isManager, true)
      assert.equal(outs.a.claims.length, 1, 'the winner claims again')
      const re = outs.a.claims[0]
      assert.ok(re !== undefined)
      assert.deepEqual([re.peerId, re.epoch], ['A', 2])
      assert.equal(outs.a.persistEpoch, 2, 'the new epoch is persisted before it is acted on')
      assert.equal(a.core.reclaims, 1)
      const bOut = deliver(b.core, re)
      assert.equal(b.core.manager()?.epoch, 2)
      assert.equal(b.core.epoch, 2)
      assert.deepEqual(bOut.claims, [])
      // Late duplicates change nothing and claim nothing.
      assert.deepEqual(deliver(a.core, b.claim).claims, [])
      assert.deepEqual(deliver(b.core, a.claim).changes, [])
      assert.equal(a.core.manager()?.epoch, 2)
    })
  }

  it('a higher revision wins the tie whatever the ids; the winner re-claims', () => {
    const a = soloClaimant('A', 0)
    const b = soloClaimant('B', 7)
    const aOut = a.core.claim(b.claim, T0 + 4000)
    assert.equal(a.core.isManager, false)
    assert.deepEqual(aOut.claims, [])
    const bOut = b.core.claim(a.claim, T0 + 4000)
    assert.deepEqual(bOut.claims.map(c => [c.peerId, c.epoch]), [['B', 2]])
  })

  it('a node that is not a claimant never claims on seeing two claims of one epoch', () => {
    const a = soloClaimant('A')
    const b = soloClaimant('B')
    const c = new ElectionCore({ selfId: 'C', name: 'C', eligible: true, hasSeeds: true, highestEpoch: 0, selfRevision: () => ({ revision: 0, awaiting: false }) })
    c.start(T0)
    for (const id of ['A', 'B']) c.member({ id, status: 'alive', eligible: true, lastChange: T0 })
    const o1 = c.claim(b.claim, T0 + 100)
    const o2 = c.claim(a.claim, T0 + 100)
    assert.deepEqual([...o1.claims, ...o2.claims], [])
    assert.equal(c.manager()?.peerId, 'A')
    assert.deepEqual(c.claim(b.claim, T0 + 200).changes, [], 'the loser arriving again changes nothing')
  })

  it('a member that never announced its revision ranks like a fresh store (0), so a fresh joiner does not elect itself over a lower id', () => {
    // Ranking alone: no claim settle (its own tests below).
    const core = new ElectionCore({ selfId: 'B', name: 'B', eligible: true, hasSeeds: true, highestEpoch: 0, selfRevision: () => ({ revision: 0, awaiting: false }), claimSettleMs: 0 })
    core.start(T0)
    core.member({ id: 'B', status: 'alive', eligible: true, lastChange: T0 })
    core.member({ id: 'A', status: 'alive', eligible: true, lastChange: T0 })
    assert.deepEqual(core.tick(T0 + 3000, 2).claims, [], 'A (lower id, revision unknown) is the winner, not us')
    core.revision({ peerId: 'A', revision: 0, awaiting: true })
    assert.deepEqual(core.tick(T0 + 3250, 2).claims.map(c => c.peerId), ['B'], 'a store awaiting a snapshot still ranks last')
  })
})

describe('ElectionCore: re-claims are held back', () => {
  it('a second tie within reclaimHoldMs is won by claimSupersedes alone (a rival that holds us failed would otherwise make both climb epochs)', () => {
    const T0 = 7_000_000
    const a = new ElectionCore({ selfId: 'A', name: 'A', eligible: true, hasSeeds: false, highestEpoch: 0, selfRevision: () => ({ revision: 0, awaiting: false }) })
    a.start(T0)
    a.member({ id: 'A', status: 'alive', eligible: true, lastChange: T0 })
    assert.equal(a.tick(T0 + 3000, 1).claims[0]?.epoch, 1)
    a.member({ id: 'B', status: 'alive', eligible: true, lastChange: T0 + 3500 })
    const rival = (epoch: number): ElectionClaim => ({ epoch, peerId: 'B', name: 'B', revision: 0, at: T0 })
    assert.deepEqual(a.claim(rival(1), T0 + 4000).claims.map(c => c.epoch), [2])
    // B, holding A failed, claims the next epoch by its own tick: a tie at 2.
    const second = a.claim(rival(2), T0 + 5000)
    assert.deepEqual(second.claims, [], 'no second re-claim within the hold')
    assert.equal(a.manager()?.peerId, 'A', 'A still wins the tie (lower id)')
    assert.equal(a.manager()?.epoch, 2)
    // B's next claim is higher: A yields, as for any higher epoch.
    a.claim(rival(3), T0 + 5500)
    assert.equal(a.manager()?.peerId, 'B')
    assert.equal(a.reclaims, 1)
  })

  it('a rival of our epoch heard within the hold is fenced when the hold ends: the tick re-claims above it', () => {
    const T0 = 8_000_000
    const a = new ElectionCore({ selfId: 'A', name: 'A', eligible: true, hasSeeds: false, highestEpoch: 0, selfRevision: () => ({ revision: 0, awaiting: false }) })
    a.start(T0)
    a.member({ id: 'A', status: 'alive', eligible: true, lastChange: T0 })
    assert.equal(a.tick(T0 + 3000, 1).claims[0]?.epoch, 1)
    for (const id of ['B', 'C']) a.member({ id, status: 'alive', eligible: true, lastChange: T0 + 3500 })
    const rival = (id: string, epoch: number): ElectionClaim => ({ epoch, peerId: id, name: id, revision: 0, at: T0 })
    assert.deepEqual(a.claim(rival('B', 1), T0 + 4000).claims.map(c => c.epoch), [2])
    // C also re-claimed epoch 2 (it had heard B's epoch-1 claim before A's): a rival at 2, within the hold.
    assert.deepEqual(a.claim(rival('C', 2), T0 + 4500).claims, [])
    let t = T0 + 4500
    let reclaimed: ElectionClaim | undefined
    while (reclaimed === undefined && t < T0 + 20_000) {
      t += 250
      reclaimed = a.tick(t, 3).claims[0]
    }
    assert.ok(reclaimed !== undefined, 'A re-claimed above C')
    assert.equal(reclaimed.epoch, 3)
    assert.ok(t >= T0 + 4000 + 10_000, `not before the hold ended (${t - T0 - 4000} ms after the first re-claim)`)
    assert.equal(a.manager()?.epoch, 3)
    for (let i = 0; i < 80; i++) { t += 250; assert.deepEqual(a.tick(t, 3).claims, [], 'once, not again') }
  })
})

describe('ElectionCore: a replica naming a same-epoch rival', () => {
  it('a replica naming another manager for our epoch makes us re-claim above it (the rival acted under our epoch); lower epochs or ourselves change nothing', () => {
    const T0 = 9_000_000
    const l = new ElectionCore({ selfId: 'L', name: 'L', eligible: true, hasSeeds: false, highestEpoch: 0, selfRevision: () => ({ revision: 0, awaiting: false }) })
    l.start(T0)
    l.member({ id: 'L', status: 'alive', eligible: true, lastChange: T0 })
    l.member({ id: 'W', status: 'alive', eligible: true, lastChange: T0 })
    l.revision({ peerId: 'W', revision: 0, awaiting: true }) // so L ranks first and claims
    assert.equal(l.tick(T0 + 3000, 2).claims[0]?.epoch, 1)
    assert.deepEqual(l.stepDown(1, T0 + 3100, 'L').claims, [], 'news naming ourselves changes nothing')
    assert.deepEqual(l.stepDown(0, T0 + 3100, 'W').changes, [], 'a lower epoch changes nothing')
    const out = l.stepDown(1, T0 + 3200, 'W')
    assert.deepEqual(out.claims.map(c => [c.peerId, c.epoch]), [['L', 2]])
    assert.equal(out.persistEpoch, 2)
    assert.equal(l.isManager, true)
    // W's epoch-1 claim arriving late changes nothing: epoch 1 is history.
    assert.deepEqual(l.claim({ epoch: 1, peerId: 'W', name: 'W', revision: 0, at: T0 }, T0 + 4000).changes, [])
    assert.equal(l.manager()?.peerId, 'L')
    assert.deepEqual(l.stepDown(1, T0 + 4100, 'W').claims, [], 'the same news again: we are past that epoch')
  })

  it('a manager that lost its epoch to a claim it heard names the winner; a stale replica answer then changes nothing', () => {
    const T0 = 10_000_000
    const l = new ElectionCore({ selfId: 'L', name: 'L', eligible: true, hasSeeds: false, highestEpoch: 0, selfRevision: () => ({ revision: 0, awaiting: false }) })
    l.start(T0)
    l.member({ id: 'L', status: 'alive', eligible: true, lastChange: T0 })
    assert.equal(l.tick(T0 + 3000, 1).claims[0]?.epoch, 1)
    l.member({ id: 'W', status: 'alive', eligible: true, lastChange: T0 + 3100 })
    const out = l.claim({ epoch: 1, peerId: 'W', name: 'W', revision: 3, at: T0 }, T0 + 3200)
    assert.deepEqual(out.changes.map(c => [c.manager?.peerId, c.previous?.peerId]), [['W', 'L']])
    assert.deepEqual(out.claims, [])
    assert.deepEqual(l.stepDown(1, T0 + 3300, 'W'), { claims: [], changes: [], persistEpoch: null })
    for (let t = T0 + 3500; t < T0 + 30_000; t += 250) assert.deepEqual(l.tick(t, 2).claims, [], 'the loser never claims while W lives')
    assert.equal(l.manager()?.peerId, 'W')
  })
})

describe('ElectionCore: a rival acting under our epoch', () => {
  it('a peer replicating as manager of our own epoch makes us re-claim above it (once per hold); other epochs or peers do nothing', () => {
    const T0 = 11_000_000
    const w = new ElectionCore({ selfId: 'W', name: 'W', eligible: true, hasSeeds: false, highestEpoch: 0, selfRevision: () => ({ revision: 0, awaiting: false }) })
    w.start(T0)
    w.member({ id: 'W', status: 'alive', eligible: true, lastChange: T0 })
    assert.equal(w.tick(T0 + 3000, 1).claims[0]?.epoch, 1)
    assert.deepEqual(w.rival(1, 'W', T0 + 3100).claims, [], 'ourselves')
    assert.deepEqual(w.rival(0, 'L', T0 + 3100).claims, [], 'an older epoch: the stale rules handle it')
    const out = w.rival(1, 'L', T0 + 3200)
    assert.deepEqual(out.claims.map(c => [c.peerId, c.epoch]), [['W', 2]])
    assert.equal(out.persistEpoch, 2)
    assert.deepEqual(w.rival(2, 'L', T0 + 4000).claims, [], 'held back')
    assert.equal(w.manager()?.epoch, 2)
  })
})

describe('ElectionCore: we rank ourselves as the others rank us', () => {
  const T = 7_000_000
  // Two acknowledging replicas of a busy manager M: each is ahead of its last announcement (at
  // most one per 2 s), and each knows the other's announcement only.
  const live: Record<string, number> = { A: 160, B: 160 }
  const announced: Record<string, number> = { A: 150, B: 158 }
  function replica (id: 'A' | 'B', withSelfRank: boolean): ElectionCore {
    const other = id === 'A' ? 'B' : 'A'
    const core = new ElectionCore({
      selfId: id,
      name: id,
      eligible: true,
      hasSeeds: true,
      highestEpoch: 1,
      selfRevision: () => ({ revision: live[id] as number, awaiting: false }),
      ...(withSelfRank ? { selfRank: () => ({ revision: announced[id] as number, awaiting: false }) } : {})
    })
    core.start(T)
    for (const m of ['A', 'B', 'M']) core.member({ id: m, status: 'alive', eligible: true, lastChange: T })
    core.revision({ peerId: other, revision: announced[other] as number, awaiting: false })
    core.claim({ epoch: 1, peerId: 'M', name: 'M', revision: 100, at: T }, T)
    assert.deepEqual(core.tick(T + 5000, 3).claims, [])
    assert.equal(core.manager()?.peerId, 'M')
    return core
  }
  /** M leaves; what each replica claims at its next evaluation. */
  function failover (withSelfRank: boolean): Array<[string, number, number]> {
    const cores = [replica('A', withSelfRank), replica('B', withSelfRank)]
    for (const c of cores) c.member({ id: 'M', status: 'left', eligible: true, lastChange: T + 6000 })
    return cores.flatMap(c => c.tick(T + 6250, 2).claims.map(x => [x.peerId, x.epoch, x.revision] as [string, number, number]))
  }

  it('two replicas ahead of their announcements agree on one successor; its claim carries its live revision', () => {
    assert.deepEqual(failover(true), [['B', 2, 160]])
  })

  it('ranked by its live revision, each replica ranked itself first and both claimed (what this rule fixes)', () => {
    assert.deepEqual(failover(false), [['A', 2, 160], ['B', 2, 160]])
  })
})
