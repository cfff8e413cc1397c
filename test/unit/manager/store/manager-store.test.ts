import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { Level } from 'level'
import { ClusterdError } from '../../../../protocol/errors.js'
import type { ManagerStore, NodeCommand } from '../../../../manager/store/index.js'
import { assertConsistent, newStore, tempDir } from './fixture.js'

const operator = { actor: 'operator' } as const
const runner = { actor: 'job-runner' } as const

describe('ManagerStore lifecycle transitions (real LevelDB)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let store: ManagerStore

  beforeEach(async () => {
    dir = await tempDir()
    store = newStore(dir.path)
    await store.start()
  })

  afterEach(async () => {
    await store.stop()
    await dir.cleanup()
  })

  it('a discovered node gets a record and a discovered event; its own peer only updates reachability; another peer is refused', async () => {
    const first = await store.upsertNode({ name: 'n1', peerId: 'peer-a', reachable: true })
    assert.equal(first.created, true)
    assert.equal(first.record.state, 'discovered')
    assert.equal(first.event?.type, 'discovered')
    assert.equal(first.event?.from, null)
    const again = await store.upsertNode({ name: 'n1', peerId: 'peer-a', reachable: false })
    assert.equal(again.created, false)
    assert.equal(again.event, null)
    assert.equal(again.conflict, false)
    assert.equal(again.record.reachable, false)
    assert.equal(again.record.since, first.record.since, 'not a lifecycle change')
    const impostor = await store.upsertNode({ name: 'n1', peerId: 'peer-b', reachable: true })
    assert.equal(impostor.conflict, true)
    assert.equal(impostor.record.peerId, 'peer-a', 'the name stays bound to the first peer')
    assert.equal(impostor.record.reachable, false, "the impostor's reachability is not the node's")
    assert.deepEqual((await store.listEvents({ node: 'n1' })).map(e => e.type), ['discovered', 'name-conflict'])
    const unreachable = await store.setReachable('n1', true)
    assert.equal(unreachable?.reachable, true)
    assert.equal(await store.setReachable('ghost', true), undefined)
  })

  it('persists the record and its lifecycle event together, with per-node seq and global gseq', async () => {
    await store.upsertNode({ name: 'n1', peerId: 'p1', reachable: true })
    await store.upsertNode({ name: 'n2', peerId: 'p2', reachable: true })
    const r = await store.applyTransition('n1', { type: 'COMMISSION', jobId: 'j1', roles: ['web'], vars: { a: '1' } }, { actor: 'operator', reason: 'new rack' })
    assert.ok(r.ok && r.changed)
    assert.equal(r.record.state, 'commissioning')
    assert.deepEqual(r.event, {
      seq: 2, gseq: 3, node: 'n1', at: r.event.at, type: 'commission-requested', from: 'discovered', to: 'commissioning',
      reason: 'new rack', jobId: 'j1', actor: 'operator', roles: ['web'], vars: { a: '1' }
    })
    const failed = await store.applyTransition('n1', { type: 'JOB_FAILED', jobId: 'j1', reason: 'unreachable' }, runner)
    assert.ok(failed.ok && failed.changed)
    assert.equal(failed.event.reason, 'unreachable', 'the job failure reason is recorded on the event')
    assert.equal(failed.record.reason, 'unreachable')
    assert.deepEqual(await store.getNode('n1'), failed.record)
    assertConsistent(await store.exportAll())
    assert.deepEqual((await store.listEvents({ node: 'n1' })).map(e => e.seq), [1, 2, 3])
    assert.deepEqual((await store.listEvents()).map(e => [e.gseq, e.node]), [[1, 'n1'], [2, 'n2'], [3, 'n1'], [4, 'n1']])
  })

  it('a refused transition or a stale job report changes nothing: records, events and revision', async () => {
    await store.upsertNode({ name: 'n1', peerId: 'p1', reachable: true })
    await store.applyTransition('n1', { type: 'COMMISSION', jobId: 'j1', roles: ['web'], vars: {} }, operator)
    const before = await store.exportAll()
    const revision = store.revision

    const refused = await store.applyTransition('n1', { type: 'DECOMMISSION', jobId: 'j2' }, operator)
    assert.equal(refused.ok, false)
    assert.equal(!refused.ok && refused.code, 'CLUSTERD_ERR_INVALID_TRANSITION')
    const stale = await store.applyTransition('n1', { type: 'JOB_SUCCEEDED', jobId: 'j0' }, runner)
    assert.ok(stale.ok && !stale.changed)
    const missing = await store.applyTransition('ghost', { type: 'UPGRADE', jobId: 'j3' }, operator)
    assert.equal(!missing.ok && missing.code, 'CLUSTERD_ERR_NODE_NOT_FOUND')
    const previewed = await store.preview('n1', { type: 'JOB_SUCCEEDED', jobId: 'j1' })
    assert.ok(previewed.ok && previewed.changed && previewed.record.state === 'commissioned')

    assert.deepEqual(await store.exportAll(), before)
    assert.equal(store.revision, revision)
    assert.equal((await store.getNode('n1'))?.state, 'commissioning')
  })

  it('keeps call order under concurrent calls: every transition lands, seqs follow call order', async () => {
    const nodes = ['a', 'b', 'c', 'd']
    await Promise.all(nodes.map(async name => await store.upsertNode({ name, peerId: `p-${name}`, reachable: true })))
    // Each node's commands only succeed if applied in exactly this order.
    const cycle = (n: string, i: number): NodeCommand[] => [
      { type: 'COMMISSION', jobId: `${n}-c${i}`, roles: ['web'], vars: {} },
      { type: 'JOB_SUCCEEDED', jobId: `${n}-c${i}` },
      { type: 'UPGRADE', jobId: `${n}-u${i}` },
      { type: 'JOB_SUCCEEDED', jobId: `${n}-u${i}` },
      { type: 'DECOMMISSION', jobId: `${n}-d${i}` },
      { type: 'JOB_SUCCEEDED', jobId: `${n}-d${i}` }
    ]
    const calls: Array<Promise<unknown>> = []
    const expectedOrder: string[] = []
    for (let i = 0; i < 10; i++) {
      const perNode = nodes.map(n => cycle(n, i))
      for (let step = 0; step < 6; step++) {
        for (const [k, n] of nodes.entries()) {
          const command = perNode[k]![step]!
          expectedOrder.push(`${n}:${command.type}:${'jobId' in command ? command.jobId : ''}`)
          calls.push(store.applyTransition(n, command, operator))
        }
      }
    }
    const results = await Promise.all(calls) as Array<{ ok: boolean, changed?: boolean }>
    assert.equal(results.filter(r => r.ok && r.changed === true).length, 240, 'every call applied')
    const log = await store.listEvents({ afterSeq: 4, limit: 10_000 })
    assert.deepEqual(log.map(e => `${e.node}:${e.type === 'job-succeeded' ? 'JOB_SUCCEEDED' : e.type.replace('-requested', '').toUpperCase()}:${e.jobId ?? ''}`), expectedOrder)
    for (const n of nodes) {
      const own = await store.listEvents({ node: n, afterSeq: 0, limit: 10_000 })
      assert.deepEqual(own.map(e => e.seq), Array.from({ length: 61 }, (_, i) => i + 1))
      assert.equal((await store.getNode(n))?.state, 'decommissioned')
    }
    assert.equal(store.revision, 4 + 240)
    assertConsistent(await store.exportAll())
  })

  it('restart restores identical state, in-flight nodes, and machines that continue where they were', async () => {
    for (const name of ['n1', 'n2', 'n3']) await store.upsertNode({ name, peerId: `p-${name}`, reachable: name !== 'n3' })
    await store.applyTransition('n1', { type: 'COMMISSION', jobId: 'j1', roles: ['web'], vars: { a: '1' } }, operator)
    await store.applyTransition('n2', { type: 'COMMISSION', jobId: 'j2', roles: ['db'], vars: {} }, operator)
    await store.applyTransition('n2', { type: 'JOB_SUCCEEDED', jobId: 'j2' }, runner)
    await store.applyTransition('n2', { type: 'UPGRADE', jobId: 'j3' }, operator)
    await store.applyTransition('n3', { type: 'SET_VARS', vars: { zone: 'b' } }, operator)
    await store.setConfig('autoCommission', { enabled: true })
    const before = { export: await store.exportAll(), nodes: await store.listNodes(), revision: store.revision }

    await store.stop()
    store = newStore(dir.path)
    await store.start()

    assert.deepEqual(await store.exportAll(), before.export)
    assert.deepEqual(await store.listNodes(), before.nodes)
    assert.equal(store.revision, before.revision)
    assert.deepEqual(await store.listInFlight(), [
      { node: 'n1', state: 'commissioning', jobId: 'j1', since: before.nodes[0]!.since },
      { node: 'n2', state: 'upgrading', jobId: 'j3', since: before.nodes[1]!.since }
    ])
    const resumed = await store.applyTransition('n1', { type: 'JOB_FAILED', jobId: 'j1', reason: 'manager restarted mid-job' }, { actor: 'manager-restart' })
    assert.ok(resumed.ok && resumed.changed)
    assert.equal(resumed.record.state, 'commission-failed')
    assert.equal(resumed.event.seq, 3, 'the per-node seq continues after restart')
    assert.equal(resumed.event.gseq, before.export.filter(e => e.key.startsWith('e!')).length + 1)
    const stale = await store.applyTransition('n2', { type: 'JOB_SUCCEEDED', jobId: 'j2' }, runner)
    assert.ok(stale.ok && !stale.changed, 'restored context still knows the current job')
    assert.equal(store.revision, before.revision + 1)
  })

  it('lists the newest events without a cursor and follows from a cursor', async () => {
    await store.upsertNode({ name: 'n1', peerId: 'p1', reachable: true })
    for (let i = 0; i < 5; i++) await store.applyTransition('n1', { type: 'SET_VARS', vars: { i: String(i) } }, operator)
    assert.deepEqual((await store.listEvents({ limit: 2 })).map(e => e.gseq), [5, 6])
    assert.deepEqual((await store.listEvents({ afterSeq: 2, limit: 2 })).map(e => e.gseq), [3, 4])
    assert.deepEqual((await store.listEvents({ node: 'n1', afterSeq: 5 })).map(e => e.seq), [6])
  })

  it('a failed write is never acknowledged, the store refuses later writes, and a restart shows only acknowledged state', async () => {
    await store.upsertNode({ name: 'n1', peerId: 'p1', reachable: true })
    const acknowledged = await store.exportAll()
    // Pull the database out from under the store to make the next batch fail.
    await (store as unknown as { db: Level<string, string> }).db.close()
    await assert.rejects(store.applyTransition('n1', { type: 'COMMISSION', jobId: 'j1', roles: [], vars: {} }, operator),
      (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_STORE_UNAVAILABLE')
    await assert.rejects(store.setReachable('n1', false), (err: unknown) => err instanceof ClusterdError)
    assert.equal((await store.getNode('n1'))?.state, 'discovered', 'reads show only durable state')
    await store.stop()
    store = newStore(dir.path)
    await store.start()
    assert.deepEqual(await store.exportAll(), acknowledged)
  })

  it('refuses calls before start and after stop with a clear error', async () => {
    await store.stop()
    await assert.rejects(store.applyTransition('n1', { type: 'UPGRADE', jobId: 'j' }, operator),
      (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_UNAVAILABLE')
    await store.start()
  })
})
