import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  type ReplicationRequest, MAX_REPLICATION_FRAME_BYTES, decodeReplicaAnnouncement, decodeReplicationReply, decodeReplicationRequest, encodeReplicationMessage
} from '../../../protocol/replication-wire.js'

const PEER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const reasonOf = (r: { ok: boolean, reason?: string }): string => r.ok ? '' : r.reason ?? ''

describe('replication wire decoders', () => {
  it('round-trips every message kind', () => {
    const batch: ReplicationRequest = { t: 'batch', epoch: 2, batch: { revision: 7, ops: [{ type: 'put', key: 'c!a', value: '1' }, { type: 'del', key: 'c!b' }] } }
    assert.deepEqual(decodeReplicationRequest(encodeReplicationMessage(batch)), { ok: true, value: batch })
    const snap: ReplicationRequest = { t: 'snapshot', epoch: 2, revision: 7, entries: [{ key: 'm!format', value: 1 }] }
    assert.deepEqual(decodeReplicationRequest(encodeReplicationMessage(snap)), { ok: true, value: snap })
    for (const reply of [{ t: 'ack', revision: 3 }, { t: 'gap', revision: 0 }, { t: 'refused', reason: 'no' }] as const) {
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
      [{ t: 'snapshot', epoch: 1, revision: -1, entries: [] }, /revision/],
      [{ t: 'snapshot', epoch: 1, revision: 1, entries: [{ key: 'a' }] }, /entry/],
      [{ t: 'other', epoch: 1 }, /unknown/],
      [[1, 2], /not an object/]
    ]
    for (const [msg, pattern] of cases) {
      const r = decodeReplicationRequest(enc(msg))
      assert.equal(r.ok, false, JSON.stringify(msg))
      assert.match(reasonOf(r), pattern)
    }
    assert.match(reasonOf(decodeReplicationRequest(new Uint8Array([0xff, 0xfe]))), /UTF-8 JSON/)
    assert.match(reasonOf(decodeReplicationRequest(new Uint8Array(MAX_REPLICATION_FRAME_BYTES + 1))), /too large/)
  })

  it('rejects malformed replies and announcements', () => {
    assert.equal(decodeReplicationReply(enc({ t: 'ack', revision: 1.5 })).ok, false)
    assert.equal(decodeReplicationReply(enc({ t: 'refused' })).ok, false)
    assert.equal(decodeReplicaAnnouncement(enc({ t: 'replica', peerId: 'not-a-peer', revision: 1 })).ok, false)
    assert.equal(decodeReplicaAnnouncement(enc({ t: 'replica', peerId: PEER, revision: -1 })).ok, false)
    assert.equal(decodeReplicaAnnouncement(enc({ t: 'claim', peerId: PEER, revision: 1 })).ok, false)
  })
})
