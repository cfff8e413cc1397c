// Jobs: the list, and one job with live per-node progress from the same feed
// `clusterctl ... --wait` follows (GET /v1/jobs/:id/events?follow=1), resumed after a break.

import { api, followJob } from './api.js'
import { badge, errorBox, every, facts, h, link, section, show, table } from './dom.js'
import { applyFeedItem, jobHref, jobRows, newJobView, nodeHref, when } from './model.js'

/** How often the job list is fetched again. */
const REFRESH_MS = 5000

/** Show the newest jobs in `main`, refreshed until `signal` aborts. */
export async function jobsPage (main, signal) {
  await every(REFRESH_MS, signal, main, async () => {
    const jobs = await api('GET', '/v1/jobs?limit=200', undefined, signal)
    if (signal.aborted) return
    show(main, h('h1', {}, `Jobs (${jobs.length})`), section('Newest first', table([
      { header: 'Job', cell: j => link(jobHref(j.id), j.id) },
      { header: 'Kind', cell: j => j.kind },
      { header: 'Status', cell: j => badge(j.status) },
      { header: 'Nodes', cell: j => h('span', {}, j.nodes.slice(0, 5).map((n, i) => [i > 0 ? ', ' : '', link(nodeHref(n), n)]), j.nodes.length > 5 ? ` and ${j.nodes.length - 5} more` : '') },
      { header: 'Created', cell: j => when(j.createdAt) },
      { header: 'Finished', cell: j => when(j.finishedAt) },
      { header: 'Reason', cell: j => j.reason ?? '' }
    ], jobs, { id: 'jobs' })))
    main.dataset.loaded = 'jobs'
  })
}

function progressTable (view) {
  return table([
    { header: 'Node', cell: r => link(nodeHref(r.node), r.node) },
    { header: 'Outcome', cell: r => badge(r.outcome) },
    { header: 'Step', cell: r => r.step || '-' },
    { header: 'Task', cell: r => r.task || '-' },
    { header: 'OK', cell: r => String(r.ok), class: 'num' },
    { header: 'Changed', cell: r => String(r.changed), class: 'num' },
    { header: 'Failed', cell: r => String(r.failed), class: 'num' },
    { header: 'Message', cell: r => r.message }
  ], jobRows(view), { id: 'progress' })
}

function eventLine (e) {
  return h('li', {}, h('time', {}, when(e.at)), ' ', e.node !== undefined ? h('b', {}, e.node) : '', ' ', e.kind, e.task !== undefined ? ` "${e.task}"` : '', e.message !== undefined ? `: ${e.message}` : '')
}

/** Show job `id` in `main`, following its feed until it finishes or `signal` aborts. */
export async function jobPage (main, id, signal) {
  const view = newJobView()
  const head = h('div')
  const progress = h('div')
  const log = h('ol', { class: 'log', id: 'job-log' })
  let shown = 0
  const draw = () => {
    const j = view.job
    if (j === null) return
    show(head, facts([
      ['Kind', j.kind],
      ['Status', h('span', { id: 'job-status' }, badge(j.status))],
      ['Feed', h('span', { id: 'job-feed' }, view.feed, view.note !== '' ? ` — ${view.note}` : '')],
      ['Nodes', String(j.nodes.length)],
      ['Roles', j.roles.join(', ') || '-'],
      ['Created', when(j.createdAt)],
      ['Started', when(j.startedAt)],
      ['Finished', when(j.finishedAt)],
      ['Reason', j.reason ?? '-'],
      ['Manager epoch', String(j.epoch)]
    ]))
    show(progress, progressTable(view))
    // Events are appended, not redrawn: the log can be long and is read while it grows.
    if (shown > view.events.length) { log.replaceChildren(); shown = 0 }
    for (const e of view.events.slice(shown)) log.append(eventLine(e))
    shown = view.events.length
  }
  let first = true
  for await (const item of followJob(id, signal)) {
    if (signal.aborted) return
    applyFeedItem(view, item)
    if (first && view.job === null && item.type === 'reconnect') show(main, h('p', { class: 'muted' }, `Job ${id}: ${view.note}`))
    if (first && view.job !== null) {
      first = false
      show(main, h('h1', {}, 'Job ', h('span', { id: 'job-id' }, id)),
        h('div', { class: 'grid' }, section('Job', head), section('Progress per node', progress)),
        section('Events', log))
      main.dataset.loaded = 'job'
    }
    draw()
  }
  if (first && !signal.aborted) show(main, errorBox({ code: 'NOT_FOUND', message: `job ${id} sent nothing` }))
}
