import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  type ReplicationReply, type ReplicationRequest, REPLICATION_FRAME_MAX_BYTES, chunkEntries, entryBytes, decodeReplicaAnnouncement, decodeReplicationReply, decodeReplicationRequest, encodeReplicationMessage
} from '../../../protocol/replication-wire.js'

const PEER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const reasonOf = (r: { ok: boolean, reason?: string }): string => r.ok ? '' : r.reason ?? ''

describe('chunkEntries', () => {
  it('splits key-ordered entries into chunks of about maxBytes, at least one entry each, losing nothing', () => {
    const entries = Array.from({ length: 100 }, (_, i) => ({ key: `c!k${String(i).padStart(3, '0')}`, value: 'x'.repeat(i === 50 ? 5000 : 80) }))
    const chunks = chunkEntries(entries, 1000)
    assert.deepEqual(chunks.flat(), entries)
    assert.ok(chunks.length > 5)
    for (const c of chunks) assert.ok(c.length >= 1 && (c.length === 1 || c.reduce((n, e) => n + entryBytes(e), 0) <= 1000))
    assert.deepEqual(chunkEntries([], 1000), [[]], 'an empty state is one empty chunk')
  })
})

describe('replication wire decoders', () => {
  it('round-trips every message kind', () => {
    const batch: ReplicationRequest = { t: 'batch', epoch: 2, batch: { revision: 7, ops: [{ type: 'put', key: 'c!a', value: '1' }, { type: 'del', key: 'c!b' }] } }
    assert.deepEqual(decodeReplicationRequest(encodeReplicationMessage(batch)), { ok: true, value: batch })
    const requests: ReplicationRequest[] = [
      { t: 'batch', epoch: 2, batch: { revision: 8, ops: [] }, ack: true },
      { t: 'chunk', epoch: 2, id: 'abc', seq: 3, revision: 7, entries: [{ key: 'm!format', value: 1 }], done: false },
      { t: 'delta', epoch: 2, batches: [{ revision: 7, ops: [] }, { revision: 8, ops: [{ type: 'put', key: 'c!a', value: '1' }] }] },
      { t: 'pull', epoch: 2 },
      { t: 'pull', epoch: 2, after: 'c!a', base: { epoch: 1, peerId: PEER, revision: 6 } }
    ]
    for (const req of requests) assert.deepEqual(decodeReplicationRequest(encodeReplicationMessage(req)), { ok: true, value: req })
    for (const reply of [{ t: 'ack', revision: 3 }, { t: 'gap', revision: 0 }, { t: 'refused', reason: 'no' }, { t: 'received', id: 'abc', seq: 2 },
      { t: 'export', syncedEpoch: 1, revision: 4, entries: [{ key: 'c!a', value: 1 }], next: 'c!a' }, { t: 'export', syncedEpoch: 0, revision: 0, entries: [], next: null },
      { t: 'export', syncedEpoch: 1, revision: 4, entries: [], next: null, unacked: ['c!a', 'x!n1!0000000002'] },
      { t: 'stale', epoch: 2, manager: PEER }, { t: 'stale', epoch: 9, manager: null }] as ReplicationReply[]) {
      assert.deepEqual(decodeReplicationReply(encodeReplicationMessage(reply)), { ok: true, value: reply })
    }
    const ann = { t: 'replica', peerId: PEER, revision: 12 } as const
    assert.deepEqual(decodeReplicaAnnouncement(encodeReplicationMessage(ann)), { ok: true, value: ann })
  })

  it('strips unknown fields from ops', () => {
    const r = decodeReplicationRequest(enc({ t: 'batch', epoch: 1, batch: { revision: 1, ops: [{ type: 'put', key: 'c!a', value: '1', extra: 'x' }] } }))
    assert.ok(r.ok && r.value.t === 'batch')
    assert.deepEqual(r.value.batch.ops, [{ type: 'put', key: 'c!a', value: '1' }])
  })

  it('rejects malformed requests with a reason', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ t: 'batch', epoch: 0, batch: { revision: 1, ops: [] } }, /epoch/],
      [{ t: 'batch', epoch: 1, batch: { revision: 0, ops: [] } }, /revision/],
      [{ t: 'batch', epoch: 1, batch: { revision: 1, ops: {} } }, /ops/],
      [{ t: 'batch', epoch: 1, batch: { revision: 1, ops: [{ type: 'put', key: 'c!a', value: 1 }] } }, /string value/],
      [{ t: 'batch', epoch: 1, batch: { revision: 1, ops: [{ type: 'drop', key: 'c!a' }] } }, /neither/],
      [{ t: 'batch', epoch: 1, batch: { revision: 1, ops: [{ type: 'del', key: '' }] } }, /key/],
      [{ t: 'batch', epoch: 1, batch: { revision: 1, ops: [] }, ack: false }, /ack/],
      [{ t: 'snapshot', epoch: 1, revision: 1, entries: [] }, /unknown/],
      [{ t: 'chunk', epoch: 1, id: 'x', seq: 0, revision: -1, entries: [], done: true }, /revision/],
      [{ t: 'chunk', epoch: 1, id: 'x', seq: 0, revision: 1, entries: [{ key: 'a' }], done: true }, /entry/],
      [{ t: 'chunk', epoch: 1, id: '../x', seq: 0, revision: 1, entries: [], done: true }, /id/],
      [{ t: 'chunk', epoch: 1, id: 'x', seq: 0, revision: 1, entries: [] }, /done/],
      [{ t: 'delta', epoch: 1, batches: [] }, /non-empty/],
      [{ t: 'delta', epoch: 1, batches: [{ revision: 2, ops: [] }, { revision: 4, ops: [] }] }, /consecutive/],
      [{ t: 'pull', epoch: 1, base: { epoch: 1, peerId: 'nope', revision: 1 } }, /base/],
      [{ t: 'other', epoch: 1 }, /unknown/],
      [[1, 2], /not an object/]
    ]
    for (const [msg, pattern] of cases) {
      const r = decodeReplicationRequest(enc(msg))
      assert.equal(r.ok, false, JSON.stringify(msg))
      assert.match(reasonOf(r), pattern)
    }
    assert.match(reasonOf(decodeReplicationRequest(new Uint8Array([0xff, 0xfe]))), /UTF-8 JSON/)
    assert.match(reasonOf(decodeReplicationRequest(new Uint8Array(REPLICATION_FRAME_MAX_BYTES + 1))), /too large/)
  })

  it('rejects malformed replies and announcements', () => {
    assert.equal(decodeReplicationReply(enc({ t: 'ack', revision: 1.5 })).ok, false)
    assert.equal(decodeReplicationReply(enc({ t: 'refused' })).ok, false)
    assert.equal(decodeReplicationReply(enc({ t: 'export', syncedEpoch: 1, revision: 1, entries: [] })).ok, false, 'export without next')
    assert.equal(decodeReplicationReply(enc({ t: 'received', id: 'x', seq: -1 })).ok, false)
    assert.equal(decodeReplicationReply(enc({ t: 'stale', epoch: 0, manager: null })).ok, false, 'epochs start at 1')
    assert.equal(decodeReplicationReply(enc({ t: 'stale', epoch: 2 ** 53, manager: null })).ok, false)
    assert.equal(decodeReplicationReply(enc({ t: 'stale', epoch: 2, manager: 'not a peer' })).ok, false)
    assert.equal(decodeReplicationReply(enc({ t: 'stale', epoch: 2 })).ok, false, 'manager is required (null when unknown)')
    assert.equal(decodeReplicationReply(enc({ t: 'export', syncedEpoch: 1, revision: 1, entries: [], next: null, unacked: [''] })).ok, false)
    assert.equal(decodeReplicationReply(enc({ t: 'export', syncedEpoch: 1, revision: 1, entries: [], next: null, unacked: 'c!a' })).ok, false)
    assert.equal(decodeReplicationReply(enc({ t: 'export', syncedEpoch: 1, revision: 1, entries: [], next: null, unacked: Array(10_001).fill('c!a') })).ok, false)
    assert.equal(decodeReplicaAnnouncement(enc({ t: 'replica', peerId: 'not-a-peer', revision: 1 })).ok, false)
    assert.equal(decodeReplicaAnnouncement(enc({ t: 'replica', peerId: PEER, revision: -1 })).ok, false)
    assert.equal(decodeReplicaAnnouncement(enc({ t: 'claim', peerId: PEER, revision: 1 })).ok, false)
  })
})
