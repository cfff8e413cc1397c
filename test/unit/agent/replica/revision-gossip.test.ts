import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { ReplicaRevisions } from '../../../../agent/replica/revision-gossip.js'
import { REPLICA_KEY_PREFIX, decodeReplicaAnnouncement } from '../../../../protocol/replication-wire.js'
import { openEnvelope } from '../../../../agent/identity/signed-envelope.js'
import { FakeBroadcasts, peers, signedJson, type TestPeer } from '../fake-broadcasts.js'

// A < B < C by peer id.
let A: TestPeer, B: TestPeer, C: TestPeer
before(async () => { [A, B, C] = await peers(3) as [TestPeer, TestPeer, TestPeer] })

/** Hand `body`, signed by `author`, in under the key of `keyOf` (default: the author). */
function announce (b: FakeBroadcasts, author: TestPeer, body: unknown, version = 1, keyOf: TestPeer = author): string | null {
  return b.deliver(REPLICA_KEY_PREFIX + keyOf.id, signedJson(author, body), version)
}

function revisions (self: TestPeer, b: FakeBroadcasts, over: Partial<ConstructorParameters<typeof ReplicaRevisions>[0]> = {}, announceOwn = false): ReplicaRevisions {
  return new ReplicaRevisions({ broadcasts: b, privateKey: self.key, logger: pino({ level: 'silent' }), revision: () => 0, ...over }, { peerId: self.id, announce: announceOwn })
}

