// Name bindings in the manager store (real LevelDB): conflicts recorded once, rebind moves the
// name and keeps the node, forget removes the record and keeps its history (also across a
// restart, on a replica and through a partition merge), and a later discovery continues the log.

import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { pino } from 'pino'
import { ManagerStore } from '../../../../manager/store/index.js'
import { checkReplicated } from '../../../../manager/store/replicated.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import { MAX_NAME_CONFLICTS } from '../../../../protocol/nodes.js'
import type { ReplicationBatch } from '../../../../protocol/replication-wire.js'
import { assertConsistent, fakeClock, newStore, tempDir } from './fixture.js'

const operator = { actor: 'operator' } as const

describe('ManagerStore name bindings (real LevelDB)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let store: ManagerStore

  beforeEach(async () => {
    dir = await tempDir()
    store = newStore(dir.path)
    await store.start()
    await store.upsertNode({ name: 'db1', peerId: 'peer-a', reachable: true, boot: { id: 'boot-a', agentStartedAt: 't0' } })
  })

  afterEach(async () => {
    await store.stop()
    await dir.cleanup()
  })

  it("records each other claimant once with a name-conflict event, up to the cap, and never takes its reachability or boot", async () => {
    const rev = store.revision
    for (let i = 0; i < 3; i++) await store.upsertNode({ name: 'db1', peerId: 'peer-b', reachable: true, boot: { id: 'boot-b', agentStartedAt: 't9' }, returned: 'agent restarted' })
    assert.equal(store.revision, rev + 1, 'one write for three reports of the same claimant')
    for (let i = 0; i < MAX_NAME_CONFLICTS + 3; i++) await store.upsertNode({ name: 'db1', peerId: `peer-x${i}`, reachable: true })
    await store.upsertNode({ name: 'db1', peerId: 'peer-gone', reachable: false })
    const n = await store.getNode('db1')
    assert.equal(n?.peerId, 'peer-a')
    assert.deepEqual(n?.boot, { id: 'boot-a', agentStartedAt: 't0' })
    assert.equal(n?.state, 'discovered')
    assert.equal(n?.nameConflicts.length, MAX_NAME_CONFLICTS)
    assert.equal(n?.nameConflicts[0]?.peerId, 'peer-b')
    const conflicts = (await store.listEvents({ node: 'db1' })).filter(e => e.type === 'name-conflict')
    assert.equal(conflicts.length, MAX_NAME_CONFLICTS)
    assert.equal(conflicts[0]?.peerId, 'peer-b')
    assert.match(conflicts[0]?.reason ?? '', /peer-b claims the name, which is bound to peer peer-a/)
    assertConsistent(await store.exportAll())
  })

  it('rebind moves the name and keeps state, roles and vars; rebinding to the bound peer clears the conflicts', async () => {
    await store.applyTransition('db1', { type: 'COMMISSION', jobId: 'j1', roles: ['web'], vars: { a: '1' } }, operator)
    await assert.rejects(store.rebindNode('db1', { peerId: 'peer-b', reachable: true, actor: 'operator' }),
      (err: ClusterdError) => err.code === 'CLUSTERD_ERR_NODE_BUSY', 'not while a lifecycle job runs')
    await store.applyTransition('db1', { type: 'JOB_SUCCEEDED', jobId: 'j1' }, { actor: 'job-runner' })
    await store.upsertNode({ name: 'db1', peerId: 'peer-b', reachable: true })
    await store.upsertNode({ name: 'db1', peerId: 'peer-c', reachable: true })
    const moved = await store.rebindNode('db1', { peerId: 'peer-b', reachable: true, actor: 'operator' })
    assert.equal(moved.record.peerId, 'peer-b')
    assert.equal(moved.record.state, 'commissioned')
    assert.deepEqual(moved.record.roles, ['web'])
    assert.deepEqual(moved.record.vars, { a: '1' })
    assert.deepEqual(moved.record.nameConflicts.map(c => c.peerId), ['peer-c'])
    assert.equal(moved.event.type, 'rebound')
    assert.equal(moved.event.peerId, 'peer-b')
    assert.equal(moved.event.previousPeerId, 'peer-a')
    // The old peer is now the stranger: its claim is refused like any other.
    assert.equal((await store.upsertNode({ name: 'db1', peerId: 'peer-a', reachable: true })).conflict, true)
    const kept = await store.rebindNode('db1', { peerId: 'peer-b', reachable: true, actor: 'operator' })
    assert.deepEqual(kept.record.nameConflicts, [])
    await assert.rejects(store.rebindNode('nope', { peerId: 'peer-b', reachable: true, actor: 'operator' }), (err: ClusterdError) => err.code === 'CLUSTERD_ERR_NODE_NOT_FOUND')
    assertConsistent(await store.exportAll())
  })

  it('forget removes the record and keeps its history; a later discovery continues the log, also after a restart', async () => {
    await store.upsertNode({ name: 'db2', peerId: 'peer-d', reachable: true })
    await store.applyTransition('db1', { type: 'COMMISSION', jobId: 'j1', roles: ['web'], vars: {} }, operator)
    await assert.rejects(store.forgetNode('db1', operator), (err: ClusterdError) => err.code === 'CLUSTERD_ERR_NODE_BUSY')
    await store.applyTransition('db1', { type: 'JOB_FAILED', jobId: 'j1', reason: 'boom' }, { actor: 'job-runner' })
    const forgot = await store.forgetNode('db1', operator)
    assert.equal(forgot.record.state, 'commission-failed', 'the record as it was')
    assert.equal(forgot.event.type, 'forgotten')
    assert.equal(forgot.event.peerId, 'peer-a')
    assert.equal(await store.getNode('db1'), undefined)
    assert.deepEqual((await store.listNodes()).map(n => n.name), ['db2'])
    assert.deepEqual((await store.pageNodes({ limit: 10 })).items.map(n => n.name), ['db2'])
    const history = await store.listEvents({ node: 'db1' })
    assert.deepEqual(history.map(e => e.type), ['discovered', 'commission-requested', 'job-failed', 'forgotten'])
    assertConsistent(await store.exportAll())

    await store.stop()
    store = newStore(dir.path)
    await store.start()
    assert.equal(await store.getNode('db1'), undefined, 'the forget is durable')
    const again = await store.upsertNode({ name: 'db1', peerId: 'peer-new', reachable: true })
    assert.equal(again.created, true)
    assert.equal(again.record.peerId, 'peer-new', 'a forgotten name goes to its next claimant')
    assert.equal(again.record.state, 'discovered')
    assert.deepEqual(again.record.roles, [])
    assert.deepEqual((await store.listEvents({ node: 'db1' })).map(e => [e.seq, e.type]),
      [[1, 'discovered'], [2, 'commission-requested'], [3, 'job-failed'], [4, 'forgotten'], [5, 'discovered']])
    assertConsistent(await store.exportAll())
  })

  it('forget and rediscovery in one process continue the log before the forget is flushed', async () => {
    const [, again] = await Promise.all([store.forgetNode('db1', operator), store.upsertNode({ name: 'db1', peerId: 'peer-b', reachable: true })])
    assert.equal(again.created, true)
    assert.deepEqual((await store.listEvents({ node: 'db1' })).map(e => e.seq), [1, 2, 3])
    assertConsistent(await store.exportAll())
  })
})

