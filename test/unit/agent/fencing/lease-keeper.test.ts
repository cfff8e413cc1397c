import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pino } from 'pino'
import { LeaseKeeper } from '../../../../agent/fencing/lease-keeper.js'
import { readLeaseFile } from '../../../../agent/fencing/lease-file.js'
import { claimSigner } from '../../../../manager/fencing/claim-signer.js'
import type { LeaseOp, LeaseReply } from '../../../../protocol/fencing-wire.js'
import type { ManagerInfo } from '../../../../protocol/manager-wire.js'

const logger = pino({ level: 'silent' })
const fakeLibp2p = { handle: async () => {}, unhandle: async () => {} }

class FakeElection {
  epoch = 3
  observed: number[] = []
  current: ManagerInfo | null = null
  manager (): ManagerInfo | null { return this.current }
  async observeEpoch (e: number): Promise<void> { this.observed.push(e); if (e > this.epoch) this.epoch = e }
}

describe('LeaseKeeper', () => {
  let dir: string
  let now: number
  let election: FakeElection
  let keeper: LeaseKeeper
  let a: PrivateKey
  let b: PrivateKey
  const peer = (k: PrivateKey): string => peerIdFromPrivateKey(k).toString()
  const make = (): LeaseKeeper => new LeaseKeeper({ libp2p: fakeLibp2p, election, logger, now: () => now }, { nodeName: 'web1', leaseFile: join(dir, 'lease.json'), ttlMs: 15_000 })
  const ask = async (k: PrivateKey, op: LeaseOp, epoch: number, leaseId: string, from = peer(k)): Promise<LeaseReply> =>
    await keeper.handle(await claimSigner(k)({ op, epoch, holder: peer(k), node: 'web1', leaseId, at: now }), from)

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keeper-'))
    now = Date.now()
    election = new FakeElection()
    a = await generateKeyPair('Ed25519')
    b = await generateKeyPair('Ed25519')
    keeper = make()
    await keeper.start()
  })
  afterEach(async () => { await keeper.stop(); await rm(dir, { recursive: true, force: true }) })

  it('grants, writes the lease file before answering, and shows the lease on the status route', async () => {
    const r = await ask(a, 'acquire', 3, '1'.repeat(32))
    assert.equal(r.t, 'granted')
    assert.equal(r.t === 'granted' && r.leaseFile, join(dir, 'lease.json'))
    const file = await readLeaseFile(join(dir, 'lease.json'))
    assert.ok(file.ok)
    assert.equal(file.lease?.holder, peer(a))
    const status = keeper.leaseStatus()
    assert.equal(status.highestEpoch, 3)
    assert.equal(status.lease?.live, true)
    assert.equal(status.lease?.leaseId, '1'.repeat(32))
  })

  it('refuses a claim sent by another peer than its holder, and a claim whose signature does not match', async () => {
    const relayed = await ask(a, 'acquire', 3, '1'.repeat(32), peer(b))
    assert.equal(relayed.t === 'refused' && relayed.code, 'CLUSTERD_ERR_LEASE_REFUSED')
    assert.match(relayed.t === 'refused' ? relayed.reason : '', /sent by/)
    const req = await claimSigner(a)({ op: 'acquire', epoch: 3, holder: peer(a), node: 'web1', leaseId: '1'.repeat(32), at: now })
    const forged = await keeper.handle({ ...req, claim: { ...req.claim, epoch: 9 } }, peer(a))
    assert.equal(forged.t === 'refused' && forged.code, 'CLUSTERD_ERR_LEASE_REFUSED')
    assert.match(forged.t === 'refused' ? forged.reason : '', /signature/)
    assert.equal(keeper.leaseStatus().lease, null)
    assert.deepEqual(election.observed, [])
  })

  it('a higher epoch is persisted through the election even when the node is busy; the old holder is then stale', async () => {
    assert.equal((await ask(a, 'acquire', 3, '1'.repeat(32))).t, 'granted')
    const busy = await ask(b, 'acquire', 5, '2'.repeat(32))
    assert.equal(busy.t === 'refused' && busy.code, 'CLUSTERD_ERR_LEASE_BUSY')
    assert.deepEqual(election.observed, [5])
    const renew = await ask(a, 'renew', 3, '1'.repeat(32))
    assert.equal(renew.t === 'refused' && renew.code, 'CLUSTERD_ERR_STALE_EPOCH')
    assert.equal(renew.t === 'refused' && renew.highestEpoch, 5)
    assert.equal((await ask(a, 'release', 3, '1'.repeat(32))).t, 'released')
    assert.equal((await ask(b, 'acquire', 5, '2'.repeat(32))).t, 'granted')
    // What /metrics shows as clusterd_lease_requests_total.
    const stats = keeper.stats().map(x => `${x.op} ${x.result} ${x.count}`).sort()
    assert.deepEqual(stats, ['acquire granted 2', 'acquire refused 1', 'release released 1', 'renew refused 1'])
  })

  it('an epoch raised by gossip (the election) makes the older manager stale without any lease request', async () => {
    election.epoch = 4
    const r = await ask(a, 'acquire', 3, '1'.repeat(32))
    assert.equal(r.t === 'refused' && r.code, 'CLUSTERD_ERR_STALE_EPOCH')
  })

  it('a restarted keeper honours a recorded lease for a full TTL from its start, even past its recorded expiry (renewals are not synced)', async () => {
    assert.equal((await ask(a, 'acquire', 3, '1'.repeat(32))).t, 'granted')
    await keeper.stop()
    now += 14_000
    keeper = make()
    await keeper.start()
    assert.equal(keeper.leaseStatus().lease?.expiresAt, now + 15_000)
    const r = await ask(b, 'acquire', 3, '2'.repeat(32))
    assert.equal(r.t === 'refused' && r.code, 'CLUSTERD_ERR_LEASE_BUSY')
    assert.equal((await ask(a, 'renew', 3, '1'.repeat(32))).t, 'granted', 'its holder can go on renewing it')
    const file = await readLeaseFile(join(dir, 'lease.json'))
    assert.equal(file.ok && file.lease?.expiresAt, now + 15_000)
  })

  it('a restarted keeper honours the lease it granted before (lease file), until it expires', async () => {
    assert.equal((await ask(a, 'acquire', 3, '1'.repeat(32))).t, 'granted')
    await keeper.stop()
    keeper = make()
    await keeper.start()
    const r = await ask(b, 'acquire', 3, '2'.repeat(32))
    assert.equal(r.t === 'refused' && r.code, 'CLUSTERD_ERR_LEASE_BUSY')
    now += 15_000
    assert.equal((await ask(b, 'acquire', 3, '2'.repeat(32))).t, 'granted')
  })
})
