import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { Election } from '../../../../agent/election/election.js'
import type { Member } from '../../../../protocol/members.js'
import { MANAGER_KEY_PREFIX, claimSupersedes, decodeClaim, type ManagerClaim } from '../../../../protocol/manager-wire.js'
import { openEnvelope } from '../../../../agent/identity/signed-envelope.js'
import { waitFor } from '../../../harness/poll.js'
import { FakeBroadcasts, peers, signedJson, type TestPeer } from '../fake-broadcasts.js'

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
// A < B < C by peer id (peers() sorts them).
let A: TestPeer, B: TestPeer, C: TestPeer
const all = (): TestPeer[] => [A, B, C]
const name = (id: string): string => `n${all().findIndex(p => p.id === id)}`
const m = (p: TestPeer, status: Member['status'] = 'alive'): Member =>
  ({ name: name(p.id), peerId: p.id, addresses: [], status, incarnation: 1, labels: {}, facts: null, boot: null, managerEligible: true, lastSeen: '' })
const claim = (p: TestPeer, epoch: number, revision: number): ManagerClaim =>
  ({ t: 'claim', epoch, peerId: p.id, name: name(p.id), since: new Date(0).toISOString(), revision })

/** An election of `self` with a fake clock over fake broadcasts; only `poke()` and delivered claims drive it. */
async function election (self: TestPeer, members: () => Member[], revision = 0, overrides: { evaluateMs?: number } = {}): Promise<{ e: Election, clock: { t: number }, b: FakeBroadcasts, deliver: (c: ManagerClaim) => string | null, published: () => ManagerClaim[] }> {
  const b = new FakeBroadcasts()
  const clock = { t: 1_000_000 }
  let saved = 0
  const e = new Election({
    broadcasts: b,
    privateKey: self.key,
    logger: pino({ level: 'silent' }),
    members,
    epochs: { load: async () => saved, save: async (n) => { saved = n } },
    revisions: { revisionOf: id => id === self.id ? revision : undefined, isAwaiting: () => false },
    now: () => clock.t
  }, { peerId: self.id, name: name(self.id), eligible: true, evaluateMs: 1e9, settleMs: 0, ...overrides })
  await e.start()
  const byId = (id: string): TestPeer => all().find(p => p.id === id) as TestPeer
  return {
    e,
    clock,
    b,
    deliver: c => b.deliver(MANAGER_KEY_PREFIX + c.peerId, signedJson(byId(c.peerId), c), c.epoch),
    published: () => b.sent.map(s => {
      const env = openEnvelope(s.data)
      const d = env === null ? null : decodeClaim(env.payload)
      assert.ok(d?.ok === true)
      assert.equal(s.key, MANAGER_KEY_PREFIX + d.value.peerId)
      assert.equal(s.version, d.value.epoch)
      return d.value
    })
  }
}

const settle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 20)) }

/** Advance the fake clock by `ms` in 250 ms evaluation ticks, as the real timer would. */
async function advance (e: Election, clock: { t: number }, ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= 250) {
    clock.t += Math.min(250, left)
    e.poke()
    await new Promise(resolve => setImmediate(resolve))
  }
  await settle()
}

before(async () => { [A, B, C] = await peers(3) as [TestPeer, TestPeer, TestPeer] })

describe('claimSupersedes', () => {
  it('a higher epoch wins whatever the revision; at equal epochs the higher revision, then the lower peer id', () => {
    assert.equal(claimSupersedes(claim(C, 5, 0), claim(A, 4, 100)), true)
    assert.equal(claimSupersedes(claim(A, 4, 100), claim(C, 5, 0)), false)
    assert.equal(claimSupersedes(claim(C, 5, 11), claim(A, 5, 10)), true, 'fresher state beats a lower peer id')
    assert.equal(claimSupersedes(claim(A, 5, 10), claim(C, 5, 11)), false)
    assert.equal(claimSupersedes(claim(A, 5, 10), claim(B, 5, 10)), true)
    assert.equal(claimSupersedes(claim(B, 5, 10), claim(A, 5, 10)), false)
    assert.equal(claimSupersedes(claim(A, 5, 10), claim(A, 5, 10)), false, 'a claim does not supersede itself')
  })

  it('decodes the revision, defaulting to 0 for claims without one, and rejects a bad one or an epoch past 2^32', () => {
    const { revision: _r, ...old } = claim(A, 3, 0)
    const d = decodeClaim(enc(old))
    assert.ok(d.ok)
    assert.equal(d.value.revision, 0)
    const withRev = decodeClaim(enc(claim(A, 3, 42)))
    assert.ok(withRev.ok)
    assert.equal(withRev.value.revision, 42)
    assert.equal(decodeClaim(enc({ ...claim(A, 3, 0), revision: -1 })).ok, false)
    assert.equal(decodeClaim(enc({ ...claim(A, 3, 0), revision: 1.5 })).ok, false)
    assert.equal(decodeClaim(enc({ ...claim(A, 2 ** 32, 0) })).ok, false)
  })
})

