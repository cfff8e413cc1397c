// The replication protocol between real libp2p nodes on loopback and real LevelDB stores: the
// manager's Replicator on one node, a Replica on another, and a third node with the cluster
// secret that is not the manager. The election is a plain value here (who is manager, which
// epoch): the multi-agent suite (replication.test.ts) covers real elections and failover.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { pino } from 'pino'
import { createClusterNode, type ClusterNode } from '../../agent/libp2p/create-node.js'
import { Replica } from '../../agent/replica/replica.js'
import { generateSecret } from '../../agent/transport/secret.js'
import { Replicator } from '../../manager/replication/replicator.js'
import { ManagerStore } from '../../manager/store/index.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { Member } from '../../protocol/members.js'
import { waitFor } from '../harness/poll.js'
import { tempDir } from '../unit/manager/store/fixture.js'

const silent = pino({ level: 'silent' })

function member (node: ClusterNode, eligible = true): Member {
  return { name: node.peerId.toString().slice(-6), peerId: node.peerId.toString(), addresses: [], status: 'alive', incarnation: 1, labels: {}, facts: null, managerEligible: eligible, lastSeen: new Date().toISOString() }
}

describe('replication protocol (real libp2p, real LevelDB)', () => {
  const psk = generateSecret()
  let a: ClusterNode // manager
  let b: ClusterNode // replica
  let c: ClusterNode // a peer with the secret that is not the manager
  let dirs: Array<Awaited<ReturnType<typeof tempDir>>>
  let managerInfo: ManagerInfo | null
  let replica: Replica
  let replicaLog: string[]
  let members: Member[]

  const newNode = async (): Promise<ClusterNode> => await createClusterNode({ privateKey: await generateKeyPair('Ed25519'), psk, listen: '/ip4/127.0.0.1/tcp/0', announce: [] })
  const managerStore = (path: string, replicator: () => Replicator): ManagerStore =>
    new ManagerStore({ logger: silent, afterCommit: async batch => { await replicator().replicate(batch) } }, { path })

  before(async () => {
    a = await newNode()
    b = await newNode()
    c = await newNode()
    await a.dial(b.getMultiaddrs())
    await c.dial(b.getMultiaddrs())
    dirs = [await tempDir(), await tempDir(), await tempDir()]
    managerInfo = { name: 'a', peerId: a.peerId.toString(), epoch: 3, since: new Date().toISOString(), local: false }
    replicaLog = []
    const logger = pino({ level: 'info' }, { write: (line: string) => { replicaLog.push(line) } })
    const replicaPath = dirs[1]?.path as string
    replica = new Replica({ libp2p: b, election: { manager: () => managerInfo }, logger, openStore: () => new ManagerStore({ logger: silent }, { path: replicaPath }) }, { electionWaitMs: 200 })
    await replica.start()
    members = [member(a), member(b), member(c, false)]
  })

  after(async () => {
    await replica.stop()
    await Promise.allSettled([a.stop(), b.stop(), c.stop()])
    for (const d of dirs) await d.cleanup()
  })

  it('replicates every write before acknowledging it; the replica directory then opens as a manager store with the same state', async () => {
    const replicator: Replicator = new Replicator({ libp2p: a, logger: silent, members: () => members, openSnapshot: async n => await store.openSnapshot(n), revision: () => store.revision, merge: async entries => { await store.mergeForeign(entries) } }, { selfPeerId: a.peerId.toString(), epoch: 3 })
    const store = managerStore(dirs[0]?.path as string, () => replicator)
    await store.start()
    replicator.start()
    await store.upsertNode({ name: 'n1', peerId: 'p1', reachable: true })
    assert.equal(replica.revision, store.revision, 'the first write (a snapshot: first contact this epoch) is on the replica when acknowledged')
    for (let i = 0; i < 20; i++) {
      await store.setConfig(`k${i}`, i)
      assert.equal(replica.revision, store.revision, `write ${i} acknowledged before the replica held it`)
    }
    await Promise.all(Array.from({ length: 10 }, async (_, i) => { await store.setConfig(`p${i}`, i) }))
    assert.equal(replica.revision, store.revision)
    assert.equal(replicator.acked()[b.peerId.toString()], store.revision)

    await replica.close()
    const promoted = new ManagerStore({ logger: silent }, { path: dirs[1]?.path as string })
    await promoted.start()
    assert.deepEqual(await promoted.exportAll(), await store.exportAll())
    await promoted.stop()
    await replica.open()

    // While the replica is closed/reopened it lost its sync epoch: the next write gets a gap, then a snapshot.
    await store.setConfig('after-reopen', true)
    assert.equal(replica.revision, store.revision)
    await replicator.stop()
    await store.stop()
  })

  it('a replica that missed writes catches up by the periodic snapshot, without any new write', async () => {
    const replicator: Replicator = new Replicator({ libp2p: a, logger: silent, members: () => members, openSnapshot: async n => await store.openSnapshot(n), revision: () => store.revision, merge: async entries => { await store.mergeForeign(entries) } }, { selfPeerId: a.peerId.toString(), epoch: 3, ackTimeoutMs: 300, syncIntervalMs: 200 })
    const store = managerStore(dirs[0]?.path as string, () => replicator)
    await store.start()
    await replica.close()
    const started = Date.now()
    await store.setConfig('while-down', 1) // no replica answers: acknowledged after the ack timeout, not hung
    assert.ok(Date.now() - started < 2000)
    assert.ok(replica.revision < store.revision)
    await replica.open()
    replicator.start()
    await waitFor(() => replica.revision === store.revision ? true : undefined, { timeoutMs: 10_000, message: 'replica caught up' })
    await replicator.stop()
    await store.stop()
  })

  it('with no other eligible member alive, a write is acknowledged at once', async () => {
    const alone = [member(a), { ...member(b), status: 'failed' as const }]
    const replicator: Replicator = new Replicator({ libp2p: a, logger: silent, members: () => alone, openSnapshot: async n => await store.openSnapshot(n), revision: () => store.revision, merge: async entries => { await store.mergeForeign(entries) } }, { selfPeerId: a.peerId.toString(), epoch: 3, ackTimeoutMs: 5000 })
    const store = managerStore(dirs[0]?.path as string, () => replicator)
    await store.start()
    const started = Date.now()
    await store.setConfig('alone', 1)
    assert.ok(Date.now() - started < 1000, 'did not wait for a replica')
    await replicator.stop()
    await store.stop()
  })

  it('a peer that is not the elected manager (or uses another epoch) is refused and logged; the replica is unchanged', async () => {
    const before = replica.revision
    const rogueMembers = [member(b)]
    for (const [node, epoch] of [[c, 3], [a, 2]] as const) {
      const replicator: Replicator = new Replicator({ libp2p: node, logger: silent, members: () => rogueMembers, openSnapshot: async n => await store.openSnapshot(n), revision: () => store.revision, merge: async entries => { await store.mergeForeign(entries) } }, { selfPeerId: node.peerId.toString(), epoch, ackTimeoutMs: 1000 })
      const store = managerStore(dirs[2]?.path as string, () => replicator)
      await store.start()
      await store.setConfig('rogue', 1)
      await replicator.stop()
      await store.stop()
    }
    assert.equal(replica.revision, before)
    assert.equal(replicaLog.filter(l => /not the current manager/.test(l)).length >= 2, true, 'each refusal is logged')
  })

  it('a new manager pulls a replica that followed another lineage and merges it before its snapshot replaces it (partition heal)', async () => {
    // Side A: the epoch-3 manager on `a` writes; its replica `b` holds every write.
    managerInfo = { name: 'a', peerId: a.peerId.toString(), epoch: 3, since: new Date().toISOString(), local: false }
    const oldReplicator: Replicator = new Replicator({ libp2p: a, logger: silent, members: () => members, openSnapshot: async n => await oldStore.openSnapshot(n), revision: () => oldStore.revision, merge: async entries => { await oldStore.mergeForeign(entries) } }, { selfPeerId: a.peerId.toString(), epoch: 3 })
    const oldStore = managerStore(dirs[0]?.path as string, () => oldReplicator)
    await oldStore.start()
    oldReplicator.start()
    await oldStore.upsertNode({ name: 'side-a-node', peerId: 'pa', reachable: true })
    await oldStore.setConfig('side-a', 'acknowledged on the old side')
    assert.equal(replica.revision, oldStore.revision, 'side A writes are on the replica')
    await oldReplicator.stop()
    await oldStore.stop()

    // Side B: meanwhile an epoch-4 manager on `c` (with its own store) wrote other things.
    const dir = await tempDir()
    dirs.push(dir)
    const newMembers = [member(a, false), member(b), { ...member(c), managerEligible: true }]
    const newReplicator: Replicator = new Replicator({ libp2p: c, logger: silent, members: () => newMembers, openSnapshot: async n => await newStore.openSnapshot(n), revision: () => newStore.revision, merge: async entries => { await newStore.mergeForeign(entries) } }, { selfPeerId: c.peerId.toString(), epoch: 4, syncIntervalMs: 200 })
    const newStore = managerStore(dir.path, () => newReplicator)
    await newStore.start()
    await newStore.upsertNode({ name: 'side-b-node', peerId: 'pb', reachable: true })
    await newStore.setConfig('side-b', 'acknowledged on the new side')

    // Heal: the replica now follows epoch 4; the new manager's first contact pulls, merges, then snapshots.
    managerInfo = { name: 'c', peerId: c.peerId.toString(), epoch: 4, since: new Date().toISOString(), local: false }
    newReplicator.start()
    await newStore.setConfig('after-heal', 1)
    await waitFor(() => replica.status().syncedEpoch === 4 && replica.revision === newStore.revision ? true : undefined, { timeoutMs: 15_000, message: 'replica synced to epoch 4' })
    assert.equal(await newStore.getConfig('side-a'), 'acknowledged on the old side', 'the old side\'s acknowledged write survived the heal')
    assert.equal(await newStore.getConfig('side-b'), 'acknowledged on the new side')
    assert.equal(await newStore.getConfig('after-heal'), 1)
    assert.ok(await newStore.getNode('side-a-node'))
    assert.ok(await newStore.getNode('side-b-node'))
    assert.ok(replicaLog.some(l => /replica state pulled by the manager/.test(l)), 'the replica was pulled')
    await newReplicator.stop()
    await replica.close()
    const held = new ManagerStore({ logger: silent }, { path: dirs[1]?.path as string })
    await held.start()
    assert.deepEqual(await held.exportAll(), await newStore.exportAll(), 'the replica holds the merged state')
    await held.stop()
    await replica.open()
    await newStore.stop()
  })
})
