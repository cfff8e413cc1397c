import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { Election } from '../../../../agent/election/election.js'
import { MANAGER_KEY_PREFIX, type ManagerClaim } from '../../../../protocol/manager-wire.js'
import type { Member } from '../../../../protocol/members.js'
import { FakeBroadcasts, peers, signedJson, type TestPeer } from '../fake-broadcasts.js'

function member (peerId: string, name: string, managerEligible: boolean): Member {
  return { name, peerId, addresses: [], status: 'alive', incarnation: 1, labels: {}, facts: null, boot: null, managerEligible, lastSeen: new Date().toISOString() }
}

function claim (peerId: string, name: string, epoch = 5): ManagerClaim {
  return { t: 'claim', epoch, peerId, name, since: new Date().toISOString(), revision: 0 }
}

/** An ineligible Election over fake broadcasts, with self, good (eligible) and worker (not) as members. */
async function setup (): Promise<{ election: Election, b: FakeBroadcasts, self: TestPeer, good: TestPeer, worker: TestPeer, stranger: TestPeer }> {
  const [self, good, worker, stranger] = await peers(4) as [TestPeer, TestPeer, TestPeer, TestPeer]
  const members = [member(self.id, 'self', false), member(good.id, 'good', true), member(worker.id, 'worker', false)]
  const b = new FakeBroadcasts()
  const election = new Election({
    broadcasts: b,
    privateKey: self.key,
    logger: pino({ level: 'silent' }),
    members: () => members,
    epochs: { load: async () => 0, save: async () => {} }
  }, { peerId: self.id, name: 'self', eligible: false })
  await election.start()
  return { election, b, self, good, worker, stranger }
}

const settle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 10)) }

describe('manager claim validation', () => {
  it('accepts a claim from a known, eligible member signed by itself under its own name', async () => {
    const { election, b, good } = await setup()
    assert.equal(b.deliver(MANAGER_KEY_PREFIX + good.id, signedJson(good, claim(good.id, 'good')), 5), null)
    await settle()
    assert.equal(election.manager()?.peerId, good.id)
    await election.stop()
  })

  it('drops a claim from a peer that is not a member (the takeover bug), so it never becomes manager', async () => {
    const { election, b, good, stranger } = await setup()
    assert.match(b.deliver(MANAGER_KEY_PREFIX + stranger.id, signedJson(stranger, claim(stranger.id, 'good', 99)), 99) ?? '', /not a known member/)
    await settle()
    assert.equal(election.manager(), null)
    assert.equal(election.epoch, 0)
    assert.equal(b.deliver(MANAGER_KEY_PREFIX + good.id, signedJson(good, claim(good.id, 'good', 3)), 3), null)
    await settle()
    assert.equal(election.manager()?.peerId, good.id)
    await election.stop()
  })

  it('rejects claims from ineligible members, under another name, not signed by the claimant, or malformed', async () => {
    const { election, b, good, worker } = await setup()
    const k = MANAGER_KEY_PREFIX + good.id
    assert.match(b.deliver(MANAGER_KEY_PREFIX + worker.id, signedJson(worker, claim(worker.id, 'worker')), 5) ?? '', /ineligible/)
    assert.match(b.deliver(k, signedJson(good, claim(good.id, 'worker')), 5) ?? '', /another name/)
    assert.match(b.deliver(k, signedJson(worker, claim(good.id, 'good')), 5) ?? '', /not signed by its claimant/)
    assert.match(b.deliver(k, new TextEncoder().encode(JSON.stringify(claim(good.id, 'good'))), 5) ?? '', /not signed|malformed|too short/)
    assert.match(b.deliver(k, signedJson(good, claim(good.id, '$(touch /tmp/x)')), 5) ?? '', /malformed/)
    assert.match(b.deliver(k, signedJson(good, { t: 'claim', epoch: 'x' }), 5) ?? '', /malformed/)
    assert.match(b.deliver(k, signedJson(good, claim(good.id, 'good', 5)), 6) ?? '', /version/, 'the version must be the epoch')
    assert.match(b.deliver(MANAGER_KEY_PREFIX + worker.id, signedJson(good, claim(good.id, 'good', 5)), 5) ?? '', /under key/, 'the key must name the claimant')
    assert.match(b.deliver(k, signedJson(good, claim(good.id, 'good', 2000)), 2000) ?? '', /more than 1024/, 'an epoch far ahead would burn the epoch space')
    await settle()
    assert.equal(election.manager(), null)
    assert.equal(election.epoch, 0)
    await election.stop()
  })
})

describe('relayed manager claims (a node refusing a lease sends the claim its election names)', () => {
  it('keeps the signed claim of the epoch it names, for the lease keeper to hand on', async () => {
    const { election, b, good } = await setup()
    const data = signedJson(good, claim(good.id, 'good', 5))
    assert.equal(b.deliver(MANAGER_KEY_PREFIX + good.id, data, 5), null)
    await settle()
    assert.deepEqual(election.claimEnvelope(good.id, 5), data)
    assert.equal(election.claimEnvelope(good.id, 4), undefined, 'only for the epoch of the claim')
    const later = signedJson(good, claim(good.id, 'good', 6))
    assert.equal(b.deliver(MANAGER_KEY_PREFIX + good.id, later, 6), null)
    await settle()
    assert.equal(election.claimEnvelope(good.id, 5), undefined, 'replaced by the claimant\'s newer claim')
    assert.deepEqual(election.claimEnvelope(good.id, 6), later)
    await election.stop()
  })

  it('checks a relayed claim as it checks a broadcast one, and takes only a valid one', async () => {
    const { election, good, worker, stranger } = await setup()
    const reason = (data: Uint8Array): string => { const r = election.checkClaim(data); return r.ok ? 'ok' : r.reason }
    assert.match(reason(signedJson(stranger, claim(stranger.id, 'x', 5))), /not a known member/)
    assert.match(reason(signedJson(worker, claim(worker.id, 'worker', 5))), /ineligible/)
    assert.match(reason(signedJson(worker, claim(good.id, 'good', 5))), /not signed by its claimant/)
    assert.match(reason(new TextEncoder().encode('x'.repeat(80))), /not a signed manager claim/)
    assert.match(reason(signedJson(good, claim(good.id, 'good', 2000))), /more than 1024/)
    // A forged or foreign claim changes nothing when heard.
    await election.hearClaim(signedJson(worker, claim(good.id, 'good', 7)))
    assert.equal(election.manager(), null)
    assert.equal(election.epoch, 0)
    const good5 = signedJson(good, claim(good.id, 'good', 5))
    assert.equal(reason(good5), 'ok')
    await election.hearClaim(good5)
    assert.equal(election.manager()?.peerId, good.id)
    assert.equal(election.epoch, 5)
    await election.stop()
  })
})
