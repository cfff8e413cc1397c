import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import { pino } from 'pino'
import { Election } from '../../../../agent/election/election.js'
import { MANAGER_TOPIC, type ManagerClaim } from '../../../../protocol/manager-wire.js'
import type { Member } from '../../../../protocol/members.js'

const SELF = '12D3KooWSe1fSe1fSe1fSe1fSe1fSe1fSe1fSe1fSe1fSe1fSe1f'
const GOOD = '12D3KooWGoodGoodGoodGoodGoodGoodGoodGoodGoodGoodGood'
const STRANGER = '12D3KooWStrangerStrangerStrangerStrangerStrangerStr'
const WORKER = '12D3KooWWorkerWorkerWorkerWorkerWorkerWorkerWorker1'

function member (peerId: string, name: string, managerEligible: boolean): Member {
  return { name, peerId, addresses: [], status: 'alive', incarnation: 1, labels: {}, facts: null, managerEligible, lastSeen: new Date().toISOString() }
}

type Validator = (peer: { toString: () => string }, msg: Message) => TopicValidatorResult

/** An Election over a fake pubsub that only records its topic validator and listeners. */
async function electionWith (members: Member[]): Promise<{ validate: Validator, election: Election, deliver: (claim: ManagerClaim, from: string) => Promise<void> }> {
  const validators = new Map<string, Validator>()
  const listeners: Array<(evt: CustomEvent<Message>) => void> = []
  const pubsub = {
    topicValidators: validators,
    addEventListener: (_: string, fn: (evt: CustomEvent<Message>) => void) => { listeners.push(fn) },
    removeEventListener: () => {},
    subscribe: () => {},
    publish: async () => ({ recipients: [] })
  } as unknown as GossipSub
  const election = new Election({
    pubsub,
    logger: pino({ level: 'silent' }),
    members: () => members,
    epochs: { load: async () => 0, save: async () => {} }
  }, { peerId: SELF, name: 'self', eligible: false, heartbeatMs: 60_000 })
  await election.start()
  const validate = validators.get(MANAGER_TOPIC)
  assert.ok(validate !== undefined)
  const deliver = async (claim: ManagerClaim, from: string): Promise<void> => {
    const msg = signed(claim, from)
    // gossipsub only emits messages its validator accepted
    if (validate({ toString: () => from }, msg) !== TopicValidatorResult.Accept) return
    for (const l of listeners) l(new CustomEvent('message', { detail: msg }))
    await new Promise(resolve => setImmediate(resolve))
  }
  return { validate, election, deliver }
}

function signed (claim: unknown, from: string): Message {
  return { type: 'signed', topic: MANAGER_TOPIC, from: { toString: () => from }, data: new TextEncoder().encode(JSON.stringify(claim)) } as unknown as Message
}

function claim (peerId: string, name: string, epoch = 5): ManagerClaim {
  return { t: 'claim', epoch, peerId, name, since: new Date().toISOString(), revision: 0 }
}

describe('manager claim validation', () => {
  const members = [member(SELF, 'self', false), member(GOOD, 'good', true), member(WORKER, 'worker', false)]

  it('accepts a claim from a known, eligible member signed by itself under its own name', async () => {
    const { validate, election } = await electionWith(members)
    assert.equal(validate({ toString: () => GOOD }, signed(claim(GOOD, 'good'), GOOD)), TopicValidatorResult.Accept)
    await election.stop()
  })

  it('ignores a claim from a peer that is not a member (the takeover bug), so it never becomes manager', async () => {
    const { validate, election, deliver } = await electionWith(members)
    assert.equal(validate({ toString: () => STRANGER }, signed(claim(STRANGER, 'good', 99), STRANGER)), TopicValidatorResult.Ignore)
    await deliver(claim(STRANGER, 'stranger', 99), STRANGER)
    assert.equal(election.manager(), null)
    assert.equal(election.epoch, 0)
    await deliver(claim(GOOD, 'good', 3), GOOD)
    assert.equal(election.manager()?.peerId, GOOD)
    await election.stop()
  })

  it('rejects claims from ineligible members, under another name, or not signed by the claimant', async () => {
    const { validate, election } = await electionWith(members)
    const peer = { toString: () => GOOD }
    assert.equal(validate(peer, signed(claim(WORKER, 'worker'), WORKER)), TopicValidatorResult.Reject)
    assert.equal(validate(peer, signed(claim(GOOD, 'worker'), GOOD)), TopicValidatorResult.Reject)
    assert.equal(validate(peer, signed(claim(GOOD, 'good'), WORKER)), TopicValidatorResult.Reject)
    assert.equal(validate(peer, { ...signed(claim(GOOD, 'good'), GOOD), type: 'unsigned' } as unknown as Message), TopicValidatorResult.Reject)
    assert.equal(validate(peer, signed(claim(GOOD, '$(touch /tmp/x)'), GOOD)), TopicValidatorResult.Reject)
    assert.equal(validate(peer, signed({ t: 'claim', epoch: 'x' }, GOOD)), TopicValidatorResult.Reject)
    await election.stop()
  })
})
