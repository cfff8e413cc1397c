/**
 * A fake manager for CLI tests: a real ApiServer on a temp socket serving canned answers on
 * every manager route, recording each request (method, route, params, query, body). Job
 * feeds are scripted by job id:
 * - `*-ok`: every node ends `ok`; `*-fail`: node `bad1` fails a task, the job fails;
 * - `commission-flaky`: the first stream breaks after 2 events with CLUSTERD_ERR_NO_MANAGER
 *   (as the agent's gateway reports a lost manager), later requests resume;
 * - `commission-dead`: every request fails with CLUSTERD_ERR_NO_MANAGER.
 * Node names decide the job: `bad1` → fail, `flaky1` → flaky, `dead1` → dead.
 */

import { revisionHandlers } from './revision-fixture.js'
import { ApiReply, type ApiHandler, type ApiRequest } from '../../../protocol/api-handler.js'
import { MANAGER_ROUTES, LOCAL_ROUTES } from '../../../protocol/api-routes.js'
import type { LeaseStatus } from '../../../protocol/fencing-wire.js'
import { ClusterdError } from '../../../protocol/errors.js'
import type { JobEvent, JobKind, JobRecord } from '../../../protocol/jobs.js'
import type { JobFeedItem, NodeDetail } from '../../../protocol/manager-api.js'
import type { ManagerInfo } from '../../../protocol/manager-wire.js'
import type { LifecycleEvent, LifecycleEventType, NodeRecord } from '../../../protocol/nodes.js'
import type { CommandContext } from '../../../cli/context.js'
import { MEMBERS, startFixture, type Fixture } from './fixtures.js'

/** The peer `node rebind db1` may move db1's name to (a reinstalled machine). */
export const NEW_PEER = '12D3KooWNewMachineAfterReinstaWWWWWWWWWWWWWWWWWWWWWW'

/** The manager as `GET /v1/manager` reports it. */
export const MANAGER: ManagerInfo = {
  name: 'db1',
  peerId: '12D3KooWA',
  epoch: 4,
  since: '2026-11-22T09:00:00.000Z',
  local: true
}

/** This node's fencing state as `GET /v1/lease` reports it: a live lease of epoch 4. */
export const LEASE: LeaseStatus = {
  highestEpoch: 4,
  lease: { epoch: 4, holder: '12D3KooWA', leaseId: '0123456789abcdef0123456789abcdef', grantedAt: Date.parse('2026-11-22T09:59:55.000Z'), expiresAt: Date.parse('2026-11-22T10:00:10.000Z'), live: true },
  leaseFile: '/var/lib/clusterd/lease.json'
}

/** Two nodes, deliberately not in name order. */
export const NODES: NodeRecord[] = [
  {
    name: 'web2',
    peerId: '12D3KooWB',
    state: 'commission-failed',
    roles: [],
    vars: {},
    reachable: false,
    currentJob: null,
    lastJob: 'j-20261122-2',
    reason: 'task Install packages failed',
    since: '2026-11-22T10:03:00.000Z',
    discoveredAt: '2026-11-22T09:00:00.000Z',
    updatedAt: '2026-11-22T10:03:00.000Z',
    boot: null,
    drift: null,
    nameConflicts: [],
    revision: null,
    agentVersion: null, cordoned: false, labels: {}
  },
  {
    name: 'db1',
    peerId: '12D3KooWA',
    state: 'commissioned',
    roles: ['base', 'storage'],
    vars: { disk: '/dev/vdb' },
    reachable: true,
    currentJob: null,
    lastJob: 'j-20261122-1',
    reason: null,
    since: '2026-11-22T10:00:00.000Z',
    discoveredAt: '2026-11-22T09:00:00.000Z',
    updatedAt: '2026-11-22T10:00:00.000Z',
    boot: { id: '6f1c0d5e-1b7a-4c1e-9a57-2b0f3d4c5e6f', agentStartedAt: '2026-11-22T09:59:00.000Z' },
    drift: { checkedAt: '2026-11-22T10:01:00.000Z', jobId: 'j-20261122-3', changed: 1, tasks: ['Worker config is rendered'] },
    nameConflicts: [{ peerId: '12D3KooWX', since: '2026-11-22T10:02:00.000Z' }],
    revision: 1,
    agentVersion: '0.1.0', cordoned: false, labels: {}
  }
]

