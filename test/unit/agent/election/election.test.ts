import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import type { GossipSub } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { Election } from '../../../../agent/election/election.js'
import type { Member } from '../../../../protocol/members.js'
import { MANAGER_TOPIC, claimSupersedes, decodeClaim, type ManagerClaim } from '../../../../protocol/manager-wire.js'
import { waitFor } from '../../../harness/poll.js'

const A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const B = '12D3KooWBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
const C = '12D3KooWCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC'

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const m = (peerId: string, status: Member['status'] = 'alive'): Member =>
  ({ name: peerId.slice(-4), peerId, addresses: [], status, incarnation: 1, labels: {}, facts: null, managerEligible: true, lastSeen: '' })
const claim = (peerId: string, epoch: number, revision: number): ManagerClaim =>
  ({ t: 'claim', epoch, peerId, name: peerId.slice(-4), since: new Date(0).toISOString(), revision })

/** Just enough of gossipsub: claims delivered through the validator, publishes recorded. */
function fakePubsub (): { pubsub: GossipSub, published: ManagerClaim[], deliver: (c: ManagerClaim) => TopicValidatorResult } {
  const target = new EventTarget()
  const topicValidators = new Map<string, (peer: unknown, msg: unknown) => TopicValidatorResult>()
  const published: ManagerClaim[] = []
  const pubsub = Object.assign(target, {
    topicValidators,
    subscribe: () => {},
    publish: async (_topic: string, data: Uint8Array) => { published.push(JSON.parse(new TextDecoder().decode(data)) as ManagerClaim); return { recipients: [] } }
  }) as unknown as GossipSub
  return {
    pubsub,
    published,
    deliver: c => {
      const msg = { type: 'signed', topic: MANAGER_TOPIC, from: { toString: () => c.peerId }, data: enc(c) }
      const verdict = (topicValidators.get(MANAGER_TOPIC) as (p: unknown, msg: unknown) => TopicValidatorResult)({ toString: () => c.peerId }, msg)
      if (verdict === TopicValidatorResult.Accept) target.dispatchEvent(new CustomEvent('message', { detail: msg }))
      return verdict
    }
  }
}

/** An election of `self` with a fake clock; only `poke()` and delivered claims drive it. */
async function election (self: string, members: () => Member[], revision = 0, overrides: { evaluateMs?: number } = {}): Promise<{ e: Election, clock: { t: number }, ps: ReturnType<typeof fakePubsub> }> {
  const ps = fakePubsub()
  const clock = { t: 1_000_000 }
  let saved = 0
  const e = new Election({
    pubsub: ps.pubsub,
    logger: pino({ level: 'silent' }),
    members,
    epochs: { load: async () => saved, save: async (n) => { saved = n } },
    revision: () => revision,
    now: () => clock.t
  }, { peerId: self, name: self.slice(-4), eligible: true, heartbeatMs: 1e9, evaluateMs: 1e9, settleMs: 0, ...overrides })
  await e.start()
  return { e, clock, ps }
}

/** Advance the fake clock by `ms` in 250 ms evaluation ticks, as the real timer would. */
async function advance (e: Election, clock: { t: number }, ms: number, onTick?: () => void): Promise<void> {
  for (let left = ms; left > 0; left -= 250) {
    clock.t += Math.min(250, left)
    onTick?.()
    e.poke()
    await new Promise(resolve => setImmediate(resolve))
  }
  await new Promise(resolve => setTimeout(resolve, 10))
}

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

  it('decodes the revision, defaulting to 0 for claims without one, and rejects a bad one', () => {
    const { revision: _r, ...old } = claim(A, 3, 0)
    const d = decodeClaim(enc(old))
    assert.ok(d.ok)
    assert.equal(d.value.revision, 0)
    const withRev = decodeClaim(enc(claim(A, 3, 42)))
    assert.ok(withRev.ok)
    assert.equal(withRev.value.revision, 42)
    assert.equal(decodeClaim(enc({ ...claim(A, 3, 0), revision: -1 })).ok, false)
    assert.equal(decodeClaim(enc({ ...claim(A, 3, 0), revision: 1.5 })).ok, false)
  })
})

