import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { HostResult } from '../../../../manager/ansible/events.js'
import { playbookProgress } from '../../../../manager/jobs/event-buffer.js'
import {
  closeNode, describeFailure, hostResult, isFinal, jobVerdict, leaseLost, leaseRefused, managerError, outcomeCommand,
  precheckFailed, runnerFailed, setOutcome
} from '../../../../manager/jobs/job-outcome.js'
import type { JobNodeOutcome, JobNodeProgress, JobRecord } from '../../../../protocol/jobs.js'

// The outcome mapping of a job, step by step: each function takes a node's progress as the
// pipeline has it and leaves the outcome, step and message the operator will read.
const progress = (over: Partial<JobNodeProgress> = {}): JobNodeProgress => ({ outcome: 'running', step: 'playbook', ok: 0, changed: 0, failed: 0, ...over })
const host = (over: Partial<HostResult>): HostResult => ({ name: 'n1', alias: 'n1', outcome: 'ok', changed: 0, ok: 3, changes: [], ...over })

const ALL: JobNodeOutcome[] = ['pending', 'running', 'ok', 'failed', 'unreachable', 'cancelled']
const FINAL: JobNodeOutcome[] = ['ok', 'failed', 'unreachable', 'cancelled']

describe('node outcomes', () => {
  it('only ok, failed, unreachable and cancelled are final', () => {
    for (const o of ALL) assert.equal(isFinal(o), FINAL.includes(o), o)
    assert.equal(isFinal(undefined), false)
  })

  it('setting an outcome ends the step and keeps the old message unless given one', () => {
    const p = progress({ message: 'earlier' })
    setOutcome(p, 'ok')
    assert.deepEqual(p, { outcome: 'ok', step: 'done', ok: 0, changed: 0, failed: 0, message: 'earlier' })
    setOutcome(p, 'failed', 'now')
    assert.equal(p.message, 'now')
  })

  it('a refused lease is unreachable when the agent could not be asked, failed when it said no', () => {
    const a = progress()
    leaseRefused(a, { unreachable: true, code: 'CLUSTERD_ERR_UNREACHABLE', message: 'no route' })
    assert.deepEqual([a.outcome, a.step, a.message], ['unreachable', 'done', 'lease not granted (CLUSTERD_ERR_UNREACHABLE): no route'])
    const b = progress()
    leaseRefused(b, { unreachable: false, code: 'CLUSTERD_ERR_LEASE_HELD', message: 'held by epoch 4' })
    assert.deepEqual([b.outcome, b.message], ['failed', 'lease not granted (CLUSTERD_ERR_LEASE_HELD): held by epoch 4'])
  })

  it('a failed pre-check is unreachable only for an unreachable node', () => {
    const a = progress({ step: 'precheck' })
    precheckFailed(a, { ok: false, reason: 'unreachable', message: 'timed out' })
    assert.deepEqual([a.outcome, a.step, a.message], ['unreachable', 'done', 'pre-check failed (unreachable): timed out'])
    const b = progress({ step: 'precheck' })
    precheckFailed(b, { ok: false, reason: 'host-key-mismatch', message: 'key changed' })
    assert.deepEqual([b.outcome, b.message], ['failed', 'pre-check failed (host-key-mismatch): key changed'])
  })

  it('a host ok is ok with its counters; a verify adds the drift and says what it found', () => {
    const a = progress()
    hostResult(a, host({ ok: 5, changed: 2 }), 'commission')
    assert.deepEqual(a, { outcome: 'ok', step: 'done', ok: 5, changed: 2, failed: 0 })
    const v = progress()
    hostResult(v, host({ changed: 1, changes: [{ task: 'Config' }, { task: 'Config' }] }), 'verify')
    assert.deepEqual(v.drift, { changed: 1, tasks: ['Config'] })
    assert.deepEqual([v.outcome, v.message], ['ok', 'drift: 1 task(s) would change: Config'])
    const clean = progress()
    hostResult(clean, host({}), 'verify')
    assert.equal(clean.message, 'no drift: the node matches its roles')
  })

  it('a host failure names the reason, the task and the message; unreachable stays unreachable', () => {
    const f = progress()
    hostResult(f, host({ outcome: 'failed', reason: 'task-failed', failedTask: 'Install', message: 'exit 1' }), 'upgrade')
    assert.deepEqual([f.outcome, f.message, f.drift], ['failed', 'task-failed: task "Install": exit 1', undefined])
    const u = progress()
    hostResult(u, host({ outcome: 'unreachable', reason: 'host-key-mismatch' }), 'verify')
    assert.deepEqual([u.outcome, u.message, u.drift], ['unreachable', 'host key does not match the pinned key', undefined])
    assert.equal(describeFailure(undefined, undefined, ''), 'failed')
  })

  it('a failed ansible-runner fails only the nodes without a result', () => {
    const done = progress({ outcome: 'ok', step: 'done' })
    runnerFailed(done, 'boom')
    assert.equal(done.outcome, 'ok')
    const open = progress()
    runnerFailed(open, undefined)
    assert.deepEqual([open.outcome, open.message], ['failed', 'ansible-runner failed: unknown error'])
  })

  it('a lost lease fails a node with its own reason, or names the nodes that lost theirs', () => {
    const own = progress()
    leaseLost(own, { reason: 'CLUSTERD_ERR_LEASE_LOST: expired' }, ['n1'])
    assert.deepEqual([own.outcome, own.message], ['failed', 'CLUSTERD_ERR_LEASE_LOST: expired'])
    const other = progress()
    leaseLost(other, undefined, ['n1', 'n3'])
    assert.equal(other.message, 'stopped: the run was aborted because n1, n3 lost its lease (CLUSTERD_ERR_LEASE_LOST); run the operation again')
  })

  it('a manager error fails the unfinished nodes only', () => {
    const open = progress()
    managerError(open, new Error('disk full'))
    assert.deepEqual([open.outcome, open.message], ['failed', 'manager error: disk full'])
    const done = progress({ outcome: 'unreachable', step: 'done', message: 'gone' })
    managerError(done, new Error('disk full'))
    assert.deepEqual([done.outcome, done.message], ['unreachable', 'gone'])
  })

  it('closing a job cancels or fails what did not finish, and keeps what did', () => {
    const a = progress()
    closeNode(a, 'cancelled: by the operator')
    assert.deepEqual([a.outcome, a.message], ['cancelled', 'cancelled: by the operator'])
    const b = progress({ outcome: 'pending', step: undefined })
    closeNode(b, undefined)
    assert.deepEqual([b.outcome, b.step, b.message], ['failed', 'done', 'the node was not run (no result from ansible-runner)'])
    const c = progress({ outcome: 'ok', step: 'done' })
    closeNode(c, 'timed out')
    assert.equal(c.outcome, 'ok')
  })
})