/** Lifecycle events of db1, out of order. */
export const EVENTS: LifecycleEvent[] = [
  { seq: 2, gseq: 7, node: 'db1', at: '2026-11-22T09:30:00.000Z', type: 'commission-requested', from: 'discovered', to: 'commissioning', reason: null, jobId: 'j-20261122-1', actor: 'operator', roles: ['storage'] },
  { seq: 1, gseq: 3, node: 'db1', at: '2026-11-22T09:00:00.000Z', type: 'discovered', from: null, to: 'discovered', reason: null, jobId: null, actor: 'membership' },
  { seq: 3, gseq: 9, node: 'db1', at: '2026-11-22T10:00:00.000Z', type: 'job-succeeded', from: 'commissioning', to: 'commissioned', reason: null, jobId: 'j-20261122-1', actor: 'job-runner' }
]

/** The detail of db1 (with the facts of MEMBERS' db1 filled in). */
export const DB1: NodeDetail = {
  node: NODES[1] as NodeRecord,
  member: { ...(MEMBERS[1] as NonNullable<typeof MEMBERS[1]>) },
  facts: {
    hostname: 'db1',
    addresses: ['10.0.0.1', 'fd00::1'],
    os: { platform: 'linux', release: '6.1.0-13-amd64', distro: 'Debian GNU/Linux 12 (bookworm)' },
    kernel: '6.1.0-13-amd64',
    arch: 'x64',
    cpus: 4,
    memoryBytes: 4 * 1024 ** 3,
    disks: [],
    agentVersion: '0.1.0',
    sshHostKeys: [{ type: 'ssh-ed25519', key: 'AAAA' }, { type: 'ecdsa-sha2-nistp256', key: 'BBBB' }]
  },
  events: EVENTS
}

/** A finished, failed job. */
export const FAILED_JOB: JobRecord = {
  id: 'j-20261122-2',
  kind: 'commission',
  nodes: ['web2', 'db1'],
  roles: ['worker'],
  vars: { ntp_server: '10.0.0.9' },
  status: 'failed',
  createdAt: '2026-11-22T10:01:00.000Z',
  startedAt: '2026-11-22T10:01:01.000Z',
  finishedAt: '2026-11-22T10:03:00.000Z',
  timeoutAt: '2026-11-22T10:31:00.000Z',
  reason: '1 of 2 node(s) failed: web2 (task Install packages failed)',
  perNode: {
    web2: { outcome: 'failed', step: 'playbook', task: 'Install packages', ok: 2, changed: 1, failed: 1, message: 'task Install packages failed' },
    db1: { outcome: 'ok', step: 'playbook', task: 'Start service', ok: 5, changed: 2, failed: 0 }
  },
  epoch: 4
}

/** Events of FAILED_JOB. */
export const FAILED_JOB_EVENTS: JobEvent[] = [
  { jobId: FAILED_JOB.id, seq: 1, at: '2026-11-22T10:01:00.000Z', kind: 'status', message: 'commission of web2, db1 queued by operator' },
  { jobId: FAILED_JOB.id, seq: 2, at: '2026-11-22T10:01:02.000Z', kind: 'task-start', task: 'Install packages' },
  { jobId: FAILED_JOB.id, seq: 3, at: '2026-11-22T10:01:09.000Z', node: 'web2', kind: 'task-failed', task: 'Install packages', message: 'No package\nmatching foo' }
]

/** One recorded request. */
export interface Recorded {
  route: string
  method: string
  params: Record<string, string>
  query: Record<string, string>
  body: unknown
}

/** The started fake manager. */
export interface ManagerFixture extends Fixture {
  requests: Recorded[]
  /** Requests to one route, e.g. `commission`. */
  requestsTo: (route: string) => Recorded[]
}

/** A job as the manager would create it, its id scripted by the nodes named. */
export function scriptedJob (kind: JobKind, nodes: string[], roles: string[], vars: Record<string, string>): JobRecord {
  const flavour = nodes.includes('dead1') ? 'dead' : nodes.includes('flaky1') ? 'flaky' : nodes.includes('bad1') ? 'fail' : 'ok'
  const perNode: JobRecord['perNode'] = {}
  for (const n of nodes) perNode[n] = { outcome: 'pending', ok: 0, changed: 0, failed: 0 }
  return {
    id: `${kind}-${flavour}`,
    kind,
    nodes,
    roles,
    vars,
    status: 'queued',
    createdAt: '2026-11-22T10:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    timeoutAt: '2026-11-22T10:30:00.000Z',
    reason: null,
    perNode,
    epoch: 4
  }
}