describe('forget on a replica and through a merge (real LevelDB)', () => {
  const dirs: Array<Awaited<ReturnType<typeof tempDir>>> = []
  const stores: ManagerStore[] = []

  afterEach(async () => {
    for (const s of stores.splice(0)) await s.stop()
    for (const d of dirs.splice(0)) await d.cleanup()
  })

  async function open (afterCommit?: (b: ReplicationBatch) => Promise<void>): Promise<ManagerStore> {
    const d = await tempDir()
    dirs.push(d)
    const s = afterCommit === undefined ? newStore(d.path) : new ManagerStore({ logger: pino({ level: 'silent' }), now: fakeClock(), afterCommit }, { path: d.path })
    await s.start()
    stores.push(s)
    return s
  }

  it('a replica applies the forget (record gone, history kept) and refuses a node delete without its forgotten event', async () => {
    const batches: ReplicationBatch[] = []
    const manager = await open(async b => { batches.push(structuredClone(b)) })
    const replica = await open()
    await manager.upsertNode({ name: 'db1', peerId: 'peer-a', reachable: false })
    await manager.upsertNode({ name: 'db2', peerId: 'peer-b', reachable: true })
    await manager.forgetNode('db1', operator)
    for (const b of batches) assert.deepEqual(await replica.applyReplicated(b), { ok: true, revision: b.revision })
    assert.equal(await replica.getNode('db1'), undefined)
    assert.deepEqual((await replica.listNodes()).map(n => n.name), ['db2'])
    assert.deepEqual((await replica.listEvents({ node: 'db1' })).map(e => e.type), ['discovered', 'forgotten'])
    assert.deepEqual(await replica.exportAll(), await manager.exportAll())
    const sneaky: ReplicationBatch = { revision: manager.revision + 1, ops: [{ type: 'del', key: 'n!db2' }] }
    assert.throws(() => checkReplicated(sneaky), /deleting node db2 without its forgotten event/)
  })

  it('a merge does not bring back a node this side forgot, unless the other side changed it later', async () => {
    const survivor = await open()
    await survivor.upsertNode({ name: 'db1', peerId: 'peer-a', reachable: false })
    await survivor.upsertNode({ name: 'db3', peerId: 'peer-c', reachable: false })
    const other = await open()
    await other.importAll(await survivor.exportAll())
    await survivor.forgetNode('db1', operator)
    await survivor.forgetNode('db3', operator)
    // The other side, later: it commissioned db3 after our forget.
    await new Promise(resolve => setTimeout(resolve, 5))
    const later = new Date(Date.now() + 60_000).toISOString()
    const theirs = (await other.exportAll()).map(e => e)
    const report = await survivor.mergeForeign(theirs)
    assert.deepEqual(report.nodesAdded, [], 'a forget stands against an older view of the node')
    assert.equal(await survivor.getNode('db1'), undefined)
    await other.applyTransition('db3', { type: 'COMMISSION', jobId: 'j3', roles: ['web'], vars: {} }, operator)
    const newer = (await other.exportAll()).map(e => e.key.startsWith('x!db3!') || e.key.startsWith('e!') ? { ...e, value: { ...(e.value as object), at: (e.value as { type: string }).type === 'commission-requested' ? later : (e.value as { at: string }).at } } : e)
    const report2 = await survivor.mergeForeign(newer)
    assert.deepEqual(report2.nodesAdded, ['db3'])
    assert.deepEqual((await survivor.listEvents({ node: 'db3' })).map(e => [e.seq, e.type]), [[1, 'discovered'], [2, 'forgotten'], [3, 'commission-requested']])
    assertConsistent(await survivor.exportAll())
  })

  it('higher epochs win against a forget too: a lower epoch\'s later change does not undo it, a higher epoch\'s earlier one does', async () => {
    const at = (iso: string): () => Date => fakeClock(Date.parse(iso))
    const epochStore = async (epoch: number, now: () => Date): Promise<ManagerStore> => {
      const d = await tempDir()
      dirs.push(d)
      const s = new ManagerStore({ logger: pino({ level: 'silent' }), now }, { path: d.path, epoch })
      await s.start()
      stores.push(s)
      return s
    }
    const base = await open()
    await base.upsertNode({ name: 'db1', peerId: 'peer-a', reachable: false })
    await base.upsertNode({ name: 'db2', peerId: 'peer-b', reachable: false })
    // The survivor (epoch 5) forgets both at 10:00.
    const survivor = await epochStore(5, at('2026-06-01T10:00:00.000Z'))
    await survivor.importAll(await base.exportAll())
    // A deposed side (epoch 4) changed db1 after the forget (11:00): the forget stands.
    const deposed = await epochStore(4, at('2026-06-01T11:00:00.000Z'))
    await deposed.importAll(await base.exportAll())
    await deposed.applyTransition('db1', { type: 'COMMISSION', jobId: 'j1', roles: ['web'], vars: {} }, operator)
    // A newer side (epoch 6) changed db2 before the forget (09:00): its change stands.
    const newer = await epochStore(6, at('2026-06-01T09:00:00.000Z'))
    await newer.importAll(await base.exportAll())
    await newer.applyTransition('db2', { type: 'COMMISSION', jobId: 'j2', roles: ['web'], vars: {} }, operator)
    await survivor.forgetNode('db1', operator)
    await survivor.forgetNode('db2', operator)
    assert.deepEqual((await survivor.mergeForeign(await deposed.exportAll())).nodesAdded, [], 'a lower epoch does not bring back a forgotten node, however late')
    assert.equal(await survivor.getNode('db1'), undefined)
    assert.deepEqual((await survivor.mergeForeign(await newer.exportAll())).nodesAdded, ['db2'], 'a higher epoch does, however early')
    assert.equal((await survivor.getNode('db2'))?.state, 'commissioning')
    assert.deepEqual((await survivor.listEvents({ node: 'db2' })).map(e => [e.seq, e.type, e.epoch]), [[1, 'discovered', undefined], [2, 'forgotten', 5], [3, 'commission-requested', 6]])
    assertConsistent(await survivor.exportAll())
  })
})
