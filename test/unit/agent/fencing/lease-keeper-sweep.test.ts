// The keeper has the sweeper stop the processes of a lease that ended: before a grant while no
// lease is live, after a release or a new lease is in the lease file, and at the expiry. A fake
// sweeper records what it was asked (the real one is tested in lease-sweeper.test.ts).
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
import type { SweepResult } from '../../../../agent/fencing/lease-sweeper.js'
import { claimSigner } from '../../../../manager/fencing/claim-signer.js'
import type { LeaseOp, LeaseReply } from '../../../../protocol/fencing-wire.js'
import { waitFor } from '../../../harness/poll.js'

const logger = pino({ level: 'silent' })
const fakeLibp2p = { handle: async () => {}, unhandle: async () => {} }
const election = { epoch: 3, manager: () => null, observeEpoch: async () => {} }
const TTL = 300

interface Call { ended: string[], keep: string | null, fileLease: string | null }

describe('LeaseKeeper sweeps the processes of ended leases', () => {
  let dir: string
  let keeper: LeaseKeeper
  let a: PrivateKey
  let b: PrivateKey
  let calls: Call[]
  const peer = (k: PrivateKey): string => peerIdFromPrivateKey(k).toString()
  const ask = async (k: PrivateKey, op: LeaseOp, epoch: number, leaseId: string): Promise<LeaseReply> =>
    await keeper.handle(await claimSigner(k)({ op, epoch, holder: peer(k), node: 'web1', leaseId, at: Date.now() }), peer(k))

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keeper-sweep-'))
    calls = []
    a = await generateKeyPair('Ed25519')
    b = await generateKeyPair('Ed25519')
    const sweeper = {
      sweep: async (ended: ReadonlySet<string>, keep: string | null): Promise<SweepResult> => {
        // What the gate would read at the moment of the sweep.
        const f = await readLeaseFile(join(dir, 'lease.json'))
        calls.push({ ended: [...ended], keep, fileLease: f.ok && f.lease !== null ? `${f.lease.epoch}:${f.lease.leaseId}` : null })
        return { signalled: [], survivors: [], durationMs: 0 }
      }
    }
    keeper = new LeaseKeeper({ libp2p: fakeLibp2p, election, logger, sweeper }, { nodeName: 'web1', leaseFile: join(dir, 'lease.json'), ttlMs: TTL })
    await keeper.start()
  })
  afterEach(async () => { await keeper.stop(); await rm(dir, { recursive: true, force: true }) })

  it('at the expiry of a lease nobody renewed, every process of it is stopped', async () => {
    assert.equal((await ask(a, 'acquire', 3, '1'.repeat(32))).t, 'granted')
    await waitFor(() => calls.length > 0 ? true : undefined, { timeoutMs: 3000, intervalMs: 20, message: 'no sweep at the expiry' })
    assert.deepEqual(calls[0], { ended: [`3:${'1'.repeat(32)}`], keep: null, fileLease: `3:${'1'.repeat(32)}` })
  })

  it('a renewal moves the expiry sweep out', async () => {
    assert.equal((await ask(a, 'acquire', 3, '1'.repeat(32))).t, 'granted')
    const until = Date.now() + 2 * TTL
    while (Date.now() < until) {
      assert.equal((await ask(a, 'renew', 3, '1'.repeat(32))).t, 'granted')
      await new Promise(resolve => setTimeout(resolve, TTL / 4))
    }
    assert.deepEqual(calls, [], 'swept a lease that was renewed in time')
  })

  it('a release is in the lease file before its processes are stopped', async () => {
    assert.equal((await ask(a, 'acquire', 3, '1'.repeat(32))).t, 'granted')
    assert.equal((await ask(a, 'release', 3, '1'.repeat(32))).t, 'released')
    assert.deepEqual(calls[0], { ended: [`3:${'1'.repeat(32)}`], keep: null, fileLease: null })
  })

  it('before a grant while no lease is live, the old lease\'s processes are stopped; a replacement keeps the new lease\'s', async () => {
    assert.equal((await ask(a, 'acquire', 3, '1'.repeat(32))).t, 'granted')
    await waitFor(() => calls.length > 0 ? true : undefined, { timeoutMs: 3000, intervalMs: 20, message: 'no sweep at the expiry' })
    calls.length = 0
    assert.equal((await ask(b, 'acquire', 4, '2'.repeat(32))).t, 'granted')
    // Before the grant: the expired lease is still the one in the file (the gate refuses it).
    assert.deepEqual(calls[0], { ended: [`3:${'1'.repeat(32)}`], keep: null, fileLease: `3:${'1'.repeat(32)}` })
    calls.length = 0
    // The same holder replaces its live lease with a new id: the old id's processes go, the new id's stay.
    assert.equal((await ask(b, 'acquire', 4, '3'.repeat(32))).t, 'granted')
    assert.equal(calls.length, 1)
    assert.equal(calls[0]?.keep, `4:${'3'.repeat(32)}`)
    assert.equal(calls[0]?.fileLease, `4:${'3'.repeat(32)}`)
    assert.ok(calls[0]?.ended.includes(`4:${'2'.repeat(32)}`))
  })

  it('a refused claim sweeps nothing while a lease is live', async () => {
    assert.equal((await ask(a, 'acquire', 3, '1'.repeat(32))).t, 'granted')
    assert.equal((await ask(b, 'acquire', 4, '2'.repeat(32))).t, 'refused')
    assert.deepEqual(calls, [])
  })
})