describe('lifecycle commands and the job verdict', () => {
  it('maps each final outcome to its job report', () => {
    assert.deepEqual(outcomeCommand('j1', progress({ outcome: 'ok' })), { type: 'JOB_SUCCEEDED', jobId: 'j1' })
    assert.deepEqual(outcomeCommand('j1', progress({ outcome: 'cancelled', message: 'timed out' })), { type: 'JOB_CANCELLED', jobId: 'j1', reason: 'timed out' })
    assert.deepEqual(outcomeCommand('j1', progress({ outcome: 'cancelled' })), { type: 'JOB_CANCELLED', jobId: 'j1', reason: 'cancelled' })
    assert.deepEqual(outcomeCommand('j1', progress({ outcome: 'failed', message: 'x' })), { type: 'JOB_FAILED', jobId: 'j1', reason: 'x' })
    assert.deepEqual(outcomeCommand('j1', progress({ outcome: 'unreachable' })), { type: 'JOB_FAILED', jobId: 'j1', reason: 'failed' })
  })

  const job = (outcomes: Record<string, Partial<JobNodeProgress>>): Pick<JobRecord, 'nodes' | 'perNode'> => ({
    nodes: Object.keys(outcomes),
    perNode: Object.fromEntries(Object.entries(outcomes).map(([n, o]) => [n, progress(o)]))
  })

  it('succeeds when every node is ok, fails naming each node that is not, and a cancel wins', () => {
    assert.deepEqual(jobVerdict(job({ a: { outcome: 'ok' }, b: { outcome: 'ok' } }), undefined), { status: 'succeeded', reason: null })
    assert.deepEqual(jobVerdict(job({ a: { outcome: 'ok' }, b: { outcome: 'unreachable', message: 'gone' }, c: { outcome: 'failed' } }), undefined),
      { status: 'failed', reason: '2 of 3 node(s) failed: b (gone); c (failed)' })
    assert.deepEqual(jobVerdict(job({ a: { outcome: 'ok' } }), 'timed out at T'), { status: 'cancelled', reason: 'timed out at T' })
  })
})

describe('playbook progress', () => {
  const record = (): JobRecord => ({ perNode: { n1: progress() } } as unknown as JobRecord)

  it('counts ok, changed and failed tasks on the node and records the job event', () => {
    const j = record()
    assert.deepEqual(playbookProgress(j, { type: 'task-start', play: 'p', task: 'T' }), { kind: 'task-start', task: 'T' })
    assert.equal(playbookProgress(j, { type: 'host-start', host: 'n1', task: 'T' }), undefined)
    assert.equal(j.perNode.n1?.task, 'T')
    assert.deepEqual(playbookProgress(j, { type: 'host-ok', host: 'n1', task: 'T', changed: true }), { kind: 'task-changed', node: 'n1', task: 'T' })
    assert.deepEqual(playbookProgress(j, { type: 'host-ok', host: 'n1', task: 'U', changed: false }), { kind: 'task-ok', node: 'n1', task: 'U' })
    assert.deepEqual(playbookProgress(j, { type: 'host-failed', host: 'n1', task: 'V', message: 'm', ignored: true }),
      { kind: 'task-failed', node: 'n1', task: 'V', message: 'm', data: { ignored: true } })
    playbookProgress(j, { type: 'host-failed', host: 'n1', task: 'W', message: 'm', ignored: false })
    assert.deepEqual([j.perNode.n1?.ok, j.perNode.n1?.changed, j.perNode.n1?.failed, j.perNode.n1?.task], [2, 1, 1, 'U'])
  })

  it('passes skipped, unreachable and stats through, and ignores unknown hosts', () => {
    const j = record()
    assert.deepEqual(playbookProgress(j, { type: 'host-skipped', host: 'n1', task: 'S' }), { kind: 'task-skipped', node: 'n1', task: 'S' })
    assert.deepEqual(playbookProgress(j, { type: 'host-unreachable', host: 'n1', task: 'S', message: 'm', reason: 'unreachable' }),
      { kind: 'unreachable', node: 'n1', task: 'S', message: 'm', data: { reason: 'unreachable' } })
    assert.deepEqual(playbookProgress(j, { type: 'stats', hosts: { n1: { ok: 1 } } } as any), { kind: 'stats', data: { n1: { ok: 1 } } })
    assert.deepEqual(playbookProgress(j, { type: 'host-ok', host: 'zz', task: 'T', changed: true }), { kind: 'task-changed', node: 'zz', task: 'T' })
    assert.deepEqual([j.perNode.n1?.ok, j.perNode.n1?.changed], [0, 0])
  })
})
