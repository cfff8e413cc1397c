// The cluster at a glance: the manager and its epoch, members by status, nodes by lifecycle
// state, drift; refreshed every few seconds while shown.

import { allNodes, api, ApiError } from './api.js'
import { badge, errorBox, every, facts, h, link, section, show, table } from './dom.js'
import { LIFECYCLE_STATES, MEMBER_STATUSES, countBy, driftSummary, driftText, nodeHref, jobHref, when } from './model.js'

/** How often the overview is fetched again. */
const REFRESH_MS = 5000

/** A failure that only one part of the page should show (no manager yet: no nodes either). */
async function partly (promise) {
  try {
    return { value: await promise }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw err
    if (!(err instanceof ApiError)) throw err
    return { error: err }
  }
}

function counts (entries, label) {
  return h('ul', { class: 'counts', 'aria-label': label }, entries.map(({ key, count }) =>
    h('li', { class: count === 0 ? 'zero' : '', 'data-key': key }, badge(key), h('span', { class: 'count' }, String(count)))))
}

function labelList (labels) {
  const entries = Object.entries(labels ?? {})
  return entries.length === 0 ? '-' : h('span', { class: 'labels' }, entries.map(([k, v]) => h('code', {}, `${k}=${v}`)))
}

function managerCard (manager) {
  if (manager.error !== undefined) return section('Manager', errorBox(manager.error))
  const m = manager.value
  return section('Manager', facts([
    ['Node', link(nodeHref(m.name), m.name)],
    ['Epoch', h('span', { id: 'manager-epoch' }, String(m.epoch))],
    ['Since', when(m.since)],
    ['Peer', h('code', {}, m.peerId)]
  ]))
}

function membersTable (members) {
  const rows = [...members].sort((a, b) => a.name.localeCompare(b.name))
  return section(`Members (${members.length})`, table([
    { header: 'Name', cell: m => link(nodeHref(m.name), m.name) },
    { header: 'Status', cell: m => badge(m.status) },
    { header: 'Address', cell: m => (m.addresses ?? [])[0] ?? '-' },
    { header: 'Labels', cell: m => labelList(m.labels) },
    { header: 'Eligible', cell: m => m.managerEligible ? 'yes' : 'no' },
    { header: 'Last seen', cell: m => when(m.lastSeen) }
  ], rows, { id: 'members' }))
}

function nodesSummary (nodes) {
  if (nodes.error !== undefined) return section('Nodes', errorBox(nodes.error))
  const drift = driftSummary(nodes.value)
  return section(`Nodes by lifecycle state (${nodes.value.length})`,
    counts(countBy(nodes.value, n => n.state, LIFECYCLE_STATES), 'nodes by lifecycle state'),
    h('p', { class: 'drift', id: 'drift-summary' }, `Drift of commissioned nodes: ${drift.inSync} in sync, ${drift.drifted} drifted, ${drift.unchecked} never verified`))
}

function nodesTable (nodes) {
  if (nodes.error !== undefined) return null
  return section('Nodes', table([
    { header: 'Name', cell: n => link(nodeHref(n.name), n.name) },
    { header: 'State', cell: n => badge(n.state) },
    { header: 'Reachable', cell: n => n.reachable ? 'yes' : badge('unreachable') },
    { header: 'Roles', cell: n => n.roles.join(', ') || '-' },
    { header: 'Drift', cell: n => driftText(n) },
    { header: 'Job', cell: n => n.currentJob !== null ? link(jobHref(n.currentJob), n.currentJob) : '-' },
    { header: 'Since', cell: n => when(n.since) }
  ], nodes.value, { id: 'nodes' }))
}

/** Show the overview in `main` until `signal` aborts (another page was opened). */
export async function overviewPage (main, signal) {
  await every(REFRESH_MS, signal, main, async () => {
    const [members, manager, nodes] = await Promise.all([
      api('GET', '/v1/members?facts=cached', undefined, signal),
      partly(api('GET', '/v1/manager', undefined, signal)),
      partly(allNodes(signal))
    ])
    if (signal.aborted) return
    show(main, h('h1', {}, 'Cluster'),
      h('div', { class: 'grid' },
        managerCard(manager),
        section(`Members by status (${members.length})`, counts(countBy(members, m => m.status, MEMBER_STATUSES), 'members by status')),
        nodesSummary(nodes)),
      nodesTable(nodes),
      membersTable(members))
    main.dataset.loaded = 'overview'
    // For bench/console: time from navigation to the first full overview.
    if (performance.getEntriesByName('clusterd:overview').length === 0) performance.mark('clusterd:overview')
  })
}
