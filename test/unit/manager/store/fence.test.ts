// The store's fence (a deposed manager acknowledges nothing): once the fence names an error, every
// write is refused before it is staged, and an after-commit hook's CLUSTERD_ERR_MANAGER_CHANGED
// reaches the writer instead of being logged and swallowed.

import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { ManagerStore } from '../../../../manager/store/index.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import { tempDir } from './fixture.js'

describe('ManagerStore fence', () => {
  const dirs: Array<Awaited<ReturnType<typeof tempDir>>> = []
  after(async () => { for (const d of dirs) await d.cleanup() })

  it('refuses every write once fenced, with nothing written; reads go on', async () => {
    const d = await tempDir()
    dirs.push(d)
    let fenced: ClusterdError | null = null
    const store = new ManagerStore({ logger: pino({ level: 'silent' }), fence: () => fenced }, { path: d.path, epoch: 1 })
    await store.start()
    try {
      await store.setConfig('a', 1)
      const revision = store.revision
      fenced = new ClusterdError('CLUSTERD_ERR_MANAGER_CHANGED', 'replaced by epoch 2')
      await assert.rejects(store.setConfig('a', 2), { code: 'CLUSTERD_ERR_MANAGER_CHANGED' })
      await assert.rejects(store.upsertNode({ name: 'n1', peerId: 'p1', reachable: true }), { code: 'CLUSTERD_ERR_MANAGER_CHANGED' })
      assert.equal(store.revision, revision, 'nothing written')
      assert.equal(await store.getConfig('a'), 1)
    } finally {
      await store.stop()
    }
  })

  it('a write whose replication says the manager was replaced fails with that error (other hook failures stay logged only)', async () => {
    const d = await tempDir()
    dirs.push(d)
    let hook: Error | null = null
    const store = new ManagerStore({ logger: pino({ level: 'silent' }), afterCommit: async () => { if (hook !== null) throw hook } }, { path: d.path })
    await store.start()
    try {
      hook = new Error('replica unreachable')
      await store.setConfig('a', 1) // durable, acknowledged: the hook's failure is only logged
      hook = new ClusterdError('CLUSTERD_ERR_MANAGER_CHANGED', 'write 2 was not acknowledged')
      await assert.rejects(store.setConfig('b', 2), { code: 'CLUSTERD_ERR_MANAGER_CHANGED' })
    } finally {
      await store.stop()
    }
  })
})
