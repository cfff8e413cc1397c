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
import { sealEnvelope } from '../../../../agent/identity/signed-envelope.js'
import { claimSigner } from '../../../../manager/fencing/claim-signer.js'
import { NodeLeases, type NodeLeasesInit } from '../../../../manager/fencing/node-leases.js'
import type { LeaseTransport } from '../../../../manager/fencing/lease-transport.js'
import { withLeases } from '../../../../manager/fencing/lease-plan.js'
import type { ManagerInfo } from '../../../../protocol/manager-wire.js'
import type { PlaybookPlan } from '../../../../manager/roles/plan.js'
import { waitFor } from '../../../harness/poll.js'

// The manager's side against a real LeaseKeeper through an in-memory transport, on short
// timings (TTL 1.5 s, renew 150 ms, self-fence 1.15 s) so expiry and self-fencing happen fast.
const logger = pino({ level: 'silent' })
const TTL = 1500
// selfFenceMs is not a multiple of anything on purpose: renewal budgets become fractional times.
const timing: Partial<NodeLeasesInit> = { renewMs: 150, selfFenceMs: 1150, busyWaitMs: 3000, unreachableWaitMs: 500, requestTimeoutMs: 300 }

describe('NodeLeases', () => {
  let dir: string
  let keeper: LeaseKeeper
  let election: { epoch: number, manager: () => ManagerInfo | null, observeEpoch: (e: number) => Promise<void>, claimEnvelope?: (peerId: string, epoch: number) => Uint8Array | undefined }
  let cut: boolean
  let sent: string[]
  let m1: PrivateKey
  let m2: PrivateKey
  const node = { name: 'web1', peerId: 'node-peer' }
  const transport = (key: PrivateKey): LeaseTransport => async (_peer, req, signal) => {
    sent.push(`${req.claim.op}@${req.claim.epoch}`)
    if (cut) {
      // A ref'd timer: AbortSignal.timeout alone would let the test's event loop run dry.
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, 10_000)
        signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
      })
      return { t: 'error', message: 'timeout' }
    }
    return await keeper.handle(req, peerIdFromPrivateKey(key).toString())
  }
  const leases = (key: PrivateKey, epoch: number): NodeLeases => new NodeLeases(
    { transport: transport(key), sign: claimSigner(key), logger },
    { epoch, selfPeerId: peerIdFromPrivateKey(key).toString(), ...timing })

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'node-leases-'))
    election = { epoch: 1, manager: () => null, observeEpoch: async e => { election.epoch = Math.max(election.epoch, e) } }
    keeper = new LeaseKeeper({ libp2p: { handle: async () => {}, unhandle: async () => {} }, election, logger }, { nodeName: 'web1', leaseFile: join(dir, 'lease.json'), ttlMs: TTL })
    await keeper.start()
    cut = false
    sent = []
    m1 = await generateKeyPair('Ed25519')
    m2 = await generateKeyPair('Ed25519')
  })
  afterEach(async () => { cut = false; await keeper.stop(); await rm(dir, { recursive: true, force: true }) })

  it('holds a lease beyond its TTL by renewing it, and release frees the node', async () => {
    const got = await leases(m1, 1).acquire(node, new AbortController().signal)
    assert.ok(got.ok)
    await new Promise(resolve => setTimeout(resolve, 3 * TTL))
    assert.equal(got.lease.signal.aborted, false)
    assert.equal(keeper.leaseStatus().lease?.live, true)
    // On cadence: at least half of the renewals due in that time reached the node (none failed locally).
    const due = Math.floor(3 * TTL / (timing.renewMs as number))
    assert.ok(sent.filter(s => s === 'renew@1').length >= due / 2, `${sent.filter(s => s === 'renew@1').length} of ${due} renewals sent`)
    await got.lease.release()
    assert.equal(keeper.leaseStatus().lease, null)
  })

  it('a stale epoch fails at once with CLUSTERD_ERR_STALE_EPOCH', async () => {
    election.epoch = 2
    const got = await leases(m1, 1).acquire(node, new AbortController().signal)
    assert.equal(got.ok, false)
    assert.equal(!got.ok && got.code, 'CLUSTERD_ERR_STALE_EPOCH')
  })

  it('a node that names a higher epoch tells the manager it was replaced (acquire and renewal)', async () => {
    const heard: number[] = []
    const told = (key: PrivateKey, epoch: number): NodeLeases => new NodeLeases(
      { transport: transport(key), sign: claimSigner(key), logger, onNewerEpoch: e => { heard.push(e) } },
      { epoch, selfPeerId: peerIdFromPrivateKey(key).toString(), ...timing })
    const first = await told(m1, 1).acquire(node, new AbortController().signal)
    assert.ok(first.ok)
    assert.deepEqual(heard, [], 'a grant says nothing')
    election.epoch = 3
    await waitFor(() => first.lease.signal.aborted ? true : undefined, { timeoutMs: 3000, message: 'renewal refused' })
    assert.ok(heard.length >= 1 && heard.every(e => e === 3), `renewal refusal named epoch 3: ${JSON.stringify(heard)}`)
    heard.length = 0
    const again = await told(m1, 1).acquire(node, new AbortController().signal)
    assert.equal(again.ok, false)
    assert.deepEqual(heard, [3])
    await first.lease.release()
  })

  it('a node whose election gives our epoch to another manager refuses us and hands over that manager\'s signed claim', async () => {
    const m2Id = peerIdFromPrivateKey(m2).toString()
    const m2Claim = sealEnvelope(m2, new TextEncoder().encode(JSON.stringify({ t: 'claim', epoch: 1, peerId: m2Id, name: 'm2', since: new Date().toISOString(), revision: 0 })))
    election.manager = () => ({ name: 'm2', peerId: m2Id, epoch: 1, since: new Date().toISOString(), local: false })
    const heard: Array<{ claim: Uint8Array, node: string }> = []
    const newer: number[] = []
    const told = new NodeLeases(
      { transport: transport(m1), sign: claimSigner(m1), logger, onNewerEpoch: e => { newer.push(e) }, onRivalClaim: (claim, from) => { heard.push({ claim, node: from }) } },
      { epoch: 1, selfPeerId: peerIdFromPrivateKey(m1).toString(), ...timing })
    // An agent without the claim at hand (or an older one) refuses without it: nothing to verify.
    const bare = await told.acquire(node, new AbortController().signal)
    assert.equal(!bare.ok && bare.code, 'CLUSTERD_ERR_LEASE_REFUSED')
    assert.equal(heard.length, 0, "no claim: nothing to verify")
    election.claimEnvelope = (peerId, epoch) => peerId === m2Id && epoch === 1 ? m2Claim : undefined
    const got = await told.acquire(node, new AbortController().signal)
    assert.equal(got.ok, false)
    assert.equal(!got.ok && got.code, 'CLUSTERD_ERR_LEASE_REFUSED')
    assert.match(!got.ok ? got.message : '', /epoch 1 belongs to manager/)
    assert.equal(heard.length, 1)
    assert.deepEqual(heard[0]?.claim, m2Claim, 'the exact signed bytes, for the manager to verify')
    assert.equal(heard[0]?.node, 'web1')
    assert.deepEqual(newer, [], 'not a newer epoch: a rival of ours')
    assert.equal(keeper.leaseStatus().lease, null)
  })

  it('a newer manager waits while the older lease is live; the older one loses its lease at its next renewal and the newer gets it', async () => {
    const first = await leases(m1, 1).acquire(node, new AbortController().signal)
    assert.ok(first.ok)
    const started = Date.now()
    const second = await leases(m2, 2).acquire(node, new AbortController().signal)
    assert.ok(second.ok)
    // The first was told it is stale at its next renewal (within renewMs), long before it self-fenced.
    assert.equal(first.lease.signal.aborted, true)
    assert.match(String(first.lease.signal.reason), /^CLUSTERD_ERR_LEASE_LOST: renewal refused \(CLUSTERD_ERR_STALE_EPOCH\)/)
    // And the second got the node only once the first had given it back or it had expired.
    assert.ok(Date.now() - started >= 100, 'granted immediately although a lease was live')
    await first.lease.release()
    await second.lease.release()
  })

  it('self-fences when no renewal is confirmed for selfFenceMs, before the node could grant the lease again', async () => {
    const got = await leases(m1, 1).acquire(node, new AbortController().signal)
    assert.ok(got.ok)
    const granted = keeper.leaseStatus().lease
    cut = true
    const t0 = Date.now()
    await waitFor(() => got.lease.signal.aborted, { timeoutMs: 3000, message: 'the lease was never given up' })
    assert.match(String(got.lease.signal.reason), /^CLUSTERD_ERR_LEASE_LOST: no renewal confirmed/)
    // The node still counts the lease as live when the holder stops: the margin fencing relies on.
    assert.ok(granted !== null && Date.now() < keeper.leaseStatus().lease!.expiresAt, `self-fenced ${Date.now() - t0} ms after the cut, after the node's expiry`)
    await got.lease.release()
  })

  it('an agent that never answers fails the acquisition as unreachable with CLUSTERD_ERR_LEASE_REFUSED', async () => {
    cut = true
    const got = await leases(m1, 1).acquire(node, new AbortController().signal)
    assert.equal(got.ok, false)
    assert.equal(!got.ok && got.code, 'CLUSTERD_ERR_LEASE_REFUSED')
    assert.equal(!got.ok && got.unreachable, true)
  })

  it('a fenced plan keeps only leased hosts, adds no playbook, and has each host present its lease to the gate', () => {
    const plan: PlaybookPlan = {
      kind: 'commission', cluster: 'c', playbooks: ['/p/base.yml', '/p/worker.yml'],
      hosts: [{ name: 'web1', address: '10.0.0.1', hostKeys: [], roles: ['base'], vars: { a: '1' } }, { name: 'web2', address: '10.0.0.2', hostKeys: [], roles: ['base'], vars: {} }]
    }
    const guarded = withLeases(plan, new Map([['web1', { leaseId: 'ab'.repeat(16), epoch: 4 }]]))
    assert.deepEqual(guarded.playbooks, ['/p/base.yml', '/p/worker.yml'])
    assert.deepEqual(guarded.hosts.map(h => h.name), ['web1'])
    assert.deepEqual(guarded.hosts[0]?.sshEnv, { CLUSTERD_LEASE: `4:${'ab'.repeat(16)}` })
    assert.deepEqual(guarded.hosts[0]?.vars, { a: '1', clusterd_lease_id: 'ab'.repeat(16), clusterd_epoch: '4' })
  })
})
