import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient } from '../../../../cli/client.js'
import { configGet, configSet } from '../../../../cli/commands/config.js'
import { ExitError } from '../../../../cli/errors.js'
import { startManagerFixture, type ManagerFixture } from '../manager-fixture.js'

describe('clusterctl config', () => {
  let fx: ManagerFixture
  let client: ApiClient
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('get: every known key in the table, unset ones marked; json is the map the manager sent', async () => {
    assert.equal(await configGet(client, undefined, { output: 'table' }), [
      'KEY                             VALUE',
      'auto-commission                 (not set)',
      'on-return                       reconfigure',
      'job-timeout                     (not set)',
      'max-parallel-jobs               (not set)',
      'vars                            {"ntp_server":"10.0.0.9"}',
      'retention.jobs.max-count        (not set)',
      'retention.jobs.max-age          (not set)',
      'retention.events.max-per-node   (not set)',
      'retention.events.max-age        (not set)',
      'retention.revisions.max-count   (not set)',
      'replication.acks                (not set)',
      ''
    ].join('\n'))
    assert.deepEqual(JSON.parse(await configGet(client, undefined, { output: 'json' })), { 'on-return': 'reconfigure', vars: { ntp_server: '10.0.0.9' } })
  })

  it('get KEY: {key, value}', async () => {
    assert.deepEqual(JSON.parse(await configGet(client, 'job-timeout', { output: 'json' })), { key: 'job-timeout', value: null })
    assert.deepEqual(fx.requestsTo('getConfigKey').at(-1)?.params, { key: 'job-timeout' })
  })

  it('set KEY VALUE sends {value} as text and prints what the manager stored', async () => {
    assert.equal(await configSet(client, 'auto-commission', 'worker@zone=a'), 'auto-commission = {"enabled":true,"roles":["worker"],"selector":{"zone":"a"}}\n')
    const req = fx.requestsTo('setConfigKey').at(-1)
    assert.deepEqual([req?.method, req?.params, req?.body], ['PUT', { key: 'auto-commission' }, { value: 'worker@zone=a' }])
    assert.equal(await configSet(client, 'job-timeout', '600'), 'job-timeout = 600\n')
    assert.deepEqual(fx.requestsTo('setConfigKey').at(-1)?.body, { value: '600' })
  })

  it('refuses an unknown key locally, listing the known ones', async () => {
    const before = fx.requests.length
    await assert.rejects(configSet(client, 'colour', 'blue'), (err: unknown) => err instanceof ExitError && err.exitCode === 2 &&
      err.message === 'unknown config key "colour"; known keys: auto-commission, on-return, job-timeout, max-parallel-jobs, vars, retention.jobs.max-count, retention.jobs.max-age, retention.events.max-per-node, retention.events.max-age, retention.revisions.max-count, replication.acks')
    assert.equal(fx.requests.length, before)
  })
})