describe('election', () => {
  it('at an equal epoch adopts the claim with the higher revision, then the lower peer id, and never goes back', async () => {
    const { e, ps } = await election(C, () => [m(A), m(B), m(C)])
    ps.deliver(claim(B, 3, 10))
    await waitFor(() => e.manager()?.peerId === B, { timeoutMs: 2000, message: 'B adopted' })
    ps.deliver(claim(C, 3, 12))
    await waitFor(() => e.manager()?.peerId === C, { timeoutMs: 2000, message: 'C (higher revision) adopted' })
    ps.deliver(claim(A, 3, 12))
    await waitFor(() => e.manager()?.peerId === A, { timeoutMs: 2000, message: 'A (same revision, lower peer id) adopted' })
    ps.deliver(claim(B, 3, 11))
    ps.deliver(claim(B, 2, 99))
    // Claims are handled in order: once this later one is in, the two before were judged.
    ps.deliver(claim(A, 3, 12))
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(e.manager()?.peerId, A, 'a lower revision or a lower epoch does not win')
    assert.equal(e.epoch, 3)
    await e.stop()
  })

  it('claims with its own revision when it wins', async () => {
    const { e, ps } = await election(A, () => [m(A), m(B)], 17)
    e.poke()
    await waitFor(() => e.isManager, { timeoutMs: 2000, message: 'A claims' })
    const published = await waitFor(() => ps.published[0], { timeoutMs: 2000, message: 'the claim is published' })
    assert.equal(published.epoch, 1)
    assert.equal(published.revision, 17)
    await e.stop()
  })

  it('replaces a manager whose claims were silent for 6 s although membership still lists it alive, and not before', async () => {
    // A ranks first (lowest peer id): only the silence rule lets B take over while A is listed.
    const { e, clock, ps } = await election(B, () => [m(A), m(B)], 5)
    ps.deliver(claim(A, 4, 9))
    await waitFor(() => e.manager()?.peerId === A, { timeoutMs: 2000, message: 'A adopted' })
    for (let s = 1; s <= 10; s++) {
      clock.t += 1000
      ps.deliver(claim(A, 4, 9)) // heartbeats keep it
      e.poke()
    }
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(e.manager()?.peerId, A, 'a manager that keeps announcing stays')
    clock.t += 5900
    e.poke()
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(e.manager()?.peerId, A, '5.9 s of silence is not enough')
    clock.t += 200
    e.poke()
    const next = await waitFor(() => e.isManager ? e.manager() : null, { timeoutMs: 2000, message: 'B takes over after 6 s of silence' })
    assert.equal(next?.epoch, 5)
    assert.equal(ps.published.at(-1)?.revision, 5)
    await e.stop()
  })

  it('replaces a suspect manager after 2.5 s of silence', async () => {
    const members = [m(A), m(B)]
    const { e, clock, ps } = await election(B, () => members)
    ps.deliver(claim(A, 2, 0))
    await waitFor(() => e.manager()?.peerId === A, { timeoutMs: 2000, message: 'A adopted' })
    members[0] = m(A, 'suspect')
    clock.t += 2400
    e.poke()
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(e.manager()?.peerId, A, 'suspect and 2.4 s silent: not yet')
    ps.deliver(claim(A, 2, 0)) // a heartbeat arrives: a suspect manager that still speaks stays
    await new Promise(resolve => setTimeout(resolve, 20))
    clock.t += 2400
    e.poke()
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(e.manager()?.peerId, A)
    clock.t += 200
    e.poke()
    await waitFor(() => e.isManager, { timeoutMs: 2000, message: 'B takes over from the silent suspect' })
    assert.equal(e.epoch, 3)
    await e.stop()
  })

  it('keeps a manager membership declares failed while its claims still arrive; replaces it after 2.5 s of silence, or at once when it left', async () => {
    const members = [m(A), m(B), m(C)]
    const { e, clock, ps } = await election(B, () => members)
    ps.deliver(claim(A, 2, 0))
    await waitFor(() => e.manager()?.peerId === A, { timeoutMs: 2000, message: 'A adopted' })
    // A starved SWIM declares the live manager failed; its claims keep coming.
    members[0] = m(A, 'failed')
    for (let i = 0; i < 8; i++) {
      clock.t += 1000
      ps.deliver(claim(A, 2, 0))
      e.poke()
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    assert.equal(e.manager()?.peerId, A, 'failed in SWIM but speaking: still the manager')
    assert.equal(e.epoch, 2)
    clock.t += 2400
    e.poke()
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(e.manager()?.peerId, A, 'failed and 2.4 s silent: not yet')
    clock.t += 200
    e.poke()
    await waitFor(() => e.isManager, { timeoutMs: 2000, message: 'B takes over from the failed, silent manager' })
    assert.equal(e.epoch, 3)
    await e.stop()

    // A manager that left is replaced without waiting for silence.
    const members2 = [m(A), m(B)]
    const second = await election(B, () => members2)
    second.ps.deliver(claim(A, 5, 0))
    await waitFor(() => second.e.manager()?.peerId === A, { timeoutMs: 2000, message: 'A adopted' })
    members2[0] = m(A, 'left')
    second.e.poke()
    await waitFor(() => second.e.isManager, { timeoutMs: 2000, message: 'B takes over from a manager that left' })
    await second.e.stop()
  })

  it('does not judge silence right after its own event loop stalled: the claims are still queued', async () => {
    const { e, clock, ps } = await election(B, () => [m(A), m(B)], 0, { evaluateMs: 250 })
    ps.deliver(claim(A, 4, 0))
    await waitFor(() => e.manager()?.peerId === A, { timeoutMs: 2000, message: 'A adopted' })
    let ticks = 0
    await advance(e, clock, 3000, () => { if (++ticks % 4 === 0) ps.deliver(claim(A, 4, 0)) })
    // A 7 s stall of this agent: the first evaluation after it sees 7 s of silence.
    clock.t += 7000
    e.poke()
    await advance(e, clock, 750)
    assert.equal(e.manager()?.peerId, A, 'not deposed by our own stall')
    ps.deliver(claim(A, 4, 0)) // the claim that was queued during the stall
    await advance(e, clock, 3000, () => { if (++ticks % 4 === 0) ps.deliver(claim(A, 4, 0)) })
    assert.equal(e.manager()?.peerId, A)
    // Real silence, evaluated on time, still replaces it.
    await advance(e, clock, 6500)
    await waitFor(() => e.isManager, { timeoutMs: 2000, message: 'B takes over after real silence' })
    await e.stop()
  })

  it('a silently replaced manager that speaks again does not win back with its old epoch', async () => {
    const { e, clock, ps } = await election(B, () => [m(A), m(B)])
    ps.deliver(claim(A, 1, 0))
    await waitFor(() => e.manager()?.peerId === A, { timeoutMs: 2000, message: 'A adopted' })
    clock.t += 7000
    e.poke()
    await waitFor(() => e.isManager, { timeoutMs: 2000, message: 'B takes over' })
    ps.deliver(claim(A, 1, 0))
    ps.deliver(claim(B, 2, 0)) // our own claim relayed back: judged after A's
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(e.manager()?.peerId, B, 'the old epoch does not win back')
    assert.equal(e.epoch, 2)
    await e.stop()
  })
})