/** The scripted feed of a job: its events and job updates, ending with the finished job. */
export function scriptedFeed (job: JobRecord): JobFeedItem[] {
  const items: JobFeedItem[] = []
  let seq = 0
  const event = (e: Omit<JobEvent, 'jobId' | 'seq' | 'at'>): void => {
    seq++
    items.push({ type: 'event', event: { jobId: job.id, seq, at: `2026-11-22T10:00:${String(seq).padStart(2, '0')}.000Z`, ...e } })
  }
  const running: JobRecord = structuredClone({ ...job, status: 'running', startedAt: '2026-11-22T10:00:01.000Z' })
  event({ kind: 'status', message: 'running' })
  for (const n of job.nodes) {
    (running.perNode[n] as JobRecord['perNode'][string]).outcome = 'running'
    event({ kind: 'precheck', node: n, message: 'ok' })
  }
  items.push({ type: 'job', job: structuredClone(running) })
  event({ kind: 'task-start', task: 'Install packages' })
  const done = structuredClone(running)
  for (const n of job.nodes) {
    const p = done.perNode[n] as JobRecord['perNode'][string]
    p.task = 'Install packages'
    if (n === 'bad1') {
      event({ kind: 'task-failed', node: n, task: 'Install packages', message: 'No package matching foo' })
      Object.assign(p, { outcome: 'failed', ok: 1, changed: 0, failed: 1, message: 'task Install packages failed' })
    } else {
      event({ kind: 'task-changed', node: n, task: 'Install packages' })
      Object.assign(p, { outcome: 'ok', ok: 3, changed: 1, failed: 0 })
      // A verify of a node named drift* finds a task that would change it.
      if (job.kind === 'verify') p.drift = n.startsWith('drift') ? { changed: 1, tasks: ['Install packages'] } : { changed: 0, tasks: [] }
    }
  }
  const failed = job.nodes.filter(n => done.perNode[n]?.outcome !== 'ok')
  done.status = failed.length > 0 ? 'failed' : 'succeeded'
  done.finishedAt = '2026-11-22T10:00:30.000Z'
  done.reason = failed.length > 0 ? `${failed.length} of ${job.nodes.length} node(s) failed: bad1 (task Install packages failed)` : null
  event({ kind: 'status', message: `job ${done.status}` })
  items.push({ type: 'job', job: done })
  return items
}

function record (requests: Recorded[], route: string, method: string, handler: ApiHandler): ApiHandler {
  return async (req: ApiRequest) => {
    requests.push({ route, method, params: req.params, query: req.query, body: req.body })
    return await handler(req)
  }
}

