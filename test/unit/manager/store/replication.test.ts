import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { pino } from 'pino'
import { ManagerStore } from '../../../../manager/store/index.js'
import type { ReplicationBatch } from '../../../../protocol/replication-wire.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import { fakeClock, job, newStore, tempDir } from './fixture.js'

const silent = pino({ level: 'silent' })

/** A manager-mode store that records every committed batch. */
function recordingStore (path: string, hook?: (batch: ReplicationBatch) => Promise<void>): { store: ManagerStore, batches: ReplicationBatch[] } {
  const batches: ReplicationBatch[] = []
  const store = new ManagerStore({
    logger: silent,
    now: fakeClock(),
    afterCommit: async batch => {
      batches.push(structuredClone(batch))
      await hook?.(batch)
    }
  }, { path })
  return { store, batches }
}

/** Some writes of every kind: nodes, transitions, jobs and job events, config set and delete. */
async function writeSome (store: ManagerStore): Promise<void> {
  await store.upsertNode({ name: 'n1', peerId: 'p1', reachable: true })
  await store.upsertNode({ name: 'n2', peerId: 'p2', reachable: true })
  await store.applyTransition('n1', { type: 'COMMISSION', jobId: 'j1', roles: ['web'], vars: {} }, { actor: 'operator' })
  await store.putJob(job('j1', ['n1']))
  await store.appendJobEvents('j1', [{ kind: 'status', message: 'started' } as never])
  await store.setConfig('job-timeout', '900')
  await store.setConfig('scratch', 'x')
  await store.setConfig('scratch', undefined)
  await store.setReachable('n2', false)
}

