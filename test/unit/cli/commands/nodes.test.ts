import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parse as parseYaml } from 'yaml'
import { ApiClient } from '../../../../cli/client.js'
import { driftCell, nodes } from '../../../../cli/commands/nodes.js'
import { NODES, startManagerFixture, type ManagerFixture } from '../manager-fixture.js'
import type { NodeRecord } from '../../../../protocol/nodes.js'

describe('clusterctl nodes', () => {
  let fx: ManagerFixture
  let client: ApiClient
  const now = new Date('2026-11-22T10:05:00.000Z')
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('prints NAME STATE ROLES REACHABLE DRIFT LAST-JOB SINCE, sorted by name', async () => {
    assert.equal(await nodes(client, { output: 'table', now }), [
      'NAME   STATE               ROLES          REACHABLE   DRIFT    LAST-JOB       SINCE',
      'db1    commissioned        base,storage   yes         1 task   j-20261122-1   5m ago',
      'web2   commission-failed   -              no          -        j-20261122-2   2m ago',
      ''
    ].join('\n'))
  })

  it('shows DRIFT as - (never checked), none, or the number of tasks that would change', () => {
    assert.equal(driftCell({ drift: null }), '-')
    assert.equal(driftCell({ drift: { checkedAt: 'x', jobId: 'j', changed: 0, tasks: [] } }), 'none')
    assert.equal(driftCell({ drift: { checkedAt: 'x', jobId: 'j', changed: 3, tasks: ['a', 'b', 'c'] } }), '3 tasks')
  })

  it('sends -l as the selector query and refuses a bad one locally', async () => {
    await nodes(client, { output: 'json', selector: 'role=storage,zone=a', now })
    assert.deepEqual(fx.requestsTo('listNodes').at(-1)?.query, { limit: '500', selector: 'role=storage,zone=a' })
    await assert.rejects(nodes(client, { output: 'json', selector: 'zone' }), /--selector: selector term "zone" is not K=V/)
    await assert.rejects(nodes(client, { output: 'json', selector: 'state=bogus' }), /--selector: state="bogus"/)
  })

  it('shows a cordoned node with ,cordoned after its state', async () => {
    const fx2 = await startManagerFixture({ extraNodes: [{ ...(NODES[0] as NodeRecord), name: 'z9', cordoned: true }] })
    try {
      const out = await nodes(new ApiClient({ addr: fx2.socketPath }), { output: 'table', now })
      assert.match(out, /^z9\s+commission-failed,cordoned\s/m)
    } finally {
      await fx2.close()
    }
  })

  it('prints the NodeRecords exactly as json and yaml (one array, as before paging)', async () => {
    assert.deepEqual(JSON.parse(await nodes(client, { output: 'json', now })), NODES)
    assert.deepEqual(parseYaml(await nodes(client, { output: 'yaml', now })), NODES)
    assert.deepEqual(fx.requestsTo('listNodes').at(-1)?.query, { limit: '500' }, 'asks for a page')
  })

  it('refuses a bad --limit or --page-size locally', async () => {
    await assert.rejects(nodes(client, { output: 'json', limit: '0' }), /--limit/)
    await assert.rejects(nodes(client, { output: 'json', pageSize: '5001' }), /--page-size/)
  })
})

describe('clusterctl nodes on a large fleet', () => {
  let fx: ManagerFixture
  let client: ApiClient
  const many: NodeRecord[] = Array.from({ length: 1203 }, (_, i) => ({ ...(NODES[0] as NodeRecord), name: `n${String(i).padStart(5, '0')}` }))
  before(async () => {
    fx = await startManagerFixture({ extraNodes: many })
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('follows the pages to the end, in the order served', async () => {
    const before = fx.requestsTo('listNodes').length
    const list = JSON.parse(await nodes(client, { output: 'json', pageSize: '100' })) as NodeRecord[]
    assert.equal(list.length, 1205)
    assert.deepEqual(list.map(n => n.name), [...NODES, ...many].map(n => n.name))
    const calls = fx.requestsTo('listNodes').slice(before)
    assert.equal(calls.length, 13, '1205 records in pages of 100')
    assert.deepEqual(calls[1]?.query, { limit: '100', after: 'n00097' })
  })

  it('--limit stops after N records', async () => {
    const list = JSON.parse(await nodes(client, { output: 'json', limit: '250', pageSize: '100' })) as NodeRecord[]
    assert.deepEqual(list.map(n => n.name), [...NODES, ...many].slice(0, 250).map(n => n.name))
  })
})
