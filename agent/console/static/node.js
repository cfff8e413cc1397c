// A node's page: its record (state, roles, drift, jobs), the labels and facts it reports,
// its lifecycle history, and the actions an operator takes on it, each behind a confirmation.

import { api } from './api.js'
import { badge, errorBox, facts, h, link, section, show, table } from './dom.js'
import { bytes, driftText, jobHref, when } from './model.js'

function labels (member) {
  const entries = Object.entries(member?.labels ?? {})
  if (entries.length === 0) return h('p', { class: 'muted' }, member === null ? 'Membership does not know this node now.' : 'No labels.')
  return table([{ header: 'Label', cell: e => e[0] }, { header: 'Value', cell: e => e[1] }], entries, { id: 'labels' })
}

function factsCard (f) {
  if (f === null) return section('Facts', h('p', { class: 'muted' }, 'The node reports no facts now.'))
  return section('Facts',
    facts([
      ['Hostname', f.hostname],
      ['Addresses', f.addresses.join(', ') || '-'],
      ['OS', `${f.os?.distro ?? ''} ${f.os?.release ?? ''} (${f.os?.platform ?? ''})`],
      ['Kernel', f.kernel],
      ['Architecture', f.arch],
      ['CPUs', String(f.cpus)],
      ['Memory', bytes(f.memoryBytes)],
      ['Agent', f.agentVersion],
      ['SSH host keys', (f.sshHostKeys ?? []).map(k => k.type).join(', ') || '-']
    ]),
    (f.disks ?? []).length === 0
      ? null
      : table([
        { header: 'Mount', cell: d => d.mount },
        { header: 'Size', cell: d => bytes(d.sizeBytes), class: 'num' },
        { header: 'Free', cell: d => bytes(d.freeBytes), class: 'num' }
      ], f.disks, { id: 'disks' }))
}

function historyCard (events) {
  const rows = [...events].reverse()
  return section(`History (${events.length})`, table([
    { header: '#', cell: e => String(e.seq), class: 'num' },
    { header: 'At', cell: e => when(e.at) },
    { header: 'Event', cell: e => e.type },
    { header: 'State', cell: e => e.from === null || e.from === e.to ? badge(e.to) : h('span', {}, badge(e.from), ' → ', badge(e.to)) },
    { header: 'By', cell: e => e.actor },
    { header: 'Job', cell: e => e.jobId === null ? '-' : link(jobHref(e.jobId), e.jobId) },
    { header: 'Why', cell: e => e.reason ?? (e.drift !== undefined ? driftText(e) : '') }
  ], rows, { id: 'history' }))
}

/**
 * The actions: pressing one opens a confirmation naming the node and what will happen;
 * only "Confirm" sends the request. The job it starts opens on its own page.
 */
function actionsCard (name, state) {
  const area = h('div', { class: 'confirm', id: 'confirm', hidden: true })
  const roles = h('input', { id: 'roles', type: 'text', placeholder: 'roles, comma-separated', autocomplete: 'off', spellcheck: 'false' })
  const ask = (label, what, request) => () => {
    show(area,
      h('p', {}, what),
      h('button', {
        id: 'confirm-yes',
        class: 'danger',
        onclick: async (ev) => {
          ev.target.disabled = true
          try {
            const job = await api('POST', request.path, request.body())
            location.hash = jobHref(job.id)
          } catch (err) {
            show(area, errorBox(err))
          }
        }
      }, `Confirm ${label}`),
      ' ',
      h('button', { id: 'confirm-no', onclick: () => { area.hidden = true; area.replaceChildren() } }, 'Cancel'))
    area.hidden = false
  }
  const rolesOf = () => roles.value.split(',').map(r => r.trim()).filter(r => r !== '')
  return section('Actions',
    h('p', { class: 'muted' }, `The node is ${state}. The manager checks each request; a refused one says why.`),
    h('div', { class: 'actions' },
      h('span', { class: 'field' }, roles,
        h('button', {
          id: 'act-commission',
          onclick: () => ask('commission', `Commission ${name} with roles ${rolesOf().join(', ') || '(none given)'}? Ansible will apply them over SSH.`,
            { path: '/v1/commission', body: () => ({ nodes: [name], roles: rolesOf() }) })()
        }, 'Commission…')),
      h('button', { id: 'act-verify', onclick: ask('verify', `Verify ${name}? Its roles run in check mode; nothing changes on the node, drift is recorded.`, { path: '/v1/verify', body: () => ({ nodes: [name] }) }) }, 'Verify…'),
      h('button', { id: 'act-decommission', class: 'danger', onclick: ask('decommission', `Decommission ${name}? Its roles are removed and it leaves service.`, { path: '/v1/decommission', body: () => ({ nodes: [name] }) }) }, 'Decommission…')),
    area)
}

/** Show node `name` in `main`. */
export async function nodePage (main, name, signal) {
  const detail = await api('GET', `/v1/nodes/${encodeURIComponent(name)}`, undefined, signal)
  if (signal.aborted) return
  const n = detail.node
  show(main,
    h('h1', {}, 'Node ', h('span', { id: 'node-name' }, n.name), ' ', badge(n.state)),
    h('div', { class: 'grid' },
      section('Record', facts([
        ['State', h('span', { id: 'node-state' }, n.state)],
        ['Since', when(n.since)],
        ['Reachable', n.reachable ? 'yes' : 'no'],
        ['Roles', h('span', { id: 'node-roles' }, n.roles.join(', ') || '-')],
        ['Drift', n.drift === null ? 'never verified' : `${driftText(n)} (checked ${when(n.drift.checkedAt)})${n.drift.tasks.length > 0 ? ': ' + n.drift.tasks.join('; ') : ''}`],
        ['Current job', n.currentJob === null ? '-' : link(jobHref(n.currentJob), n.currentJob)],
        ['Last job', n.lastJob === null ? '-' : link(jobHref(n.lastJob), n.lastJob)],
        ['Reason', n.reason ?? '-'],
        ['Peer', h('code', {}, n.peerId)],
        ['Discovered', when(n.discoveredAt)]
      ])),
      section('Labels', labels(detail.member)),
      actionsCard(n.name, n.state)),
    factsCard(detail.facts),
    historyCard(detail.events))
  main.dataset.loaded = 'node'
  if (performance.getEntriesByName('clusterd:node').length === 0) performance.mark('clusterd:node')
}
