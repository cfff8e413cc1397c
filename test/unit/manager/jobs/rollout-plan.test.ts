import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { JobNodeOutcome, JobRecord } from '../../../../protocol/jobs.js'
import {
  beginWave, endWave, failedNodes, newRollout, nextStep, pauseRollout, resumeRollout, retryFailedInPlace, rolloutSettings, type RolloutJob
} from '../../../../manager/jobs/rollout-plan.js'

// The pure rolling-upgrade planner: batches, max-unavailable, max-failures, pause-between,
// resume and the retry set, decided from the job record alone.

const NOW = new Date('2026-12-06T12:00:00.000Z')

function rolloutJob (nodes: string[], settings: { batchSize: number, maxUnavailable?: number, maxFailures?: number, pauseBetweenS?: number }): RolloutJob {
  const s = rolloutSettings(settings)
  if ('problem' in s) throw new Error(s.problem)
  const job: JobRecord = {
    id: 'j-1', kind: 'upgrade', nodes, roles: [], vars: {}, status: 'running', createdAt: NOW.toISOString(), startedAt: null,
    finishedAt: null, timeoutAt: NOW.toISOString(), reason: null, epoch: 1,
    perNode: Object.fromEntries(nodes.map(n => [n, { outcome: 'pending' as const, ok: 0, changed: 0, failed: 0 }])),
    ...newRollout(nodes, s)
  }
  return job as RolloutJob
}

/** Run `nodes` of the current wave to `outcome` (with a message), as the runner would. */
function finishWave (job: RolloutJob, outcomes: Record<string, JobNodeOutcome>, now = NOW): void {
  const step = nextStep(job, now)
  assert.equal(step.step, 'wave')
  if (step.step !== 'wave') return
  assert.deepEqual(step.nodes.slice().sort(), Object.keys(outcomes).sort(), 'the wave is the expected nodes')
  beginWave(job, step.nodes)
  for (const [n, o] of Object.entries(outcomes)) {
    job.perNode[n] = { outcome: o, step: 'done', ok: 1, changed: 0, failed: o === 'ok' ? 0 : 1, ...(o === 'ok' ? {} : { message: `post-upgrade test: ${n} broke` }) }
  }
  endWave(job, step.batch, now)
}

describe('rollout settings', () => {
  it('defaults max-unavailable to the batch size, max-failures and the pause to 0', () => {
    assert.deepEqual(rolloutSettings({ batchSize: 3 }), { batchSize: 3, maxUnavailable: 3, maxFailures: 0, pauseBetweenS: 0 })
    assert.deepEqual(rolloutSettings({ batchSize: 2, maxUnavailable: 1, maxFailures: 2, pauseBetweenS: 30 }), { batchSize: 2, maxUnavailable: 1, maxFailures: 2, pauseBetweenS: 30 })
  })

  it('says what is wrong instead of throwing', () => {
    for (const bad of [null, [], 'x', {}, { batchSize: 0 }, { batchSize: 1.5 }, { batchSize: 2, maxUnavailable: 0 }, { batchSize: 2, maxFailures: -1 },
      { batchSize: 2, pauseBetweenS: 86_401 }, { batchSize: 2, extra: 1 }, { batchSize: '2' }]) {
      const got = rolloutSettings(bad)
      assert.ok('problem' in got, JSON.stringify(bad))
    }
  })
})

