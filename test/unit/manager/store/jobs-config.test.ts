import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { ClusterdError } from '../../../../protocol/errors.js'
import type { ManagerStore } from '../../../../manager/store/index.js'
import { job, newStore, tempDir } from './fixture.js'

describe('ManagerStore jobs and config (real LevelDB)', () => {
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

  it('stores, replaces and lists jobs with status and node filters', async () => {
    await store.putJob(job('j1', ['n1', 'n2'], { createdAt: '2026-01-01T00:00:01.000Z' }))
    await store.putJob(job('j0', ['n2'], { createdAt: '2026-01-01T00:00:02.000Z', kind: 'upgrade' }))
    await store.putJob({ ...job('j1', ['n1', 'n2'], { createdAt: '2026-01-01T00:00:01.000Z' }), status: 'running', startedAt: '2026-01-01T00:00:03.000Z' })
    assert.equal((await store.getJob('j1'))?.status, 'running')
    assert.equal(await store.getJob('nope'), undefined)
    assert.deepEqual((await store.listJobs()).map(j => j.id), ['j1', 'j0'], 'oldest first by createdAt')
    assert.deepEqual((await store.listJobs({ status: 'queued' })).map(j => j.id), ['j0'])
    assert.deepEqual((await store.listJobs({ node: 'n1' })).map(j => j.id), ['j1'])
    assert.deepEqual((await store.listJobs({ limit: 1 })).map(j => j.id), ['j0'], 'limit keeps the newest')
    await assert.rejects(store.putJob({ ...job('bad id!', []) }), (e: unknown) => e instanceof ClusterdError && e.code === 'CLUSTERD_ERR_INVALID_ARGUMENT')
  })

  it('appends job events with gapless per-job seqs, across concurrent calls and a restart', async () => {
    await store.putJob(job('j1', ['n1']))
    await store.putJob(job('j2', ['n1']))
    const batches = await Promise.all([
      store.appendJobEvents('j1', [{ kind: 'precheck', node: 'n1' }, { kind: 'task-start', node: 'n1', task: 'apt' }]),
      store.appendJobEvents('j2', [{ kind: 'log', message: 'hello' }]),
      store.appendJobEvents('j1', [{ kind: 'task-ok', node: 'n1', task: 'apt', data: { changed: false } }])
    ])
    assert.deepEqual(batches.map(b => b.map(e => `${e.jobId}#${e.seq}`)), [['j1#1', 'j1#2'], ['j2#1'], ['j1#3']])
    await store.stop()
    store = newStore(dir.path)
    await store.start()
    const more = await store.appendJobEvents('j1', [{ kind: 'stats', data: { ok: 1 } }])
    assert.equal(more[0]?.seq, 4, 'seq continues after restart')
    assert.deepEqual((await store.listJobEvents('j1')).map(e => [e.seq, e.kind]), [[1, 'precheck'], [2, 'task-start'], [3, 'task-ok'], [4, 'stats']])
    assert.deepEqual((await store.listJobEvents('j1', { afterSeq: 2, limit: 1 })).map(e => e.seq), [3])
    assert.deepEqual((await store.listJobEvents('j2')).map(e => e.message), ['hello'])
  })

  it('refuses events for a job that was never stored', async () => {
    await assert.rejects(store.appendJobEvents('ghost', [{ kind: 'log' }]),
      (e: unknown) => e instanceof ClusterdError && e.code === 'CLUSTERD_ERR_JOB_NOT_FOUND')
    assert.deepEqual(await store.listJobEvents('ghost'), [])
  })

  it('sets, reads, deletes and persists config values', async () => {
    const revision = store.revision
    await store.setConfig('autoCommission', { enabled: true, roles: ['base'] })
    await store.setConfig('ssh.user', 'root')
    await store.setConfig('tmp', 1)
    await store.setConfig('tmp', undefined)
    assert.equal(store.revision, revision + 4, 'every write bumps the revision')
    assert.deepEqual(await store.getConfig('autoCommission'), { enabled: true, roles: ['base'] })
    assert.equal(await store.getConfig('tmp'), undefined)
    await store.stop()
    store = newStore(dir.path)
    await store.start()
    assert.deepEqual(await store.allConfig(), { autoCommission: { enabled: true, roles: ['base'] }, 'ssh.user': 'root' })
  })
})
