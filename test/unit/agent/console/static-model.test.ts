// The console's pure browser logic (agent/console/static/model.js), imported as the browser
// imports it; and a guard that no console file builds markup from strings.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { LIFECYCLE_STATES } from '../../../../protocol/nodes.js'
import { JOB_STATUSES, isRestingJobStatus, isTerminalJobStatus } from '../../../../protocol/jobs.js'
import { REPO_ROOT } from '../../../harness/constants.js'

const STATIC = join(REPO_ROOT, 'agent', 'console', 'static')

/* eslint-disable @typescript-eslint/no-explicit-any */
const model: any = await import(pathToFileURL(join(STATIC, 'model.js')).href)

describe('console model', () => {
  it('knows the protocol\'s lifecycle states and terminal job statuses', () => {
    assert.deepEqual([...model.LIFECYCLE_STATES], [...LIFECYCLE_STATES])
    assert.deepEqual(JOB_STATUSES.filter(s => model.isTerminal(s)), JOB_STATUSES.filter(s => isTerminalJobStatus(s)))
    assert.deepEqual(JOB_STATUSES.filter(s => model.isResting(s)), JOB_STATUSES.filter(s => isRestingJobStatus(s)))
  })

  it('counts by key in display order, zeros included, unknown keys after', () => {
    const counts = model.countBy([{ s: 'b' }, { s: 'x' }, { s: 'b' }], (i: { s: string }) => i.s, ['a', 'b'])
    assert.deepEqual(counts, [{ key: 'a', count: 0 }, { key: 'b', count: 2 }, { key: 'x', count: 1 }])
  })

  it('sums up drift over commissioned nodes only', () => {
    const nodes = [
      { state: 'commissioned', drift: null },
      { state: 'commissioned', drift: { changed: 0 } },
      { state: 'commissioned', drift: { changed: 3 } },
      { state: 'discovered', drift: { changed: 1 } }
    ]
    assert.deepEqual(model.driftSummary(nodes), { inSync: 1, drifted: 1, unchecked: 1 })
    assert.equal(model.driftText(nodes[2]), '3 changes')
    assert.equal(model.driftText(nodes[1]), 'in sync')
    assert.equal(model.driftText(nodes[0]), '-')
  })

  it('applies the job feed: events once each in order, the running task per node, the job, reconnect notes', () => {
    const view = model.newJobView()
    const job = { id: 'j', nodes: ['a', 'b'], status: 'running', perNode: { a: { outcome: 'running', ok: 1, changed: 0, failed: 0, task: 'old' }, b: { outcome: 'ok', ok: 2, changed: 1, failed: 0, task: 'done' } } }
    model.applyFeedItem(view, { type: 'event', event: { seq: 1, node: 'a', kind: 'task-start', task: 'install' } })
    model.applyFeedItem(view, { type: 'event', event: { seq: 1, node: 'a', kind: 'task-start', task: 'dup' } })
    model.applyFeedItem(view, { type: 'job', job })
    assert.equal(view.events.length, 1)
    assert.equal(view.feed, 'live')
    assert.deepEqual(model.jobRows(view).map((r: { node: string, task: string, outcome: string }) => [r.node, r.outcome, r.task]), [['a', 'running', 'install'], ['b', 'ok', 'done']])
    model.applyFeedItem(view, { type: 'reconnect', attempt: 2, reason: 'no manager' })
    assert.equal(view.feed, 'reconnecting')
    assert.equal(view.note, 'reconnecting (attempt 2): no manager')
    model.applyFeedItem(view, { type: 'job', job: { ...job, status: 'succeeded' } })
    assert.equal(view.feed, 'finished')
  })

  it('keeps only the newest events', () => {
    const view = model.newJobView()
    for (let seq = 1; seq <= model.MAX_SHOWN_EVENTS + 10; seq++) model.applyFeedItem(view, { type: 'event', event: { seq, kind: 'log' } })
    assert.equal(view.events.length, model.MAX_SHOWN_EVENTS)
    assert.equal(view.events[0].seq, 11)
  })

  it('splits NDJSON across chunk boundaries and never throws on a bad line', () => {
    const lines = new model.NdjsonLines()
    assert.deepEqual(lines.push('{"a":1}\n{"b"'), [{ a: 1 }])
    assert.deepEqual(lines.push(':2}\n\nnot json\n'), [{ b: 2 }, { error: { code: 'BAD_LINE', message: 'the stream sent a line that is not JSON: not json' } }])
  })

  it('parses the location hash; names stay one segment, bad encodings are unknown pages', () => {
    assert.deepEqual(model.parseHash(''), { page: 'overview' })
    assert.deepEqual(model.parseHash('#/'), { page: 'overview' })
    assert.deepEqual(model.parseHash(model.nodeHref('a/b c')), { page: 'node', name: 'a/b c' })
    assert.deepEqual(model.parseHash('#/jobs'), { page: 'jobs' })
    assert.deepEqual(model.parseHash(model.jobHref('j-1')), { page: 'job', id: 'j-1' })
    assert.deepEqual(model.parseHash('#/nodes/%E0%A4%A'), { page: 'unknown' })
    assert.deepEqual(model.parseHash('#/nodes/a/b'), { page: 'unknown' })
  })

  it('no console file turns strings into markup or code', async () => {
    for (const name of await readdir(STATIC)) {
      if (!name.endsWith('.js') && !name.endsWith('.html')) continue
      const text = await readFile(join(STATIC, name), 'utf8')
      for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function', 'javascript:', '<script>', 'style=', ' on' + 'click=']) {
        assert.ok(!text.includes(sink), `${name} uses ${sink}`)
      }
    }
  })
})