/** Start the fake manager. */
export async function startManagerFixture (options: { extraNodes?: NodeRecord[] } = {}): Promise<ManagerFixture> {
  const extraNodes = options.extraNodes ?? []
  const fx = await startFixture()
  const requests: Recorded[] = []
  const jobs = new Map<string, JobRecord>([[FAILED_JOB.id, FAILED_JOB]])
  const feedCalls = new Map<string, number>()
  const config: Record<string, unknown> = { 'on-return': 'reconfigure', vars: { ntp_server: '10.0.0.9' } }
  const create = (kind: JobKind) => async ({ body }: ApiRequest): Promise<ApiReply> => {
    const o = body as { nodes: string[], roles?: string[], vars?: Record<string, string>, all?: boolean, allDiscovered?: boolean }
    const nodes = o.all === true ? ['db1'] : o.allDiscovered === true ? ['web2'] : o.nodes
    if (nodes.includes('busy1')) throw new ClusterdError('CLUSTERD_ERR_NODE_BUSY', 'node busy1 is already in job j-1; wait for it or cancel it')
    const job = scriptedJob(kind, nodes, o.roles ?? [], o.vars ?? {})
    jobs.set(job.id, job)
    return new ApiReply(202, job)
  }
  // The maintenance routes' contract (node-maintenance-routes.ts): the record after and its event.
  const nodeChange = (type: LifecycleEventType, patch: (body: unknown, node: NodeRecord) => Partial<NodeRecord>): ApiHandler => async ({ params, body }) => {
    const before = [...NODES, ...extraNodes].find(n => n.name === params.name)
    if (before === undefined) throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node named ${params.name ?? ''}`)
    const node = { ...before, ...patch(body, before) }
    return { node, event: { seq: 6, gseq: 14, node: node.name, at: '2026-11-22T10:07:00.000Z', type, from: before.state, to: node.state, reason: node.reason, jobId: null, actor: 'operator' } }
  }
  const jobNamed = (id: string | undefined): JobRecord => {
    const job = jobs.get(id ?? '')
    if (job === undefined) throw new ClusterdError('CLUSTERD_ERR_JOB_NOT_FOUND', `no job with id ${id ?? ''}`)
    return job
  }
  const handlers: Record<keyof typeof MANAGER_ROUTES, ApiHandler> = {
    ...revisionHandlers,
    listNodes: async ({ query }) => {
      // The manager's paging contract (manager-routes.ts): a bare array without parameters, else
      // one page and the `after` of the next; the order is the fixture's own (the manager's is by name).
      const all = [...NODES, ...extraNodes]
      if (query.limit === undefined && query.after === undefined) return all
      const rest = all.slice(query.after === undefined ? 0 : all.findIndex(n => n.name === query.after) + 1)
      const items = rest.slice(0, Number(query.limit ?? 500))
      return { items, next: items.length < rest.length ? items.at(-1)?.name ?? null : null }
    },
    showNode: async ({ params }) => {
      if (params.name !== 'db1') throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node named ${params.name ?? ''}`)
      return DB1
    },
    rebindNode: async ({ params, body }) => {
      if (params.name !== 'db1') throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node named ${params.name ?? ''}`)
      const peerId = (body as { peerId: string }).peerId
      if (peerId !== NEW_PEER) throw new ClusterdError('CLUSTERD_ERR_PEER_NOT_CLAIMING', `no member with peer id ${peerId} is known to the manager`)
      const node = { ...(NODES[1] as NodeRecord), peerId, nameConflicts: [], cordoned: false, labels: {} }
      return { node, event: { seq: 4, gseq: 12, node: 'db1', at: '2026-11-22T10:05:00.000Z', type: 'rebound', from: 'commissioned', to: 'commissioned', reason: `name moved from peer 12D3KooWA to peer ${peerId}`, jobId: null, actor: 'operator', peerId, previousPeerId: '12D3KooWA' } }
    },
    forgetNode: async ({ params, body }) => {
      const node = [...NODES, ...extraNodes].find(n => n.name === params.name)
      if (node === undefined) throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node named ${params.name ?? ''}`)
      if (node.reachable && (body as { force?: boolean } | undefined)?.force !== true) throw new ClusterdError('CLUSTERD_ERR_NODE_REACHABLE', `node ${node.name} is reachable`)
      return { node, event: { seq: 5, gseq: 13, node: node.name, at: '2026-11-22T10:06:00.000Z', type: 'forgotten', from: node.state, to: node.state, reason: 'record removed', jobId: null, actor: 'operator', peerId: node.peerId } }
    },
    setNodeRoles: async ({ params, body, ...rest }) => await create('reconfigure')({ ...rest, params, body: { nodes: [params.name ?? ''], ...(body as object) } }),
    cordonNode: nodeChange('cordoned', () => ({ cordoned: true })),
    uncordonNode: nodeChange('uncordoned', () => ({ cordoned: false })),
    markBroken: nodeChange('marked-broken', body => ({ state: 'broken', reason: (body as { reason: string }).reason })),
    markFixed: nodeChange('marked-fixed', () => ({ state: 'commissioned', reason: null })),
    labelNode: async req => {
      const res = await nodeChange('labels-set', (body, node) => {
        const labels = { ...node.labels, ...(body as { set?: Record<string, string> }).set }
        for (const k of (body as { remove?: string[] }).remove ?? []) delete labels[k]
        return { labels }
      })(req) as Record<string, unknown>
      // db1 is commissioned: the manager re-applies its configuration; web2 is not.
      if (req.params.name !== 'db1') return { ...res, job: null, notApplied: 'the node is commission-failed; run clusterctl reconfigure web2 later to apply them' }
      const job = scriptedJob('reconfigure', ['db1'], [], {})
      jobs.set(job.id, job)
      return { ...res, job }
    },
    nameBindings: async () => [...NODES, ...extraNodes].map(n => ({ name: n.name, peerId: n.peerId, conflicts: n.nameConflicts.map(c => c.peerId) })),
    commission: create('commission'),
    decommission: create('decommission'),
    upgrade: create('upgrade'),
    verify: create('verify'),
    reconfigure: create('reconfigure'),
    listJobs: async () => [FAILED_JOB],
    showJob: async ({ params }) => jobNamed(params.id),
    jobEvents: async ({ params, query }) => {
      const job = jobNamed(params.id)
      const after = Number(query.after ?? '0')
      if (job.id === FAILED_JOB.id) {
        const events = FAILED_JOB_EVENTS.filter(e => e.seq > after)
        if (query.follow !== '1') return events
        return (async function * () {
          for (const event of events) yield { type: 'event', event }
          yield { type: 'job', job: FAILED_JOB }
        })()
      }
      const calls = (feedCalls.get(job.id) ?? 0) + 1
      feedCalls.set(job.id, calls)
      if (job.id.endsWith('-dead')) throw new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'no manager is elected yet')
      const items = scriptedFeed(job).filter(i => i.type === 'job' || i.event.seq > after)
      return (async function * () {
        let events = 0
        for (const item of items) {
          if (job.id.endsWith('-flaky') && calls === 1 && item.type === 'event' && ++events > 2) {
            throw new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'the manager went away')
          }
          yield item
        }
      })()
    },
    cancelJob: async ({ params }) => {
      const job = jobNamed(params.id)
      if (job.status === 'failed') throw new ClusterdError('CLUSTERD_ERR_JOB_FINISHED', `job ${job.id} already failed`)
      return { ...job, status: 'cancelled', reason: 'cancelled: by operator' }
    },
    resumeJob: async ({ params }) => ({ ...jobNamed(params.id), status: 'queued', reason: null }),
    retryJob: async ({ params }) => ({ ...jobNamed(params.id), status: 'queued', reason: null }),
    listEvents: async () => EVENTS,
    getConfig: async () => config,
    getConfigKey: async ({ params }) => ({ key: params.key, value: config[params.key ?? ''] ?? null }),
    setConfigKey: async ({ params, body }) => {
      const value = (body as { value: unknown }).value
      // The real manager parses the text form; enough of it here to show the round trip.
      const stored = params.key === 'auto-commission' && value === 'worker@zone=a' ? { enabled: true, roles: ['worker'], selector: { zone: 'a' } } : value
      return { key: params.key, value: stored }
    },
    // A small consistent snapshot.
    backup: async () => (async function * () {
      yield { backup: 'start', revision: 3, createdAt: '2026-11-22T10:00:00.000Z', source: { peerId: MANAGER.peerId, epoch: MANAGER.epoch } }
      yield { backup: 'entries', entries: [{ key: 'c!vars', value: { ntp_server: '10.0.0.9' } }, { key: 'm!format', value: 1 }] }
      yield { backup: 'entries', entries: [{ key: 'm!gseq', value: 0 }, { key: 'm!revision', value: 3 }] }
      yield { backup: 'end', entries: 4 }
    })()
  }
  for (const [name, r] of Object.entries(MANAGER_ROUTES)) {
    fx.server.route(r.method, r.pattern, record(requests, name, r.method, handlers[name as keyof typeof MANAGER_ROUTES]))
  }
  fx.server.route(LOCAL_ROUTES.manager.method, LOCAL_ROUTES.manager.pattern, record(requests, 'manager', 'GET', async () => MANAGER))
  fx.server.route(LOCAL_ROUTES.lease.method, LOCAL_ROUTES.lease.pattern, record(requests, 'lease', 'GET', async () => LEASE))
  return { ...fx, requests, requestsTo: route => requests.filter(r => r.route === route) }
}

/** A command context for in-process tests: not a terminal, warnings collected. */
export function testContext (overrides: Partial<CommandContext> = {}): CommandContext & { warnings: string[] } {
  const warnings: string[] = []
  return { tty: false, columns: 100, warn: text => { warnings.push(text) }, warnings, ...overrides }
}

/** Collect a command result (text or stream) into one string; rethrows with what was printed so far attached. */
export async function collectOutput (result: string | AsyncIterable<string>): Promise<string> {
  if (typeof result === 'string') return result
  let out = ''
  try {
    for await (const chunk of result) out += chunk
  } catch (err) {
    throw Object.assign(err as Error, { output: out })
  }
  return out
}
