import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient } from '../../../../cli/client.js'
import { events } from '../../../../cli/commands/events.js'
import { ExitError } from '../../../../cli/errors.js'
import { EVENTS, startManagerFixture, type ManagerFixture } from '../manager-fixture.js'

describe('clusterctl events', () => {
  let fx: ManagerFixture
  let client: ApiClient
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('prints every transition, oldest first: SEQ TIME NODE TYPE FROM TO JOB ACTOR REASON', async () => {
    assert.equal(await events(client, { output: 'table' }), [
      'SEQ   TIME                       NODE   TYPE                   FROM            TO              JOB            ACTOR        REASON',
      '3     2026-11-22T09:00:00.000Z   db1    discovered             -               discovered      -              membership   -',
      '7     2026-11-22T09:30:00.000Z   db1    commission-requested   discovered      commissioning   j-20261122-1   operator     -',
      '9     2026-11-22T10:00:00.000Z   db1    job-succeeded          commissioning   commissioned    j-20261122-1   job-runner   -',
      ''
    ].join('\n'))
    assert.deepEqual(fx.requestsTo('listEvents').at(-1)?.query, {})
  })

  it('passes --node and --limit; json is the LifecycleEvents as the manager sent them', async () => {
    assert.deepEqual(JSON.parse(await events(client, { output: 'json', node: 'db1', limit: '5' })), EVENTS)
    assert.deepEqual(fx.requestsTo('listEvents').at(-1)?.query, { node: 'db1', limit: '5' })
  })

  it('refuses a bad --limit locally', async () => {
    await assert.rejects(events(client, { output: 'table', limit: 'ten' }), (err: unknown) => err instanceof ExitError && err.exitCode === 2 && /^--limit: expected a whole number from 1 to 100000; got "ten"$/.test(err.message))
    await assert.rejects(events(client, { output: 'table', limit: '0' }), (err: unknown) => err instanceof ExitError && err.exitCode === 2)
  })
})
