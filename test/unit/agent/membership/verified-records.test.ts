import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { signRecord, verifyRecord } from '../../../../agent/membership/node-record.js'
import { VerifiedRecords, endpointMultiaddr } from '../../../../agent/membership/verified-records.js'
import type { AliveInfo } from '../../../../agent/membership/core/types.js'
import type { NodeRecord } from '../../../../protocol/membership-wire.js'
import { peers, type TestPeer } from '../fake-broadcasts.js'

let A: TestPeer, B: TestPeer
before(async () => { [A, B] = await peers(2) as [TestPeer, TestPeer] })

const addr = { host: '10.0.0.1', port: 7946 }
function record (p: TestPeer, incarnation: number, over: Partial<NodeRecord> = {}): NodeRecord {
  return { v: 2, name: 'node-a', peerId: p.id, incarnation, state: 'alive', addrs: [endpointMultiaddr(addr)], labels: {}, managerEligible: true, agentVersion: '0.1.0', boot: null, facts: null, ...over }
}
function info (p: TestPeer, r: NodeRecord, signer: TestPeer = p, over: Partial<AliveInfo> = {}): AliveInfo {
  return { id: r.peerId, name: r.name, incarnation: r.incarnation, addr, eligible: r.managerEligible, record: signRecord(r, signer.key), left: r.state === 'left', ...over }
}

describe('signed records', () => {
  it('verify against the peer id they name, and refuse a signature by anyone else or altered bytes', () => {
    const good = signRecord(record(A, 1), A.key)
    assert.equal(verifyRecord(good, A.id).ok, true)
    assert.match((verifyRecord(signRecord(record(A, 1), B.key), A.id) as { reason: string }).reason, /bad signature/)
    const altered = Uint8Array.from(good)
    altered[altered.length - 3] = (altered[altered.length - 3] ?? 0) ^ 1
    assert.equal(verifyRecord(altered, A.id).ok, false)
    assert.equal(verifyRecord(new Uint8Array(10), A.id).ok, false)
    assert.equal(verifyRecord(new Uint8Array(200), A.id).ok, false)
    assert.match((verifyRecord(good, B.id) as { reason: string }).reason, /bad signature/, 'a record is bound to its author: it cannot travel under another id')
  })
})

describe('verified records: the gate before the core', () => {
  it('accepts a signed info whose fields match its record, and serves a repeat from the cache', () => {
    const v = new VerifiedRecords()
    const i = info(A, record(A, 3))
    assert.equal(v.check(i).ok, true)
    assert.equal(v.check({ ...i, record: Uint8Array.from(i.record) }).ok, true)
    assert.deepEqual(v.stats, { verified: 1, cached: 1, refused: 0 })
    assert.equal(v.get(A.id)?.incarnation, 3)
  })

  it('refuses an info whose unsigned fields disagree with the signed record, cached or not', () => {
    const v = new VerifiedRecords()
    const r = record(A, 3)
    const i = info(A, r)
    assert.equal(v.check(i).ok, true)
    for (const over of [{ name: 'other' }, { incarnation: 9 }, { left: true }, { eligible: false }, { addr: { host: '10.0.0.2', port: 7946 } }, { id: B.id }] as Array<Partial<AliveInfo>>) {
      assert.equal(v.check({ ...i, ...over }).ok, false, JSON.stringify(over))
    }
    assert.equal(v.check(info(A, record(A, 4), B)).ok, false, 'signed by someone else')
    assert.equal(v.get(A.id)?.incarnation, 3, 'a refused record replaces nothing')
  })

  it('keeps the newest incarnation per member and forgets reaped members', () => {
    const v = new VerifiedRecords()
    assert.equal(v.check(info(A, record(A, 5))).ok, true)
    assert.equal(v.check(info(A, record(A, 4))).ok, true, 'an older record still verifies')
    assert.equal(v.get(A.id)?.incarnation, 5, 'but does not replace the newer one')
    assert.equal(v.check(info(B, record(B, 1, { name: 'node-b' }))).ok, true)
    v.retain(new Set([B.id]))
    assert.equal(v.get(A.id), undefined)
    assert.equal(v.size, 1)
  })
})
