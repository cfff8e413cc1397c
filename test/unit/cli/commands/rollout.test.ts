import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient } from '../../../../cli/client.js'
import { jobResume, jobRetry } from '../../../../cli/commands/job-resume.js'
import { upgrade } from '../../../../cli/commands/upgrade.js'
import { ExitError } from '../../../../cli/errors.js'
import { renderBatchTable, rolloutSummary } from '../../../../cli/job-format.js'
import { rolloutRequest } from '../../../../cli/rollout-flags.js'
import type { JobRecord } from '../../../../protocol/jobs.js'
import { FAILED_JOB, collectOutput, startManagerFixture, testContext, type ManagerFixture } from '../manager-fixture.js'

// The rolling-upgrade surface of clusterctl: the upgrade flags, job resume / retry --failed,
// and how a rollout reads in `job show` and `--wait`.

const usage = (pattern: RegExp) => (err: unknown): boolean => err instanceof ExitError && err.exitCode === 2 && pattern.test(err.message)

describe('clusterctl rolling upgrades', () => {
  let fx: ManagerFixture
  let client: ApiClient
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('upgrade sends the rollout settings given; without --batch-size, none', async () => {
    await collectOutput(await upgrade(client, ['web1', 'db1'], { batchSize: '2', maxUnavailable: '1', maxFailures: '0', pauseBetween: '30' }, testContext()))
    assert.deepEqual((fx.requestsTo('upgrade').at(-1)?.body as { rollout?: unknown }).rollout, { batchSize: 2, maxUnavailable: 1, maxFailures: 0, pauseBetweenS: 30 })
    await collectOutput(await upgrade(client, ['web1'], { batchSize: '3' }, testContext()))
    assert.deepEqual((fx.requestsTo('upgrade').at(-1)?.body as { rollout?: unknown }).rollout, { batchSize: 3 })
    await collectOutput(await upgrade(client, ['web1'], {}, testContext()))
    assert.equal((fx.requestsTo('upgrade').at(-1)?.body as { rollout?: unknown }).rollout, undefined)
  })

  it('refuses bad rollout flags locally (exit 2) and sends nothing', async () => {
    const sent = fx.requestsTo('upgrade').length
    await assert.rejects(async () => await upgrade(client, ['web1'], { maxUnavailable: '1' }, testContext()), usage(/--max-unavailable need --batch-size N/))
    await assert.rejects(async () => await upgrade(client, ['web1'], { batchSize: '0' }, testContext()), usage(/--batch-size: expected a whole number from 1/))
    await assert.rejects(async () => await upgrade(client, ['web1'], { batchSize: '2', maxFailures: '-1' }, testContext()), usage(/--max-failures/))
    await assert.rejects(async () => await upgrade(client, ['web1'], { batchSize: '2', pauseBetween: '86401' }, testContext()), usage(/--pause-between/))
    await assert.rejects(async () => await upgrade(client, ['web1'], { batchSize: '2', agentVersion: '1.2.3' }, testContext()), usage(/do not go with --agent-version/))
    assert.equal(fx.requestsTo('upgrade').length, sent)
    assert.deepEqual(rolloutRequest({ batchSize: '1', maxFailures: '0', pauseBetween: '0' }), { batchSize: 1, maxFailures: 0, pauseBetweenS: 0 })
  })

  it('job resume and job retry --failed call their routes; retry needs --failed', async () => {
    assert.match(await collectOutput(await jobResume(client, FAILED_JOB.id, {}, testContext())), new RegExp(`^job ${FAILED_JOB.id} queued`))
    assert.equal(fx.requestsTo('resumeJob').at(-1)?.params.id, FAILED_JOB.id)
    await assert.rejects(async () => await jobRetry(client, FAILED_JOB.id, {}, testContext()), usage(/pass --failed/))
    assert.match(await collectOutput(await jobRetry(client, FAILED_JOB.id, { failed: true }, testContext())), new RegExp(`^job ${FAILED_JOB.id} queued`))
    assert.deepEqual(fx.requestsTo('retryJob').at(-1)?.body, { failed: true })
  })

  it('a rollout reads as its batches, each node with its outcome, and what is left', () => {
    const job: JobRecord = {
      ...FAILED_JOB,
      nodes: ['a', 'b', 'c', 'd'],
      status: 'paused',
      perNode: {
        a: { outcome: 'ok', ok: 1, changed: 0, failed: 0 },
        b: { outcome: 'ok', ok: 1, changed: 0, failed: 0 },
        c: { outcome: 'failed', ok: 1, changed: 0, failed: 1 },
        d: { outcome: 'pending', ok: 0, changed: 0, failed: 0 }
      },
      rollout: { batchSize: 2, maxUnavailable: 1, maxFailures: 0, pauseBetweenS: 0, nextBatchAt: null, pausedAt: '2026-12-06T12:00:00.000Z', accepted: [] },
      batches: [{ nodes: ['a', 'b'], status: 'succeeded' }, { nodes: ['c', 'd'], status: 'running' }]
    }
    assert.equal(rolloutSummary(job), 'batch 2 of 2, 1 done, 1 node(s) left (batch size 2, max unavailable 1, max failures 0, pause 0 s)')
    assert.equal(renderBatchTable(job), [
      'BATCH   STATUS      NODES',
      '1       succeeded   a:ok b:ok',
      '2       running     c:failed d:pending',
      ''
    ].join('\n'))
    assert.equal(rolloutSummary(FAILED_JOB), null)
    assert.equal(renderBatchTable(FAILED_JOB), '')
  })
})
