import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parse as parseYaml } from 'yaml'
import { ApiClient } from '../../../../cli/client.js'
import { lease } from '../../../../cli/commands/lease.js'
import { LEASE, startManagerFixture, type ManagerFixture } from '../manager-fixture.js'

describe('clusterctl lease', () => {
  let fx: ManagerFixture
  let client: ApiClient
  const now = new Date('2026-11-22T10:00:00.000Z')
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('prints the highest epoch, the lease and its time left as fields', async () => {
    assert.equal(await lease(client, { output: 'table', now }), [
      'highest epoch:  4',
      'lease:          held, expires in 10s',
      'epoch:          4',
      'holder:         12D3KooWA',
      'lease id:       0123456789abcdef0123456789abcdef',
      'granted:        2026-11-22T09:59:55.000Z',
      'expires:        2026-11-22T10:00:10.000Z',
      'lease file:     /var/lib/clusterd/lease.json',
      ''
    ].join('\n'))
    assert.deepEqual(fx.requestsTo('lease').map(r => r.method), ['GET'])
  })

  it('prints the API object (highestEpoch, lease, leaseFile) as json and yaml', async () => {
    assert.deepEqual(JSON.parse(await lease(client, { output: 'json', now })), LEASE)
    assert.deepEqual(Object.keys(LEASE), ['highestEpoch', 'lease', 'leaseFile'])
    assert.deepEqual(parseYaml(await lease(client, { output: 'yaml', now })), LEASE)
  })
})
