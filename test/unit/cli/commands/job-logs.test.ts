import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parse as parseYaml, parseAllDocuments } from 'yaml'
import { ApiClient } from '../../../../cli/client.js'
import { jobLogs } from '../../../../cli/commands/job-logs.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import { FAILED_JOB, FAILED_JOB_EVENTS, collectOutput, scriptedFeed, startManagerFixture, testContext, type ManagerFixture } from '../manager-fixture.js'

describe('clusterctl job logs', () => {
  let fx: ManagerFixture
  let client: ApiClient
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('prints one line per event: time, node, kind, task, message (newlines folded)', async () => {
    assert.equal(await collectOutput(await jobLogs(client, FAILED_JOB.id, { output: 'table' }, testContext())), [
      '2026-11-22T10:01:00.000Z  -             status        -  commission of web2, db1 queued by operator',
      '2026-11-22T10:01:02.000Z  -             task-start    Install packages',
      '2026-11-22T10:01:09.000Z  web2          task-failed   Install packages  No package matching foo',
      ''
    ].join('\n'))
    assert.deepEqual(fx.requestsTo('jobEvents').at(-1)?.query, {})
    assert.deepEqual(parseYaml(await collectOutput(await jobLogs(client, FAILED_JOB.id, { output: 'yaml' }, testContext()))), FAILED_JOB_EVENTS)
  })

  it('--follow streams the events until the job ends: NDJSON with -o json, YAML documents with -o yaml', async () => {
    const job = await client.commission({ nodes: ['web1'], roles: ['worker'] })
    const events = scriptedFeed(job).flatMap(i => (i.type === 'event' ? [i.event] : []))
    const json = await collectOutput(await jobLogs(client, job.id, { output: 'json', follow: true }, testContext()))
    assert.deepEqual(json.trimEnd().split('\n').map(l => JSON.parse(l)), events)
    assert.deepEqual(fx.requestsTo('jobEvents').at(-1)?.query, { follow: '1' })
    const yaml = await collectOutput(await jobLogs(client, job.id, { output: 'yaml', follow: true }, testContext()))
    assert.deepEqual(parseAllDocuments(yaml).map(d => d.toJS()), events)
  })

  it('--follow reports a reconnect on stderr and goes on', async () => {
    const job = await client.commission({ nodes: ['flaky1'], roles: ['worker'] })
    const ctx = testContext()
    const text = await collectOutput(await jobLogs(client, job.id, { output: 'table', follow: true, followOptions: { firstDelayMs: 10 } }, ctx))
    assert.equal(text.trimEnd().split('\n').length, scriptedFeed(job).filter(i => i.type === 'event').length)
    assert.deepEqual(ctx.warnings, ['stream broken: the manager went away (CLUSTERD_ERR_NO_MANAGER); reconnecting (attempt 1)'])
  })

  it('an unknown job is CLUSTERD_ERR_JOB_NOT_FOUND, with or without --follow', async () => {
    const isNotFound = (err: unknown): boolean => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_JOB_NOT_FOUND'
    await assert.rejects(jobLogs(client, 'nope', { output: 'table' }, testContext()), isNotFound)
    await assert.rejects(async () => await collectOutput(await jobLogs(client, 'nope', { output: 'table', follow: true }, testContext())), isNotFound)
  })
})