describe('ManagerStore replication hooks and replica mode (real LevelDB)', () => {
  let primaryDir: Awaited<ReturnType<typeof tempDir>>
  let replicaDir: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => {
    primaryDir = await tempDir()
    replicaDir = await tempDir()
  })

  afterEach(async () => {
    await primaryDir.cleanup()
    await replicaDir.cleanup()
  })

  it('afterCommit sees every durable write as raw ops, in revision order, one revision each', async () => {
    const { store, batches } = recordingStore(primaryDir.path)
    await store.start()
    await Promise.all([store.setConfig('a', 1), store.setConfig('b', 2), store.setConfig('c', 3)])
    await writeSome(store)
    assert.deepEqual(batches.map(b => b.revision), Array.from({ length: store.revision }, (_, i) => i + 1))
    assert.ok(batches[0]?.ops.some(op => op.type === 'put' && op.key === 'c!a' && op.value === '1'))
    assert.ok(batches.some(b => b.ops.some(op => op.type === 'del' && op.key === 'c!scratch')))
    await store.stop()
  })

  it('a write is acknowledged only once afterCommit settles; a failing hook does not fail the write', async () => {
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    let calls = 0
    const { store } = recordingStore(primaryDir.path, async () => {
      calls++
      if (calls === 1) await gate
      if (calls === 2) throw new Error('replica unreachable')
    })
    await store.start()
    let acked = false
    const write = store.setConfig('k', 'v').then(() => { acked = true })
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.equal(calls, 1)
    assert.equal(acked, false, 'not acknowledged while the hook is pending')
    assert.equal(await store.getConfig('k'), 'v', 'but already durable and readable locally')
    release()
    await write
    assert.equal(acked, true)
    await store.setConfig('k2', 'v2') // hook throws: still resolves
    assert.equal(await store.getConfig('k2'), 'v2')
    await store.stop()
  })

  it('a replica fed the batches holds the same state, and a manager-mode start on its directory sees all of it', async () => {
    const { store: primary, batches } = recordingStore(primaryDir.path)
    await primary.start()
    await writeSome(primary)
    const replica = newStore(replicaDir.path)
    await replica.start()
    for (const b of batches) assert.deepEqual(await replica.applyReplicated(b), { ok: true, revision: b.revision })
    assert.equal(replica.revision, primary.revision)
    assert.deepEqual(await replica.allConfig(), { 'job-timeout': '900' })
    assert.deepEqual(await replica.listNodes(), await primary.listNodes())
    await replica.stop()

    const promoted = newStore(replicaDir.path)
    await promoted.start()
    assert.equal(promoted.revision, primary.revision)
    assert.deepEqual(await promoted.exportAll(), await primary.exportAll())
    assert.deepEqual(await promoted.listEvents(), await primary.listEvents())
    assert.deepEqual(await promoted.listJobEvents('j1'), await primary.listJobEvents('j1'))
    // The promoted store carries on writing from there.
    const next = await promoted.applyTransition('n1', { type: 'JOB_SUCCEEDED', jobId: 'j1' }, { actor: 'job-runner' })
    assert.ok(next.ok && next.changed)
    assert.equal(next.event.gseq, 4)
    assert.deepEqual((await promoted.appendJobEvents('j1', [{ kind: 'status', message: 'done' } as never]))[0]?.seq, 2)
    await promoted.stop()
    await primary.stop()
  })

  it('a batch that does not directly follow the revision is a gap and writes nothing; a snapshot catches up', async () => {
    const { store: primary, batches } = recordingStore(primaryDir.path)
    await primary.start()
    await writeSome(primary)
    const replica = newStore(replicaDir.path)
    await replica.start()
    assert.deepEqual(await replica.applyReplicated(batches[0] as ReplicationBatch), { ok: true, revision: 1 })
    assert.deepEqual(await replica.applyReplicated(batches[2] as ReplicationBatch), { gap: true, revision: 1 })
    assert.deepEqual(await replica.applyReplicated(batches[0] as ReplicationBatch), { gap: true, revision: 1 }, 'a replay is a gap too')
    assert.equal(replica.revision, 1)
    assert.equal((await replica.listNodes()).length, 1)

    const { revision } = await replica.importAll(await primary.exportAll())
    assert.equal(revision, primary.revision)
    await primary.setConfig('after-snapshot', true)
    const last = batches.at(-1) as ReplicationBatch
    assert.deepEqual(await replica.applyReplicated(last), { ok: true, revision: last.revision })
    await replica.stop()
    const reopened = newStore(replicaDir.path)
    await reopened.start()
    assert.deepEqual(await reopened.exportAll(), await primary.exportAll())
    await reopened.stop()
    await primary.stop()
  })

  it('a snapshot at a lower revision replaces a replica that was ahead (another lineage), and its restart accepts it', async () => {
    const replica = newStore(replicaDir.path)
    await replica.start()
    for (let i = 0; i < 5; i++) await replica.setConfig(`old-${i}`, i)
    const primary = newStore(primaryDir.path)
    await primary.start()
    await primary.setConfig('new', 1)
    assert.deepEqual(await replica.importAll(await primary.exportAll()), { revision: 1 })
    await replica.stop()
    const reopened = newStore(replicaDir.path)
    await reopened.start() // the revision marker was rewritten: no "lost writes" error
    assert.deepEqual(await reopened.allConfig(), { new: 1 })
    await reopened.stop()
    await primary.stop()
  })

  it('refuses a batch with keys outside the layout, bad values or forbidden deletes, writing nothing', async () => {
    const replica = newStore(replicaDir.path)
    await replica.start()
    const bad: ReplicationBatch[] = [
      { revision: 1, ops: [{ type: 'put', key: 'zz!evil', value: '1' }] },
      { revision: 1, ops: [{ type: 'put', key: 'm!format', value: '9' }] },
      { revision: 1, ops: [{ type: 'put', key: 'c!k', value: 'not json' }] },
      { revision: 1, ops: [{ type: 'put', key: 'n!x', value: '{"record":{}}' }] },
      { revision: 1, ops: [{ type: 'del', key: 'n!x' }] },
      { revision: 1, ops: [{ type: 'del', key: 'm!gseq' }] }
    ]
    for (const b of bad) {
      await assert.rejects(replica.applyReplicated(b), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_INVALID_ARGUMENT')
    }
    assert.equal(replica.revision, 0)
    assert.deepEqual(await replica.allConfig(), {})
    await replica.stop()
  })
})
