import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import type { GossipSub } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { ReplicaRevisions } from '../../../../agent/replica/revision-gossip.js'
import type { Member } from '../../../../protocol/members.js'
import { REPLICA_TOPIC, encodeReplicationMessage } from '../../../../protocol/replication-wire.js'

const A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const B = '12D3KooWBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
const C = '12D3KooWCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC'

/** Just enough of gossipsub to deliver messages to the validator and listener (pure-logic test). */
function fakePubsub (): { pubsub: GossipSub, deliver: (from: string, body: unknown) => TopicValidatorResult } {
  const target = new EventTarget()
  const topicValidators = new Map<string, (peer: unknown, msg: unknown) => TopicValidatorResult>()
  const pubsub = Object.assign(target, { topicValidators, subscribe: () => {}, publish: async () => ({ recipients: [] }) }) as unknown as GossipSub
  return {
    pubsub,
    deliver: (from, body) => {
      const msg = { type: 'signed', topic: REPLICA_TOPIC, from: { toString: () => from }, data: encodeReplicationMessage(body as never) }
      const verdict = (topicValidators.get(REPLICA_TOPIC) as (p: unknown, m: unknown) => TopicValidatorResult)({ toString: () => from }, msg)
      if (verdict === TopicValidatorResult.Accept) target.dispatchEvent(new CustomEvent('message', { detail: msg }))
      return verdict
    }
  }
}

const m = (peerId: string): Member => ({ name: peerId.slice(-4), peerId, addresses: [], status: 'alive', incarnation: 1, labels: {}, facts: null, managerEligible: true, lastSeen: '' })

describe('replica revisions and election ranking', () => {
  it('ranks the highest announced revision first, then the lowest peer id; unheard members last', () => {
    const { pubsub, deliver } = fakePubsub()
    let own = 5
    const r = new ReplicaRevisions({ pubsub, logger: pino({ level: 'silent' }), revision: () => own }, { peerId: C, announce: false })
    r.start()
    assert.deepEqual([m(A), m(B), m(C)].sort(r.rank).map(x => x.peerId), [C, A, B], 'only our own revision is known')
    assert.equal(deliver(A, { t: 'replica', peerId: A, revision: 7 }), TopicValidatorResult.Accept)
    assert.equal(deliver(B, { t: 'replica', peerId: B, revision: 7 }), TopicValidatorResult.Accept)
    assert.deepEqual([m(C), m(B), m(A)].sort(r.rank).map(x => x.peerId), [A, B, C])
    own = 9
    assert.deepEqual([m(A), m(B), m(C)].sort(r.rank).map(x => x.peerId), [C, A, B], 'our own revision is live')
    r.stop()
  })

  it('rejects announcements not signed by their author, and malformed ones', () => {
    const { pubsub, deliver } = fakePubsub()
    const r = new ReplicaRevisions({ pubsub, logger: pino({ level: 'silent' }), revision: () => 0 }, { peerId: C, announce: false })
    r.start()
    assert.equal(deliver(B, { t: 'replica', peerId: A, revision: 100 }), TopicValidatorResult.Reject)
    assert.equal(deliver(A, { t: 'replica', peerId: A, revision: -3 }), TopicValidatorResult.Reject)
    assert.equal(r.revisionOf(A), undefined)
    r.stop()
  })

  it('ranks a store awaiting a snapshot below everyone, its own included, until it announces it no longer waits', () => {
    const { pubsub, deliver } = fakePubsub()
    let awaiting = true
    const r = new ReplicaRevisions({ pubsub, logger: pino({ level: 'silent' }), revision: () => 0, awaitingSnapshot: () => awaiting }, { peerId: A, announce: false })
    r.start()
    assert.equal(deliver(B, { t: 'replica', peerId: B, revision: 0, awaiting: true }), TopicValidatorResult.Accept)
    assert.equal(deliver(C, { t: 'replica', peerId: C, revision: 0 }), TopicValidatorResult.Accept)
    // A would win on peer id at equal revisions; awaiting, it and B go last.
    assert.deepEqual([m(A), m(B), m(C)].sort(r.rank).map(x => x.peerId), [C, A, B])
    awaiting = false
    deliver(B, { t: 'replica', peerId: B, revision: 0 })
    assert.deepEqual([m(C), m(B), m(A)].sort(r.rank).map(x => x.peerId), [A, B, C])
    assert.equal(deliver(B, { t: 'replica', peerId: B, revision: 0, awaiting: 'yes' }), TopicValidatorResult.Reject)
    r.stop()
  })
})
