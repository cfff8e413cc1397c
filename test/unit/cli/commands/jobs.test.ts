import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parse as parseYaml } from 'yaml'
import { ApiClient } from '../../../../cli/client.js'
import { jobs } from '../../../../cli/commands/jobs.js'
import { FAILED_JOB, startManagerFixture, type ManagerFixture } from '../manager-fixture.js'

describe('clusterctl jobs', () => {
  let fx: ManagerFixture
  let client: ApiClient
  const now = new Date('2026-11-22T10:11:00.000Z')
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('prints ID KIND STATUS NODES CREATED REASON', async () => {
    assert.equal(await jobs(client, { output: 'table', now }), [
      'ID             KIND         STATUS   NODES      CREATED   REASON',
      'j-20261122-2   commission   failed   web2,db1   10m ago   1 of 2 node(s) failed: web2 (task Install packages failed)',
      ''
    ].join('\n'))
    assert.deepEqual(fx.requestsTo('listJobs').at(-1)?.query, {})
  })

  it('passes --status and --node as query parameters; json and yaml are the JobRecords', async () => {
    assert.deepEqual(JSON.parse(await jobs(client, { output: 'json', status: 'failed', node: 'web2' })), [FAILED_JOB])
    assert.deepEqual(fx.requestsTo('listJobs').at(-1)?.query, { status: 'failed', node: 'web2' })
    assert.deepEqual(parseYaml(await jobs(client, { output: 'yaml' })), [FAILED_JOB])
  })
})
