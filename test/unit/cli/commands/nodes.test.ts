import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parse as parseYaml } from 'yaml'
import { ApiClient } from '../../../../cli/client.js'
import { nodes } from '../../../../cli/commands/nodes.js'
import { NODES, startManagerFixture, type ManagerFixture } from '../manager-fixture.js'

describe('clusterctl nodes', () => {
  let fx: ManagerFixture
  let client: ApiClient
  const now = new Date('2026-11-22T10:05:00.000Z')
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('prints NAME STATE ROLES REACHABLE LAST-JOB SINCE, sorted by name', async () => {
    assert.equal(await nodes(client, { output: 'table', now }), [
      'NAME   STATE               ROLES          REACHABLE   LAST-JOB       SINCE',
      'db1    commissioned        base,storage   yes         j-20261122-1   5m ago',
      'web2   commission-failed   -              no          j-20261122-2   2m ago',
      ''
    ].join('\n'))
  })

  it('prints the NodeRecords exactly as json and yaml', async () => {
    assert.deepEqual(JSON.parse(await nodes(client, { output: 'json', now })), NODES)
    assert.deepEqual(parseYaml(await nodes(client, { output: 'yaml', now })), NODES)
  })
})