describe('replica revisions: what the election ranks candidates by', () => {
  it('keeps the latest announced revision of each member; ours is live for claims and, for ranking, what we announced', () => {
    const b = new FakeBroadcasts()
    let own = 5
    const r = revisions(C, b, { revision: () => own })
    r.start()
    assert.equal(r.revisionOf(A.id), undefined, 'unheard')
    assert.equal(announce(b, A, { t: 'replica', peerId: A.id, revision: 7 }), null)
    assert.equal(announce(b, B, { t: 'replica', peerId: B.id, revision: 7 }), null)
    assert.equal(r.revisionOf(A.id), 7)
    assert.equal(r.revisionOf(B.id), 7)
    assert.equal(announce(b, A, { t: 'replica', peerId: A.id, revision: 9 }, 2), null)
    assert.equal(r.revisionOf(A.id), 9, 'the newer announcement')
    assert.equal(r.revisionOf(C.id), 5)
    own = 9
    assert.equal(r.revisionOf(C.id), 9, 'our own revision is live')
    assert.equal(r.announcedRevision(), 0, 'not announcing: the others rank us as unheard, 0')
    r.stop()
  })

  it('rejects announcements not signed by their author, under another key, from strangers, and malformed ones', () => {
    const b = new FakeBroadcasts()
    const r = revisions(C, b, { isMember: id => id !== B.id })
    r.start()
    assert.match(announce(b, B, { t: 'replica', peerId: A.id, revision: 100 }, 1, A) ?? '', /not signed by its author/)
    assert.match(announce(b, A, { t: 'replica', peerId: A.id, revision: 100 }, 1, B) ?? '', /under key/)
    assert.match(announce(b, A, { t: 'replica', peerId: A.id, revision: -3 }) ?? '', /malformed/)
    assert.match(announce(b, B, { t: 'replica', peerId: B.id, revision: 3 }) ?? '', /not a known member/)
    // Membership is checked before the signature: an announcement about a member not known yet
    // is set aside for a second look, and must not cost a verification each time.
    assert.match(announce(b, A, { t: 'replica', peerId: B.id, revision: 3 }, 1, B) ?? '', /not a known member/)
    assert.equal(r.revisionOf(A.id), undefined)
    assert.equal(r.revisionOf(B.id), undefined)
    r.stop()
  })

  it('marks a store awaiting a snapshot (its own live, the others as announced) until it announces it no longer waits', () => {
    const b = new FakeBroadcasts()
    let awaiting = true
    const r = revisions(A, b, { awaitingSnapshot: () => awaiting })
    r.start()
    assert.equal(announce(b, B, { t: 'replica', peerId: B.id, revision: 0, awaiting: true }), null)
    assert.equal(announce(b, C, { t: 'replica', peerId: C.id, revision: 0 }), null)
    assert.deepEqual([A, B, C].map(p => r.isAwaiting(p.id)), [true, true, false])
    awaiting = false
    announce(b, B, { t: 'replica', peerId: B.id, revision: 0 }, 2)
    assert.deepEqual([A, B, C].map(p => r.isAwaiting(p.id)), [false, false, false])
    assert.match(announce(b, B, { t: 'replica', peerId: B.id, revision: 0, awaiting: 'yes' }, 3) ?? '', /malformed/)
    r.stop()
  })

  it('announces only when the revision changed, at most every 2 s, with rising versions', () => {
    const b = new FakeBroadcasts()
    const clock = { t: 1_700_000_000_000 }
    let own = 1
    const r = revisions(A, b, { revision: () => own, now: () => clock.t }, true)
    r.start()
    const tick = (ms: number): void => { clock.t += ms; (r as unknown as { maybeAnnounce: () => void }).maybeAnnounce() }
    assert.equal(b.sent.length, 1, 'announced at start')
    for (let i = 0; i < 20; i++) tick(500)
    assert.equal(b.sent.length, 1, 'an unchanged revision is not announced again')
    own = 2
    tick(500)
    assert.equal(b.sent.length, 2)
    own = 3
    tick(500)
    tick(500)
    assert.equal(b.sent.length, 2, 'not within 2 s of the last announcement')
    assert.equal(r.announcedRevision(), 2, 'the election ranks us by what the others heard, not by our live 3')
    assert.equal(r.revisionOf(A.id), 3)
    tick(1000)
    assert.equal(b.sent.length, 3)
    assert.equal(r.announcedRevision(), 3)
    const versions = b.sent.map(s => s.version)
    assert.ok(versions.every((v, i) => i === 0 || v > (versions[i - 1] as number)), `versions rise: ${versions.join(',')}`)
    const last = b.sent.at(-1)
    const env = last === undefined ? null : openEnvelope(last.data)
    const a = env === null ? null : decodeReplicaAnnouncement(env.payload)
    assert.equal(a?.ok === true ? a.value.revision : null, 3)
    assert.equal(last?.key, REPLICA_KEY_PREFIX + A.id)
    r.stop()
  })
  it('announces the revision its store opened with, then only what the writes it acknowledges moved', () => {
    const b = new FakeBroadcasts()
    const clock = { t: 1_700_000_000_000 }
    let own = 0
    let open = false
    let acking = false
    let awaiting = false
    const r = revisions(A, b, { revision: () => own, now: () => clock.t, storeOpen: () => open, acknowledging: () => acking, awaitingSnapshot: () => awaiting }, true)
    r.start()
    const tick = (ms: number): void => { clock.t += ms; (r as unknown as { maybeAnnounce: () => void }).maybeAnnounce() }
    const announced = (): number[] => b.sent.map(x => {
      const env = openEnvelope(x.data)
      const a = env === null ? null : decodeReplicaAnnouncement(env.payload)
      return a?.ok === true ? a.value.revision : -1
    })
    own = 40
    tick(3000)
    assert.deepEqual(announced(), [], 'nothing before the store is open (40 is not the store\'s revision yet)')
    open = true
    own = 0
    tick(500)
    assert.deepEqual(announced(), [], 'a fresh store announces nothing: an unheard member ranks as 0')
    own = 7
    for (let i = 0; i < 10; i++) tick(500)
    assert.deepEqual(announced(), [], 'a replica caught up in the background stays quiet')
    assert.equal(r.announcedRevision(), 0, 'and ranks itself as the others rank it: unheard, 0')
    acking = true
    own = 8
    tick(500)
    assert.deepEqual(announced(), [8], 'a replica the write path waits for announces')
    own = 9
    tick(500)
    tick(1500)
    assert.deepEqual(announced(), [8, 9], 'at most every 2 s')
    acking = false
    own = 20
    for (let i = 0; i < 10; i++) tick(500)
    assert.deepEqual(announced(), [8, 9], 'no longer acknowledging: quiet again')
    assert.equal(r.announcedRevision(), 9)
    awaiting = true
    tick(500)
    assert.deepEqual(announced(), [8, 9, 20], 'a change of the awaiting flag is always told')
    r.stop()

    // A restarted agent whose store opens at revision 12 tells it once, acknowledging or not.
    const b2 = new FakeBroadcasts()
    const r2 = revisions(B, b2, { revision: () => 12, storeOpen: () => true, acknowledging: () => false }, true)
    r2.start()
    assert.equal(b2.sent.length, 1)
    r2.stop()
  })
})