describe('election', () => {
  it('at an equal epoch adopts the claim with the higher revision, then the lower peer id, and never goes back', async () => {
    const { e, deliver } = await election(C, () => [m(A), m(B), m(C)])
    deliver(claim(B, 3, 10))
    await waitFor(() => e.manager()?.peerId === B.id, { timeoutMs: 2000, message: 'B adopted' })
    deliver(claim(C, 3, 12))
    await waitFor(() => e.manager()?.peerId === C.id, { timeoutMs: 2000, message: 'C (higher revision) adopted' })
    deliver(claim(A, 3, 12))
    await waitFor(() => e.manager()?.peerId === A.id, { timeoutMs: 2000, message: 'A (same revision, lower peer id) adopted' })
    deliver(claim(B, 3, 11))
    deliver(claim(B, 2, 99))
    await settle()
    assert.equal(e.manager()?.peerId, A.id, 'a lower revision or a lower epoch does not win')
    assert.equal(e.epoch, 3)
    await e.stop()
  })

  it('claims with its own revision when it wins, signed, once per epoch', async () => {
    const { e, clock, published } = await election(A, () => [m(A), m(B)], 17)
    e.poke()
    await waitFor(() => e.isManager, { timeoutMs: 2000, message: 'A claims' })
    await advance(e, clock, 10_000)
    assert.equal(published().length, 1, 'no periodic re-announce')
    assert.equal(published()[0]?.epoch, 1)
    assert.equal(published()[0]?.revision, 17)
    await e.stop()
  })

  it('keeps a manager membership lists alive, however long it is silent', async () => {
    const { e, clock, deliver } = await election(B, () => [m(A), m(B)], 5)
    deliver(claim(A, 4, 9))
    await waitFor(() => e.manager()?.peerId === A.id, { timeoutMs: 2000, message: 'A adopted' })
    await advance(e, clock, 60_000)
    assert.equal(e.manager()?.peerId, A.id)
    assert.equal(e.isManager, false)
    await e.stop()
  })

  it('replaces a manager suspect for 2.5 s without refutation, and not one that refuted in time', async () => {
    const members = [m(A), m(B)]
    const { e, clock, deliver, published } = await election(B, () => members, 5)
    deliver(claim(A, 2, 0))
    await waitFor(() => e.manager()?.peerId === A.id, { timeoutMs: 2000, message: 'A adopted' })
    members[0] = m(A, 'suspect')
    await advance(e, clock, 2000)
    assert.equal(e.manager()?.peerId, A.id, 'suspect for 2 s: not yet')
    members[0] = m(A) // refuted
    await advance(e, clock, 500)
    members[0] = m(A, 'suspect')
    await advance(e, clock, 2250)
    assert.equal(e.manager()?.peerId, A.id, 'the suspicion clock restarted with the refutation')
    members[0] = m(A, 'suspect')
    await advance(e, clock, 500)
    // Suspect, so not a candidate: B wins the ranking and claims.
    await waitFor(() => e.isManager, { timeoutMs: 2000, message: 'B takes over from the unrefuted suspect' })
    assert.equal(e.epoch, 3)
    assert.equal(published().at(-1)?.revision, 5)
    await e.stop()
  })

  it('replaces a manager membership declares failed or left at once', async () => {
    for (const status of ['failed', 'left'] as const) {
      const members = [m(A), m(B)]
      const { e, deliver } = await election(B, () => members)
      deliver(claim(A, 5, 0))
      await waitFor(() => e.manager()?.peerId === A.id, { timeoutMs: 2000, message: 'A adopted' })
      members[0] = m(A, status)
      e.poke()
      await waitFor(() => e.isManager, { timeoutMs: 2000, message: `B takes over from a manager that is ${status}` })
      assert.equal(e.epoch, 6)
      await e.stop()
    }
  })

  it('does not judge a suspect manager right after its own event loop stalled', async () => {
    const members = [m(A), m(B)]
    const { e, clock, deliver } = await election(B, () => members, 0, { evaluateMs: 250 })
    deliver(claim(A, 4, 0))
    await waitFor(() => e.manager()?.peerId === A.id, { timeoutMs: 2000, message: 'A adopted' })
    await advance(e, clock, 1000)
    members[0] = m(A, 'suspect')
    e.poke()
    await settle()
    // A 7 s stall of this agent: the first evaluation after it sees a 7 s old suspicion.
    clock.t += 7000
    e.poke()
    await advance(e, clock, 750)
    assert.equal(e.manager()?.peerId, A.id, 'not deposed by our own stall')
    members[0] = m(A) // the refutation that was queued during the stall
    await advance(e, clock, 3000)
    assert.equal(e.manager()?.peerId, A.id)
    // A real, unrefuted suspicion evaluated on time still replaces it.
    members[0] = m(A, 'suspect')
    await advance(e, clock, 3000)
    await waitFor(() => e.isManager, { timeoutMs: 2000, message: 'B takes over after a real suspicion' })
    await e.stop()
  })

  it('ranks candidates by replica revision before peer id; a store awaiting a snapshot goes last', async () => {
    const b = new FakeBroadcasts()
    const clock = { t: 1_000_000 }
    const revisions = new Map<string, number>([[A.id, 5], [B.id, 9]])
    const awaiting = new Set<string>()
    const e = new Election({
      broadcasts: b,
      privateKey: A.key,
      logger: pino({ level: 'silent' }),
      members: () => [m(A), m(B)],
      epochs: { load: async () => 0, save: async () => {} },
      revisions: { revisionOf: id => revisions.get(id), isAwaiting: id => awaiting.has(id) },
      now: () => clock.t
    }, { peerId: A.id, name: name(A.id), eligible: true, evaluateMs: 1e9, settleMs: 0 })
    await e.start()
    e.poke()
    await settle()
    assert.equal(e.isManager, false, 'B has the fresher replica: A (lower peer id, older replica) does not claim')
    awaiting.add(B.id)
    e.poke()
    await waitFor(() => e.isManager, { timeoutMs: 2000, message: 'A claims once B awaits a snapshot' })
    await e.stop()
  })

  it('its periodic evaluations read only the members poked about: no walk of the view per tick, a poked failure and an announced revision reach it at once, an unannounced change by the 30 s backstop', async () => {
    /** C is manager, ticks run every 2 ms; then B's replica revision rises (announced or not) and C fails (poked or not). */
    const setup = async (): Promise<{ e: Election, view: Map<string, Member>, known: Map<string, number>, announce: (id: string) => void, clock: { t: number }, ticks: (n: number) => Promise<void>, membersCalls: () => number }> => {
      const b = new FakeBroadcasts()
      const clock = { t: 1_000_000 }
      const view = new Map([A, B, C].map(p => [p.id, m(p)]))
      let membersCalls = 0
      let clockReads = 0
      const known = new Map<string, number>([[B.id, 0], [C.id, 0]])
      const revListeners = new Set<(id: string) => void>()
      const e = new Election({
        broadcasts: b,
        privateKey: A.key,
        logger: pino({ level: 'silent' }),
        members: () => { membersCalls++; return [...view.values()] },
        member: id => view.get(id),
        epochs: { load: async () => 0, save: async () => {} },
        revisions: {
          revisionOf: id => id === A.id ? 0 : known.get(id),
          isAwaiting: () => false,
          onChange: l => { revListeners.add(l); return () => { revListeners.delete(l) } }
        },
        now: () => { clockReads++; return clock.t }
      }, { peerId: A.id, name: name(A.id), eligible: true, evaluateMs: 2, settleMs: 0 })
      await e.start()
      b.deliver(MANAGER_KEY_PREFIX + C.id, signedJson(C, claim(C, 1, 0)), 1)
      await waitFor(() => e.manager()?.peerId === C.id, { timeoutMs: 2000, message: 'C adopted' })
      // Every evaluation reads the clock: n more reads, n more evaluations at least.
      const ticks = async (n: number): Promise<void> => {
        const from = clockReads
        await waitFor(() => clockReads >= from + n ? true : undefined, { timeoutMs: 5000, message: `${n} evaluations` })
      }
      return { e, view, known, announce: id => { for (const l of revListeners) l(id) }, clock, ticks, membersCalls: () => membersCalls }
    }

    // Poked failure, unannounced revision: seen at once; B's revision is not read, so A (lower peer id) claims.
    const poked = await setup()
    const before = poked.membersCalls()
    await poked.ticks(20)
    assert.equal(poked.membersCalls(), before, 'a tick does not walk the view')
    poked.known.set(B.id, 50)
    poked.view.set(C.id, m(C, 'failed'))
    poked.e.poke(C.id)
    await waitFor(() => poked.e.isManager, { timeoutMs: 2000, message: 'A claims once the poked failure is read' })
    await poked.e.stop()

    // Poked failure, announced revision: B ranks first, so A waits for B's claim.
    const announced = await setup()
    announced.known.set(B.id, 50)
    announced.announce(B.id)
    announced.view.set(C.id, m(C, 'failed'))
    announced.e.poke(C.id)
    await waitFor(() => announced.e.manager() === null ? true : undefined, { timeoutMs: 2000, message: 'the failed manager is gone' })
    await announced.ticks(20)
    assert.equal(announced.e.isManager, false, 'B\'s announced revision ranks it first')
    await announced.e.stop()

    // Failure nobody poked about: the ticks do not read it; the 30 s full read does.
    const unpoked = await setup()
    unpoked.view.set(C.id, m(C, 'failed'))
    await unpoked.ticks(20)
    assert.equal(unpoked.e.manager()?.peerId, C.id, 'not read by the ticks')
    unpoked.clock.t += 30_000
    await waitFor(() => unpoked.e.isManager, { timeoutMs: 2000, message: 'the backstop full read finds the failure; A claims' })
    await unpoked.e.stop()
  })

  it('a replaced manager that comes back does not win back with its old epoch', async () => {
    const members = [m(A), m(B)]
    const { e, deliver } = await election(B, () => members)
    deliver(claim(A, 1, 0))
    await waitFor(() => e.manager()?.peerId === A.id, { timeoutMs: 2000, message: 'A adopted' })
    members[0] = m(A, 'failed')
    e.poke()
    await waitFor(() => e.isManager, { timeoutMs: 2000, message: 'B takes over' })
    members[0] = m(A)
    deliver(claim(A, 1, 0))
    e.poke()
    await settle()
    assert.equal(e.manager()?.peerId, B.id, 'the old epoch does not win back, and a manager stays while listed alive')
    assert.equal(e.epoch, 2)
    await e.stop()
  })

  it('a losing rival claim of its own epoch: it stays manager and publishes a signed claim one epoch higher; a rival replicating under its epoch later is held back', async () => {
    const { e, deliver, published } = await election(A, () => [m(A), m(B)])
    e.poke()
    await waitFor(() => e.isManager, { timeoutMs: 2000, message: 'A claims' })
    assert.equal(deliver(claim(B, 1, 0)), null, 'the rival claim is valid and relayed')
    await waitFor(() => published().length === 2 ? true : undefined, { timeoutMs: 2000, message: 'A re-claims' })
    assert.deepEqual(published().map(c => [c.peerId, c.epoch]), [[A.id, 1], [A.id, 2]])
    assert.equal(e.manager()?.epoch, 2)
    assert.equal(e.epoch, 2)
    e.rival(2, B.id)
    await settle()
    assert.equal(published().length, 2, 'within the hold no further re-claim')
    await e.stop()
  })

  it('re-claims above a rival a replica names for its own epoch, and names it no more once past that epoch', async () => {
    // B's store is ahead (revision 5; A's unannounced counts as 0): B claims epoch 1.
    const { e, deliver, published } = await election(B, () => [m(A), m(B)], 5)
    e.poke()
    await waitFor(() => e.isManager, { timeoutMs: 2000, message: 'B claims' })
    await e.stepDown(1, B.id)
    assert.equal(e.isManager, true, 'a replica naming B itself changes nothing')
    assert.equal(published().length, 1)
    await e.stepDown(1, A.id)
    assert.equal(e.isManager, true)
    assert.equal(e.manager()?.epoch, 2, 'B fenced what A did under epoch 1 by claiming epoch 2')
    assert.equal(published().length, 2)
    deliver(claim(A, 1, 0))
    await e.stepDown(1, A.id)
    assert.equal(e.manager()?.peerId, B.id)
    assert.equal(e.manager()?.epoch, 2)
    assert.equal(published().length, 2, 'B claimed nothing more')
    await e.stop()
  })

  it('answers a burst of pokes with one evaluation, and a poke during an evaluation with another', async () => {
    let calls = 0
    let view: Member[] = [m(A)]
    const { e } = await election(A, () => { calls++; return view })
    await settle()
    const before = calls
    // A join push-pull: one member change after another, in the same turn of the event loop.
    for (let i = 0; i < 100; i++) e.poke()
    await settle()
    assert.equal(calls - before, 1, 'one walk over the view for the whole burst')
    assert.equal(e.manager()?.peerId, A.id)
    // A poke after that evaluation started is answered by a new one: the change is not lost.
    view = [m(A, 'failed'), m(B)]
    e.poke()
    e.poke()
    await settle()
    assert.equal(calls - before, 2)
    await e.stop()
  })
})
