// The replication protocol between real libp2p nodes on loopback and real LevelDB stores: the
// manager's Replicator on one node, a Replica on another, and a third node with the cluster
// secret that is not the manager. The election is a plain value here (who is manager, which
// epoch): the multi-agent suite (replication.test.ts) covers real elections and failover.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { pino } from 'pino'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { createClusterNode, type ClusterNode } from '../../agent/libp2p/create-node.js'
import { Replica } from '../../agent/replica/replica.js'
import { generateSecret } from '../../agent/transport/secret.js'
import { Replicator } from '../../manager/replication/replicator.js'
import { StallWatch } from '../../protocol/stall-watch.js'
import { ManagerStore } from '../../manager/store/index.js'
import { writeUnacked } from '../../manager/store/unacked.js'
import type { NewerEpoch } from '../../manager/replication/replicator-contract.js'
import { ClusterdError } from '../../protocol/errors.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { Member } from '../../protocol/members.js'
import { REPLICATE_PROTOCOL, REPLICATION_FRAME_MAX_BYTES } from '../../protocol/replication-wire.js'
import { waitFor } from '../harness/poll.js'
import { tempDir } from '../unit/manager/store/fixture.js'

const silent = pino({ level: 'silent' })

function member (node: ClusterNode, eligible = true): Member {
  return { name: node.peerId.toString().slice(-6), peerId: node.peerId.toString(), addresses: [], status: 'alive', incarnation: 1, labels: {}, facts: null, boot: null, managerEligible: eligible, lastSeen: new Date().toISOString() }
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
  it('a replaced manager: the replica answers stale, the write fails with CLUSTERD_ERR_MANAGER_CHANGED (not acknowledged alone), and so does every later one', async () => {
    const d = await newNode()
    const dd = await tempDir()
    const de = await tempDir()
    dirs.push(dd, de)
    await a.dial(d.getMultiaddrs())
    // d's election knows epoch 5 and its manager c; `a` still believes it is manager of epoch 4.
    const info: ManagerInfo = { name: 'c', peerId: c.peerId.toString(), epoch: 5, since: new Date().toISOString(), local: false }
    const lines: string[] = []
    const staleReplica = new Replica({ libp2p: d, election: { manager: () => info, epoch: 5 }, logger: pino({ level: 'info' }, { write: (l: string) => { lines.push(l) } }), openStore: () => new ManagerStore({ logger: silent }, { path: dd.path }) }, { electionWaitMs: 200 })
    await staleReplica.start()
    const deposed: NewerEpoch[] = []
    const unacked: string[][] = []
    const replicator: Replicator = new Replicator({
      libp2p: a,
      logger: silent,
      members: () => [member(d)],
      openSnapshot: async n => await store.openSnapshot(n),
      revision: () => store.revision,
      merge: async entries => { await store.mergeForeign(entries) },
      onDeposed: news => { deposed.push(news) },
      onUnacked: keys => { unacked.push(keys) }
    }, { selfPeerId: a.peerId.toString(), epoch: 4, ackTimeoutMs: 1000 })
    const store = managerStore(de.path, () => replicator)
    try {
      await store.start()
      await assert.rejects(store.setConfig('late', 1), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_MANAGER_CHANGED' && /epoch 4\) was replaced by epoch 5/.test(err.message))
      assert.deepEqual(deposed, [{ epoch: 5, manager: c.peerId.toString(), replica: d.peerId.toString() }])
      assert.deepEqual(unacked, [['c!late', 'cm!late']], 'the keys of the refused write are reported as late writes')
      assert.equal(replicator.stats().underReplicated, 0, 'not counted as acknowledged alone')
      // Every later write fails at once, with no replica asked.
      await assert.rejects(store.setConfig('later', 2), { code: 'CLUSTERD_ERR_MANAGER_CHANGED' })
      assert.equal(deposed.length, 1, 'deposed once')
      assert.equal(staleReplica.revision, 0, 'the replica wrote nothing')
      assert.ok(lines.some(l => /refused replication from a replaced manager \(stale epoch\)/.test(l)))
    } finally {
      await replicator.stop()
      await store.stop()
      await staleReplica.stop()
      await d.stop()
    }
  })

  it('a manager that stood still: a write no replica acknowledges is refused (not acknowledged alone) and it steps down; one a replica acknowledges confirms it', async () => {
    const d = await newNode()
    const dd = await tempDir()
    const de = await tempDir()
    dirs.push(dd, de)
    await a.dial(d.getMultiaddrs())
    const info: ManagerInfo = { name: 'a', peerId: a.peerId.toString(), epoch: 6, since: new Date().toISOString(), local: false }
    const own = new Replica({ libp2p: d, election: { manager: () => info, epoch: 6 }, logger: silent, openStore: () => new ManagerStore({ logger: silent }, { path: dd.path }) }, { electionWaitMs: 200 })
    await own.start()
    let t = 0
    const stalls = new StallWatch({ now: () => t, thresholdMs: 1000 })
    const unconfirmed: number[] = []
    const unacked: string[][] = []
    const replicator: Replicator = new Replicator({
      libp2p: a,
      logger: silent,
      members: () => [member(a), member(d)],
      openSnapshot: async n => await store.openSnapshot(n),
      revision: () => store.revision,
      merge: async entries => { await store.mergeForeign(entries) },
      onUnacked: keys => { unacked.push(keys) },
      stalls,
      onUnconfirmed: ms => { unconfirmed.push(ms) }
    }, { selfPeerId: a.peerId.toString(), epoch: 6, ackTimeoutMs: 1000 })
    const store = managerStore(de.path, () => replicator)
    stalls.start()
    try {
      await store.start()
      // A stall (the watch's timer runs late once), then a write the replica acknowledges: the
      // manager is confirmed and goes on.
      t += 3000
      stalls.tick()
      await store.setConfig('after-first-stall', 1)
      assert.equal(own.revision, store.revision, 'the replica acknowledged the write')
      assert.deepEqual(unconfirmed, [])
      // No stall since that ack: a write no replica answers is acknowledged alone, as before.
      await own.close()
      await store.setConfig('replica-down', 1)
      assert.equal(replicator.stats().underReplicated, 1)
      // Another stall, and no replica answers: refused, reported once, every later write refused.
      t += 5000
      stalls.tick()
      await assert.rejects(store.setConfig('after-second-stall', 1), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_MANAGER_CHANGED' && /stood still for 5\.0 s and no replica confirmed it/.test(err.message))
      assert.deepEqual(unconfirmed, [5000])
      assert.deepEqual(unacked, [['c!after-second-stall', 'cm!after-second-stall']], 'the refused write is recorded as a late write')
      assert.equal(replicator.stats().underReplicated, 1, 'not counted as acknowledged alone')
      await own.open()
      await assert.rejects(store.setConfig('later', 1), { code: 'CLUSTERD_ERR_MANAGER_CHANGED' })
      assert.equal(unconfirmed.length, 1, 'reported once')
    } finally {
      stalls.stop()
      await replicator.stop()
      await store.stop()
      await own.stop()
      await d.stop()
    }
  })

  it('a rival claimant of the same epoch: the replica names the manager its election gives that epoch, and the rival acknowledges nothing', async () => {
    const d = await newNode()
    const dd = await tempDir()
    const de = await tempDir()
    dirs.push(dd, de)
    await a.dial(d.getMultiaddrs())
    // d's election gives epoch 4 to c; `a` also claimed epoch 4 (each missed the other's claim).
    const info: ManagerInfo = { name: 'c', peerId: c.peerId.toString(), epoch: 4, since: new Date().toISOString(), local: false }
    const lines: string[] = []
    const rivals: Array<[number, string]> = []
    const rivalReplica = new Replica({ libp2p: d, election: { manager: () => info, epoch: 4, rival: (e, p) => { rivals.push([e, p]) } }, logger: pino({ level: 'info' }, { write: (l: string) => { lines.push(l) } }), openStore: () => new ManagerStore({ logger: silent }, { path: dd.path }) }, { electionWaitMs: 200 })
    await rivalReplica.start()
    const deposed: NewerEpoch[] = []
    const replicator: Replicator = new Replicator({
      libp2p: a,
      logger: silent,
      members: () => [member(d)],
      openSnapshot: async n => await store.openSnapshot(n),
      revision: () => store.revision,
      merge: async entries => { await store.mergeForeign(entries) },
      onDeposed: news => { deposed.push(news) }
    }, { selfPeerId: a.peerId.toString(), epoch: 4, ackTimeoutMs: 1000 })
    const store = managerStore(de.path, () => replicator)
    try {
      await store.start()
      await assert.rejects(store.setConfig('tie', 1), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_MANAGER_CHANGED' && /lost epoch 4 to /.test(err.message))
      assert.deepEqual(deposed, [{ epoch: 4, manager: c.peerId.toString(), replica: d.peerId.toString() }])
      assert.equal(replicator.stats().underReplicated, 0, 'not acknowledged alone')
      await assert.rejects(store.setConfig('tie2', 2), { code: 'CLUSTERD_ERR_MANAGER_CHANGED' })
      assert.equal(rivalReplica.revision, 0, 'the replica wrote nothing')
      assert.ok(lines.some(l => /refused replication from a rival claimant of the same epoch/.test(l)))
      assert.deepEqual(rivals, [], 'a replica whose agent is not the manager re-claims nothing')
    } finally {
      await replicator.stop()
      await store.stop()
      await rivalReplica.stop()
      await d.stop()
    }
  })

  it('a rival claimant replicating to the agent that holds its epoch: told stale, and that agent\'s election is told of the rival (to re-claim above it)', async () => {
    const d = await newNode()
    const de = await tempDir()
    dirs.push(de)
    await a.dial(d.getMultiaddrs())
    // d is itself the manager of epoch 6 (its replica handler is up, its store closed); `a` also claimed 6.
    const info: ManagerInfo = { name: 'd', peerId: d.peerId.toString(), epoch: 6, since: new Date().toISOString(), local: true }
    const rivals: Array<[number, string]> = []
    const holder = new Replica({ libp2p: d, election: { manager: () => info, epoch: 6, rival: (e, p) => { rivals.push([e, p]) } }, logger: silent, openStore: () => { throw new Error('the manager holds the store') } }, { electionWaitMs: 200 })
    await holder.start()
    const deposed: NewerEpoch[] = []
    const replicator: Replicator = new Replicator({
      libp2p: a,
      logger: silent,
      members: () => [member(d)],
      openSnapshot: async n => await store.openSnapshot(n),
      revision: () => store.revision,
      merge: async entries => { await store.mergeForeign(entries) },
      onDeposed: news => { deposed.push(news) }
    }, { selfPeerId: a.peerId.toString(), epoch: 6, ackTimeoutMs: 1000 })
    const store = managerStore(de.path, () => replicator)
    try {
      await store.start()
      await assert.rejects(store.setConfig('tie', 1), { code: 'CLUSTERD_ERR_MANAGER_CHANGED' })
      assert.deepEqual(deposed.map(n => [n.epoch, n.manager]), [[6, d.peerId.toString()]])
      assert.deepEqual(rivals, [[6, a.peerId.toString()]])
    } finally {
      await replicator.stop()
      await store.stop()
      await holder.stop()
      await d.stop()
    }
  })

  it('a replica that holds a replaced manager\'s late writes names their keys when pulled', async () => {
    const d = await newNode()
    const dd = await tempDir()
    const de = await tempDir()
    dirs.push(dd, de)
    await a.dial(d.getMultiaddrs())
    // d's store: written by a replaced manager, whose last writes were never acknowledged.
    const old = new ManagerStore({ logger: silent }, { path: dd.path, epoch: 1 })
    await old.start()
    await old.setConfig('kept', 'acknowledged')
    await old.setConfig('late', 'never acknowledged')
    await old.stop()
    await writeUnacked(dd.path, { epoch: 1, newerEpoch: 6, keys: ['c!late', 'cm!late'] })
    const info: ManagerInfo = { name: 'a', peerId: a.peerId.toString(), epoch: 6, since: new Date().toISOString(), local: false }
    const r = new Replica({ libp2p: d, election: { manager: () => info, epoch: 6 }, logger: silent, openStore: () => new ManagerStore({ logger: silent }, { path: dd.path }) }, { electionWaitMs: 200 })
    await r.start()
    const seen: Array<ReadonlySet<string>> = []
    const replicator: Replicator = new Replicator({
      libp2p: a,
      logger: silent,
      members: () => [member(d)],
      openSnapshot: async n => await store.openSnapshot(n),
      revision: () => store.revision,
      merge: async (entries, _from, late) => { seen.push(late); await store.mergeForeign(entries, { unacked: late }) }
    }, { selfPeerId: a.peerId.toString(), epoch: 6, syncIntervalMs: 200 })
    const store = new ManagerStore({ logger: silent, afterCommit: async batch => { await replicator.replicate(batch) } }, { path: de.path, epoch: 6 })
    try {
      await store.start()
      replicator.start()
      await waitFor(() => r.status().syncedEpoch === 6 ? true : undefined, { timeoutMs: 15_000, message: 'the replica was pulled and synced' })
      assert.deepEqual(seen.map(x => [...x].sort()), [['c!late', 'cm!late']])
      assert.equal(await store.getConfig('kept'), 'acknowledged', 'the acknowledged write is merged')
      assert.equal(await store.getConfig('late'), undefined, 'the late write is not applied')
      await r.close()
      const { readUnacked } = await import('../../manager/store/unacked.js')
      assert.equal(await readUnacked(dd.path), null, 'the snapshot that replaced the state removed the sidecar')
    } finally {
      await replicator.stop()
      await store.stop()
      await r.stop()
      await d.stop()
    }
  })
})

describe('replication at fleet size: chunks, k acks, background catch-up, lineage (real libp2p, real LevelDB)', () => {
  const psk = generateSecret()
  const EPOCH = 3
  let nodes: ClusterNode[] // [0] the manager, [1..4] replicas
  let dirs: Array<Awaited<ReturnType<typeof tempDir>>>
  let managerInfo: ManagerInfo | null
  let replicas: Replica[]
  let logs: string[][]
  let members: Member[]
  let store: ManagerStore
  let replicator: Replicator

  const newNode = async (): Promise<ClusterNode> => await createClusterNode({ privateKey: await generateKeyPair('Ed25519'), psk, listen: '/ip4/127.0.0.1/tcp/0', announce: [] })
  const peer = (i: number): string => (nodes[i] as ClusterNode).peerId.toString()
  const revisions = (): number[] => replicas.map(r => r.revision)
  const newReplicator = (i: number, epoch: number, s: () => ManagerStore, init: Partial<ConstructorParameters<typeof Replicator>[1]> = {}, base?: () => ({ epoch: number, peerId: string, revision: number } | null)): Replicator =>
    new Replicator({
      libp2p: nodes[i] as ClusterNode,
      logger: silent,
      members: () => members.filter(m => m.peerId !== peer(i)),
      openSnapshot: async n => await s().openSnapshot(n),
      revision: () => s().revision,
      merge: async entries => { await s().mergeForeign(entries) },
      ...(base !== undefined ? { base } : {})
    }, { selfPeerId: peer(i), epoch, syncIntervalMs: 200, ...init })

  /** Send one raw request from node `i` to replica `j` and read the reply (what a replicator does, by hand). */
  const sendRaw = async (i: number, j: number, req: unknown): Promise<unknown> => {
    const stream = await (nodes[i] as ClusterNode).dialProtocol(peerIdFromString(peer(j)), REPLICATE_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: REPLICATION_FRAME_MAX_BYTES })
    await lp.write(new TextEncoder().encode(JSON.stringify(req)))
    const reply = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as unknown
    await stream.close()
    return reply
  }

  before(async () => {
    nodes = []
    for (let i = 0; i < 5; i++) nodes.push(await newNode())
    for (let i = 1; i < 5; i++) await (nodes[0] as ClusterNode).dial((nodes[i] as ClusterNode).getMultiaddrs())
    for (let i = 2; i < 5; i++) await (nodes[1] as ClusterNode).dial((nodes[i] as ClusterNode).getMultiaddrs())
    dirs = []
    for (let i = 0; i < 6; i++) dirs.push(await tempDir())
    managerInfo = { name: 'm', peerId: peer(0), epoch: EPOCH, since: new Date().toISOString(), local: false }
    replicas = []
    logs = []
    for (let i = 1; i < 5; i++) {
      const log: string[] = []
      logs.push(log)
      const path = dirs[i]?.path as string
      const r = new Replica({ libp2p: nodes[i] as ClusterNode, election: { manager: () => managerInfo }, logger: pino({ level: 'info' }, { write: (line: string) => { log.push(line) } }), openStore: () => new ManagerStore({ logger: silent }, { path }) }, { electionWaitMs: 200, chunkBytes: 16 * 1024 })
      await r.start()
      replicas.push(r)
    }
    members = nodes.map(n => member(n))
    store = new ManagerStore({ logger: silent, afterCommit: async batch => { await replicator.replicate(batch) } }, { path: dirs[0]?.path as string })
  })

  after(async () => {
    await replicator?.stop()
    await store.stop()
    for (const r of replicas) await r.stop()
    await Promise.allSettled(nodes.map(async n => { await n.stop() }))
    for (const d of dirs) await d.cleanup()
  })

  it('a snapshot larger than the chunk size arrives whole in several frames', async () => {
    // Written before any replica is known: the replicas only get it as a snapshot.
    const known = members
    members = []
    replicator = newReplicator(0, EPOCH, () => store, { chunkBytes: 16 * 1024 })
    await store.start()
    await store.setLineage({ epoch: EPOCH, peerId: peer(0) })
    await Promise.all(Array.from({ length: 300 }, async (_, i) => { await store.upsertNode({ name: `node-${String(i).padStart(4, '0')}`, peerId: `p${i}`, reachable: true }) }))
    members = known
    replicator.start()
    // The manager counts a snapshot when the last chunk's ack arrives, just after the replica applied it.
    await waitFor(() => revisions().every(r => r === store.revision) && replicator.stats().snapshots === 4 ? true : undefined, { timeoutMs: 20_000, message: 'every replica took the snapshot' })
    const stats = replicator.stats()
    assert.ok(stats.snapshotChunks >= 4 * 5, `several chunks each (${stats.snapshotChunks} for 4 replicas)`)
    const took = logs[0]?.map(l => JSON.parse(l) as { msg: string, chunks?: number }).find(l => l.msg === 'replica took a snapshot')
    assert.ok((took?.chunks ?? 0) >= 5, `the replica assembled ${took?.chunks ?? 0} chunks`)
    await (replicas[0] as Replica).close()
    const copy = new ManagerStore({ logger: silent }, { path: dirs[1]?.path as string })
    await copy.start()
    assert.deepEqual(await copy.exportAll(), await store.exportAll())
    await copy.stop()
    await (replicas[0] as Replica).open()
  })

  it('an interrupted or out-of-order snapshot transfer leaves the replica\'s state as it was', async () => {
    await replicator.stop()
    const before = (replicas[1] as Replica).revision
    assert.deepEqual(await sendRaw(0, 2, { t: 'chunk', epoch: EPOCH, id: 'cut', seq: 0, revision: 999, entries: [{ key: 'c!zz', value: 1 }], done: false }), { t: 'received', id: 'cut', seq: 0 })
    const skipped = await sendRaw(0, 2, { t: 'chunk', epoch: EPOCH, id: 'cut', seq: 2, revision: 999, entries: [], done: true }) as { t: string }
    assert.equal(skipped.t, 'refused')
    const foreign = await sendRaw(0, 2, { t: 'chunk', epoch: EPOCH, id: 'other', seq: 1, revision: 999, entries: [], done: true }) as { t: string }
    assert.equal(foreign.t, 'refused', 'a chunk of a transfer that never started')
    assert.equal((replicas[1] as Replica).revision, before)
    assert.equal((replicas[1] as Replica).status().syncedEpoch, EPOCH)
    replicator = newReplicator(0, EPOCH, () => store)
    replicator.start()
  })

  it('a write is acknowledged once 2 replicas (replication.acks) hold it; the others catch up by deltas in the background', async () => {
    await store.setConfig('warm-up', 1)
    await waitFor(() => revisions().every(r => r === store.revision) ? true : undefined, { timeoutMs: 10_000, message: 'all replicas in step' })
    const start = replicator.stats()
    const writes = 30
    for (let i = 0; i < writes; i++) {
      await store.setConfig(`w${i}`, i)
      const holding = revisions().filter(r => r >= store.revision).length
      assert.ok(holding >= 2, `write ${i} acknowledged when ${holding} replicas held it`)
    }
    const stats = replicator.stats()
    assert.ok(stats.writeSends - start.writeSends <= 2 * writes, `write path sent ${stats.writeSends - start.writeSends} frames for ${writes} writes to 4 replicas`)
    // Only the replicas the write path waited for announce the revisions (revision-gossip.ts).
    const acking = replicas.filter(r => r.acknowledging()).length
    assert.ok(acking >= 2 && acking < replicas.length, `${acking} of ${replicas.length} replicas count as acknowledging`)
    await waitFor(() => revisions().every(r => r === store.revision) ? true : undefined, { timeoutMs: 10_000, message: 'the other replicas caught up' })
    const background = replicator.stats().deltaSends - start.deltaSends
    assert.ok(background > 0, 'catch-up used deltas')
    assert.ok(background < writes, `writes between two catch-ups of a replica travel together (${background} background frames for ${writes} writes x 2 replicas)`)
    assert.equal(replicator.stats().snapshots, start.snapshots, 'and no snapshot')
    assert.equal(stats.underReplicated, start.underReplicated)
  })

  it('pruning goes through replication: every replica forgets the same history', async () => {
    for (let i = 0; i < 12; i++) await store.noteNode('node-0001', { type: 'drift-checked', actor: 'operator', reason: `check ${i}` })
    let cursor: { afterNode: string } | null = { afterNode: '' }
    for (let i = 0; cursor !== null && i < 100; i++) cursor = (await store.pruneStep({ jobsMaxCount: 10, jobsMaxAgeS: 86_400, eventsMaxPerNode: 3, eventsMaxAgeS: 86_400 }, cursor)).next
    assert.equal((await store.listEvents({ node: 'node-0001' })).length, 3)
    await waitFor(() => revisions().every(r => r === store.revision) ? true : undefined, { timeoutMs: 10_000, message: 'replicas caught up with the pruning' })
    await (replicas[3] as Replica).close()
    const copy = new ManagerStore({ logger: silent }, { path: dirs[4]?.path as string })
    await copy.start()
    assert.deepEqual(await copy.exportAll(), await store.exportAll())
    assert.equal((await copy.listEvents({ node: 'node-0001' })).length, 3)
    await copy.stop()
    await (replicas[3] as Replica).open() // its lineage sidecar lets it follow again without a snapshot
  })

  it('a new epoch neither pulls nor snapshots replicas of its own lineage that are not ahead (failover to replica 1)', async () => {
    await waitFor(() => revisions().every(r => r === store.revision) ? true : undefined, { timeoutMs: 10_000, message: 'replicas in step' })
    await replicator.stop()
    await store.stop()
    // Failover: node 1's replica becomes the epoch-4 manager store, as the agent's ManagerHost does.
    await (replicas[0] as Replica).stop()
    const promoted = new ManagerStore({ logger: silent, afterCommit: async batch => { await next.replicate(batch) } }, { path: dirs[1]?.path as string })
    await promoted.start()
    const lineage = await promoted.lineage()
    assert.deepEqual(lineage, { epoch: EPOCH, peerId: peer(0) })
    const base = { ...(lineage as { epoch: number, peerId: string }), revision: promoted.revision }
    await promoted.setLineage({ epoch: EPOCH + 1, peerId: peer(1) })
    members = nodes.slice(1).map(n => member(n))
    managerInfo = { name: 'r1', peerId: peer(1), epoch: EPOCH + 1, since: new Date().toISOString(), local: false }
    const next: Replicator = newReplicator(1, EPOCH + 1, () => promoted, {}, () => base)
    next.start()
    await promoted.setConfig('after-failover', true)
    const others = replicas.slice(1)
    await waitFor(() => others.every(r => r.revision === promoted.revision) ? true : undefined, { timeoutMs: 10_000, message: 'replicas follow the new manager' })
    const stats = next.stats()
    assert.equal(stats.snapshots, 0, 'no snapshot')
    assert.equal(stats.pullChunks, 3, 'one empty pull answer per replica')
    for (const log of logs.slice(1)) assert.ok(log.some(l => /holds nothing the manager lacks/.test(l)))
    await next.stop()
    await promoted.stop()
  })

  it('a manager with a store of unknown lineage pulls each replica\'s state in chunks and merges it whole', async () => {
    // Epoch 6 on node 0 with a fresh store (no lineage): every replica may hold writes it lacks.
    const fresh = new ManagerStore({ logger: silent, afterCommit: async batch => { await pulling.replicate(batch) } }, { path: dirs[5]?.path as string })
    await fresh.start()
    members = [member(nodes[0] as ClusterNode), ...nodes.slice(2).map(n => member(n))]
    managerInfo = { name: 'm', peerId: peer(0), epoch: EPOCH + 3, since: new Date().toISOString(), local: false }
    const pulling: Replicator = newReplicator(0, EPOCH + 3, () => fresh, {}, () => null)
    pulling.start()
    const others = replicas.slice(1)
    await waitFor(() => others.every(r => r.revision === fresh.revision && r.status().syncedEpoch === EPOCH + 3) ? true : undefined, { timeoutMs: 20_000, message: 'replicas merged and re-synced' })
    const stats = pulling.stats()
    assert.ok(stats.pullChunks >= 3 * 4, `each replica's state came in several chunks (${stats.pullChunks})`)
    assert.equal((await fresh.listNodes()).length, 300, 'every node of the replicas was merged')
    assert.equal(await fresh.getConfig('after-failover'), true)
    await pulling.stop()
    await fresh.stop()
  })
})
