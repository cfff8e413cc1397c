import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parse as parseYaml } from 'yaml'
import { ApiClient } from '../../../../cli/client.js'
import { manager } from '../../../../cli/commands/manager.js'
import { MANAGER, startManagerFixture, type ManagerFixture } from '../manager-fixture.js'

describe('clusterctl manager', () => {
  let fx: ManagerFixture
  let client: ApiClient
  const now = new Date('2026-11-22T10:00:00.000Z')
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('prints the manager as a one-row table', async () => {
    assert.equal(await manager(client, { output: 'table', now }), [
      'NAME   PEER-ID     EPOCH   SINCE    LOCAL',
      'db1    12D3KooWA   4       1h ago   yes',
      ''
    ].join('\n'))
  })

  it('prints the API object (name, peerId, epoch, since, local) as json and yaml', async () => {
    assert.deepEqual(JSON.parse(await manager(client, { output: 'json', now })), MANAGER)
    assert.deepEqual(Object.keys(MANAGER), ['name', 'peerId', 'epoch', 'since', 'local'])
    assert.deepEqual(parseYaml(await manager(client, { output: 'yaml', now })), MANAGER)
  })
})
