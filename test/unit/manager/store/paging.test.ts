import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { managerRoutes } from '../../../../manager/api/manager-routes.js'
import type { JobService } from '../../../../manager/jobs/job-service.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import type { NodeRecord, NodesPage } from '../../../../protocol/nodes.js'
import { newStore, tempDir } from './fixture.js'
import type { ManagerStore } from '../../../../manager/store/index.js'

describe('GET /v1/nodes paging (real store)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let store: ManagerStore
  const names = Array.from({ length: 57 }, (_, i) => `node-${String(i * 7 % 57).padStart(3, '0')}`)
  beforeEach(async () => {
    dir = await tempDir()
    store = newStore(dir.path)
    await store.start()
    for (const name of names) await store.upsertNode({ name, peerId: `p-${name}`, reachable: true })
  })
  afterEach(async () => { await store.stop(); await dir.cleanup() })

  const list = async (query: Record<string, string>): Promise<unknown> => {
    const routes = managerRoutes({ store, jobs: {} as JobService, members: () => [] })
    return await routes.listNodes({ query, params: {}, body: undefined, signal: new AbortController().signal } as never)
  }

  it('pages in name order; next leads through every node exactly once; the last page says null', async () => {
    const seen: string[] = []
    let after: string | undefined
    let pages = 0
    for (; pages < 20; pages++) {
      const page = await list({ limit: '10', ...(after !== undefined ? { after } : {}) }) as NodesPage
      assert.ok(page.items.length <= 10)
      seen.push(...page.items.map(n => n.name))
      if (page.next === null) break
      assert.equal(page.next, page.items.at(-1)?.name)
      after = page.next
    }
    assert.equal(pages + 1, 6)
    assert.deepEqual(seen, [...names].sort())
  })

  it('a page holds the records themselves; a node added behind the cursor is not seen, one ahead is', async () => {
    const first = await list({ limit: '5' }) as NodesPage
    assert.deepEqual(first.items[0], await store.getNode('node-000'))
    await store.upsertNode({ name: 'node-000a', peerId: 'pa', reachable: true })
    await store.upsertNode({ name: 'zz-last', peerId: 'pz', reachable: true })
    const rest = await list({ limit: '100', after: first.next ?? '' }) as NodesPage
    assert.ok(!rest.items.some(n => n.name === 'node-000a'))
    assert.equal(rest.items.at(-1)?.name, 'zz-last')
    assert.equal(rest.next, null)
  })

  it('without parameters answers the bare array (clients before paging); refuses bad limits and names', async () => {
    const all = await list({}) as NodeRecord[]
    assert.ok(Array.isArray(all))
    assert.equal(all.length, 57)
    const page = await list({ after: 'node-050' }) as NodesPage
    assert.deepEqual(page.items.map(n => n.name), ['node-051', 'node-052', 'node-053', 'node-054', 'node-055', 'node-056'])
    for (const query of [{ limit: '0' }, { limit: '5001' }, { limit: '-1' }, { limit: 'x' }, { after: '../etc' }]) {
      await assert.rejects(list(query as unknown as Record<string, string>), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_INVALID_ARGUMENT', JSON.stringify(query))
    }
  })
})