describe('rollout planner', () => {
  it('cuts the nodes into batches of the batch size, in order', () => {
    const job = rolloutJob(['a', 'b', 'c', 'd', 'e'], { batchSize: 2 })
    assert.deepEqual(job.batches.map(b => b.nodes), [['a', 'b'], ['c', 'd'], ['e']])
    assert.ok(job.batches.every(b => b.status === 'pending'))
  })

  it('runs a whole batch at once when max-unavailable allows, and the next batch only after it', () => {
    const job = rolloutJob(['a', 'b', 'c', 'd'], { batchSize: 2 })
    finishWave(job, { a: 'ok', b: 'ok' })
    assert.equal(job.batches[0]?.status, 'succeeded')
    finishWave(job, { c: 'ok', d: 'ok' })
    assert.deepEqual(nextStep(job, NOW), { step: 'done' })
  })

  it('keeps at most max-unavailable nodes upgrading at once inside a batch', () => {
    const job = rolloutJob(['a', 'b', 'c', 'd'], { batchSize: 2, maxUnavailable: 1 })
    const step = nextStep(job, NOW)
    assert.deepEqual(step, { step: 'wave', batch: 0, nodes: ['a'] })
    beginWave(job, ['a'])
    assert.equal(job.batches[0]?.status, 'running')
    job.perNode.a = { outcome: 'ok', ok: 1, changed: 0, failed: 0 }
    endWave(job, 0, NOW)
    assert.equal(job.batches[0]?.status, 'running', 'b is still to do')
    assert.deepEqual(nextStep(job, NOW), { step: 'wave', batch: 0, nodes: ['b'] })
  })

  it('pauses on more failures than max-failures, naming each failed node and why', () => {
    const job = rolloutJob(['a', 'b', 'c', 'd', 'e', 'f'], { batchSize: 2, maxUnavailable: 2 })
    finishWave(job, { a: 'ok', b: 'ok' })
    finishWave(job, { c: 'failed', d: 'ok' })
    const step = nextStep(job, NOW)
    assert.equal(step.step, 'pause')
    if (step.step !== 'pause') return
    assert.match(step.reason, /^paused after batch 2 of 3: /)
    assert.match(step.reason, /1 node\(s\) failed, more than --max-failures 0: c \(post-upgrade test: c broke\)/)
    assert.match(step.reason, /job retry j-1 --failed/)
    assert.equal(job.batches[1]?.status, 'failed')
    assert.equal(job.batches[2]?.status, 'pending', 'the next batch did not start')
  })

  it('tolerates max-failures, but failed nodes still take room under max-unavailable', () => {
    const job = rolloutJob(['a', 'b', 'c', 'd'], { batchSize: 2, maxUnavailable: 2, maxFailures: 1 })
    finishWave(job, { a: 'failed', b: 'ok' })
    // One failure is tolerated, and it holds one of the two unavailable slots.
    assert.deepEqual(nextStep(job, NOW), { step: 'wave', batch: 1, nodes: ['c'] })
  })

  it('pauses when failed nodes hold all of max-unavailable, even within the failure budget', () => {
    const job = rolloutJob(['a', 'b', 'c'], { batchSize: 1, maxUnavailable: 1, maxFailures: 5 })
    finishWave(job, { a: 'failed' })
    const step = nextStep(job, NOW)
    assert.equal(step.step, 'pause')
    if (step.step === 'pause') assert.match(step.reason, /take all of --max-unavailable 1: a/)
  })

  it('waits --pause-between after a batch, from an absolute time', () => {
    const job = rolloutJob(['a', 'b'], { batchSize: 1, pauseBetweenS: 30 })
    finishWave(job, { a: 'ok' })
    assert.equal(job.rollout.nextBatchAt, '2026-12-06T12:00:30.000Z')
    assert.deepEqual(nextStep(job, new Date(NOW.getTime() + 29_000)), { step: 'wait', until: '2026-12-06T12:00:30.000Z' })
    assert.deepEqual(nextStep(job, new Date(NOW.getTime() + 30_000)), { step: 'wave', batch: 1, nodes: ['b'] })
    finishWave(job, { b: 'ok' }, new Date(NOW.getTime() + 30_000))
    assert.equal(job.rollout.nextBatchAt, null, 'no wait after the last batch')
  })

  it('resume accepts the failures so far: they stop counting, and the rollout goes on', () => {
    const job = rolloutJob(['a', 'b', 'c'], { batchSize: 1, maxUnavailable: 1 })
    finishWave(job, { a: 'failed' })
    const step = nextStep(job, NOW)
    assert.equal(step.step, 'pause')
    if (step.step === 'pause') pauseRollout(job, step.reason, NOW)
    assert.equal(job.status, 'paused')
    assert.equal(job.rollout.pausedAt, NOW.toISOString())
    assert.deepEqual(resumeRollout(job), ['a'])
    assert.equal(job.status, 'queued')
    assert.equal(job.reason, null)
    assert.deepEqual(job.rollout.accepted, ['a'])
    finishWave(job, { b: 'ok' })
    // A new failure after the resume counts again.
    finishWave(job, { c: 'failed' })
    assert.equal(nextStep(job, NOW).step, 'pause')
  })

  it('retry of the failed resets exactly them, in their own batch, which then runs first', () => {
    const job = rolloutJob(['a', 'b', 'c', 'd'], { batchSize: 2, maxUnavailable: 3, maxFailures: 1 })
    finishWave(job, { a: 'failed', b: 'ok' })
    finishWave(job, { c: 'ok', d: 'unreachable' })
    assert.deepEqual(failedNodes(job), ['a', 'd'])
    const step = nextStep(job, NOW)
    assert.equal(step.step, 'pause')
    if (step.step === 'pause') pauseRollout(job, step.reason, NOW)
    assert.deepEqual(retryFailedInPlace(job), ['a', 'd'])
    assert.equal(job.perNode.a?.outcome, 'pending')
    assert.equal(job.perNode.b?.outcome, 'ok', 'nodes that succeeded are not run again')
    assert.deepEqual(job.batches.map(b => b.status), ['running', 'running'])
    assert.deepEqual(nextStep(job, NOW), { step: 'wave', batch: 0, nodes: ['a'] })
    finishWave(job, { a: 'ok' })
    finishWave(job, { d: 'ok' })
    assert.deepEqual(nextStep(job, NOW), { step: 'done' })
  })

  it('a wave after a failover re-runs the node that was running, first', () => {
    const job = rolloutJob(['a', 'b', 'c'], { batchSize: 3, maxUnavailable: 1 })
    beginWave(job, ['a'])
    // The manager died here; the record says a was running.
    assert.deepEqual(nextStep(job, NOW), { step: 'wave', batch: 0, nodes: ['a'] })
  })
})
