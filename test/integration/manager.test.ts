// The manager on real hosts: separate agent processes on network-namespace hosts with their own
// sshd, the elected manager running real ansible-runner over real SSH with pinned host keys,
// its state in a real LevelDB. Requests go through other agents (forwarding) and through the
// real clusterctl, as an operator would.
//
// One node is manager-eligible here: this suite is about one manager's lifecycle, jobs and
// restart; replication and failover between managers are issue #4's suite.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, CLUSTERCTL, NODE } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import { run } from '../harness/proc.js'
import type { JobRecord } from '../../protocol/jobs.js'
import type { LifecycleEvent, NodeRecord } from '../../protocol/nodes.js'

describe('manager on real hosts', () => {
  let fleet: AgentFleet
  const h = (i: number): TestHost => fleet.host(i)
  const agent = (i: number): AgentProcess => fleet.agent(i)
  /** A non-manager agent: every manager request below is forwarded. */
  const api = (): AgentProcess => agent(2)

  const nodes = async (): Promise<NodeRecord[]> => await api().client.request<NodeRecord[]>('GET', '/v1/nodes')
  const node = async (name: string): Promise<NodeRecord | undefined> => (await nodes()).find(n => n.name === name)
  const job = async (id: string): Promise<JobRecord> => await api().client.request<JobRecord>('GET', `/v1/jobs/${id}`)
  const finished = async (id: string, timeoutMs = 120_000): Promise<JobRecord> => await waitFor(async () => {
    const j = await job(id)
    return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined
  }, { timeoutMs, intervalMs: 250, message: `job ${id} did not finish` })
  /** Submit a job; a refusal names the jobs and the nodes' states, so a busy node says why. */
  const submit = async (path: string, body: unknown): Promise<JobRecord> => await api().client.request<JobRecord>('POST', path, body).catch(async (err: Error) => {
    const jobs = await api().client.request<JobRecord[]>('GET', '/v1/jobs').catch(() => [])
    const summary = jobs.map(j => `${j.id} ${j.kind} ${j.status} [${j.nodes.join(',')}] ${j.createdAt}-${String(j.finishedAt)}`).join('\n')
    const recs = (await nodes().catch(() => [])).map(n => `${n.name} ${n.state} job=${String(n.currentJob)} reachable=${String(n.reachable)}`).join('\n')
    throw new Error(`${path} refused: ${err.message}\njobs:\n${summary}\nnodes:\n${recs}`, { cause: err })
  })
  /** Run the real clusterctl inside a host, against that host's agent. */
  const clusterctl = async (i: number, args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await h(i).exec([NODE, CLUSTERCTL, '--addr', agent(i).socket, ...args], { timeoutMs: 180_000 })

  before(async () => {
    // Host 6 stays without an agent until the auto-commission test: the node that joins later.
    fleet = await AgentFleet.create({ suite: 'manager', prefix: 'mg', count: 6, managerKey: true, eligible: i => i === 0 })
    await fleet.startAll([0, 1, 2, 3, 4])
    // Each agent in turn, each with its own deadline.
    for (const a of fleet.agents) await fleet.waitForManager({ name: h(0).name, among: [a] })
    await waitFor(async () => (await nodes()).length === 5 ? true : undefined, { timeoutMs: 30_000, message: 'five nodes discovered' })
  })

  after(async () => {
    await fleet?.close()
  })

  it('every agent knows the elected manager and its epoch; joined nodes are discovered and reachable', async () => {
    const m = await agent(3).manager()
    assert.equal(m?.name, h(0).name)
    assert.ok((m?.epoch ?? 0) >= 1)
    for (const n of await nodes()) {
      assert.equal(n.state, 'discovered')
      assert.equal(n.reachable, true)
    }
  })

  it('commissions two workers (clusterctl --wait) and one storage node; each role lands on exactly its hosts', async () => {
    const res = await clusterctl(1, ['commission', h(1).name, h(2).name, '--role', 'worker', '--var', 'worker_slots=8', '--wait'])
    assert.equal(res.code, 0, `clusterctl commission --wait failed:\n${res.stdout}\n${res.stderr}`)
    const storage = await submit('/v1/commission', { nodes: [h(3).name], roles: ['storage'], vars: { storage_path: '/srv/store' } })
    assert.equal((await finished(storage.id)).status, 'succeeded')
    for (const i of [1, 2]) {
      assert.match(await h(i).readFile('/etc/clusterd-worker/worker.conf') ?? '', /8/, `worker config on ${h(i).name}`)
      assert.equal(await h(i).readFile('/etc/clusterd-storage/exports.conf'), null)
    }
    assert.notEqual(await h(3).readFile('/etc/clusterd-storage/exports.conf'), null)
    assert.equal(await h(3).readFile('/etc/clusterd-worker/worker.conf'), null)
    for (const i of [0, 4]) {
      assert.equal(await h(i).readFile('/etc/clusterd-worker/worker.conf'), null)
      assert.equal(await h(i).readFile('/etc/clusterd/node.json'), null)
    }
    assert.equal(JSON.parse(await h(3).readFile('/etc/clusterd/node.json') ?? '{}').name, h(3).name)
    assert.deepEqual((await node(h(1).name))?.roles, ['worker'])
    // Each node of a finished job ends commissioned and free: no job left on its record, and a
    // new operation on it is not refused as busy (CI once saw mg0-h3 still "in" this job).
    for (const i of [1, 2, 3]) {
      const rec = await node(h(i).name)
      const history = async (): Promise<string> => JSON.stringify(await api().client.request('GET', `/v1/events?node=${h(i).name}`))
      assert.equal(rec?.state, 'commissioned', `${h(i).name}: ${JSON.stringify(rec)}\n${await history()}`)
      assert.equal(rec?.currentJob, null, `${h(i).name} still in job ${String(rec?.currentJob)}\n${await history()}`)
    }
  })

  it('re-running a playbook changes nothing: a second upgrade of the same node reports zero changes', async () => {
    const first = await finished((await submit('/v1/upgrade', { nodes: [h(3).name] })).id)
    assert.equal(first.status, 'succeeded')
    assert.ok((first.perNode[h(3).name]?.changed ?? 0) > 0, 'the first upgrade records the version')
    const second = await finished((await submit('/v1/upgrade', { nodes: [h(3).name] })).id)
    assert.equal(second.status, 'succeeded')
    assert.equal(second.perNode[h(3).name]?.changed, 0, 'an idempotent re-run changes nothing')
    assert.equal((await node(h(3).name))?.state, 'commissioned')
  })

  it('refuses invalid requests with clear errors and changes nothing', async () => {
    const before = await api().client.request<LifecycleEvent[]>('GET', '/v1/events?limit=1000')
    const jobsBefore = await api().client.request<JobRecord[]>('GET', '/v1/jobs')
    const cases: Array<[string[], RegExp]> = [
      [['commission', h(1).name, '--role', 'worker'], /CLUSTERD_ERR_INVALID_TRANSITION/],
      [['commission', 'no-such-node', '--role', 'worker'], /CLUSTERD_ERR_NODE_NOT_FOUND/],
      [['commission', h(4).name, '--role', 'wizard'], /CLUSTERD_ERR_UNKNOWN_ROLE/],
      [['commission', h(4).name, '--role', 'storage'], /storage_path/],
      [['decommission', h(4).name, '--yes'], /CLUSTERD_ERR_INVALID_TRANSITION/]
    ]
    for (const [args, pattern] of cases) {
      const r = await clusterctl(2, args)
      assert.notEqual(r.code, 0, `${args.join(' ')} should fail`)
      assert.match(r.stderr, pattern)
      assert.equal(r.stderr.trim().split('\n').length, 1, 'a one-line error, no stack trace')
    }
    assert.deepEqual(await api().client.request('GET', '/v1/events?limit=1000'), before)
    assert.deepEqual(await api().client.request('GET', '/v1/jobs'), jobsBefore)
  })

  it('a task failing on one host fails that node only', async () => {
    // A plain file where the storage tree must go: the directory task fails on that host only.
    await h(4).exec(['sh', '-c', 'mkdir -p /srv && echo blocked > /srv/blocked'])
    const j = await submit('/v1/commission', { nodes: [h(0).name, h(4).name], roles: ['storage'], vars: { storage_path: '/srv/blocked' } })
    const done = await finished(j.id)
    assert.equal(done.status, 'failed')
    assert.equal(done.perNode[h(0).name]?.outcome, 'ok')
    assert.equal(done.perNode[h(4).name]?.outcome, 'failed')
    assert.match(done.perNode[h(4).name]?.message ?? '', /Storage tree exists|storage/i)
    assert.equal((await node(h(0).name))?.state, 'commissioned')
    const failed = await node(h(4).name)
    assert.equal(failed?.state, 'commission-failed')
    assert.ok((failed?.reason ?? '').length > 0, 'the failed node says why')
  })

  it('an unreachable host fails its job with that reason; a retry after the link returns succeeds', async () => {
    await h(4).exec(['rm', '-f', '/srv/blocked'])
    await h(4).cutLink()
    try {
      const j = await submit('/v1/commission', { nodes: [h(4).name], roles: ['worker'], vars: {} })
      const done = await finished(j.id)
      assert.equal(done.perNode[h(4).name]?.outcome, 'unreachable')
      assert.match(done.perNode[h(4).name]?.message ?? '', /unreachable|timed out|timeout/i)
      assert.equal((await node(h(4).name))?.state, 'commission-failed')
    } finally {
      await h(4).restoreLink()
    }
    await waitFor(async () => (await node(h(4).name))?.reachable === true ? true : undefined, { timeoutMs: 30_000, message: 'node reachable again' })
    const retry = await submit('/v1/commission', { nodes: [h(4).name], roles: ['worker'], vars: {} })
    assert.equal((await finished(retry.id)).status, 'succeeded')
    assert.equal((await node(h(4).name))?.state, 'commissioned')
  })

  it('decommission cleans the node and records every transition with its job', async () => {
    const j = await submit('/v1/decommission', { nodes: [h(2).name] })
    assert.equal((await finished(j.id)).status, 'succeeded')
    assert.equal(await h(2).readFile('/etc/clusterd-worker/worker.conf'), null)
    assert.notEqual(await h(2).readFile('/etc/clusterd/decommissioned.json'), null)
    const rec = await node(h(2).name)
    assert.equal(rec?.state, 'decommissioned')
    const events = await api().client.request<LifecycleEvent[]>('GET', `/v1/events?node=${h(2).name}`)
    assert.deepEqual(events.map(e => e.to), ['discovered', 'commissioning', 'commissioned', 'decommissioning', 'decommissioned'], JSON.stringify(events))
    assert.equal(events.at(-1)?.jobId, j.id)
  })

  it('a host whose SSH host key no longer matches the pinned key never gets a playbook', async () => {
    // Rotate the sshd host key behind the agent's back; its signed facts still carry the old key.
    const host = h(2)
    await host.exec(['sh', '-c', 'rm -f /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key.pub && ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key'])
    await run(['/bin/kill', '-HUP', String(host.pid)])
    const j = await submit('/v1/commission', { nodes: [host.name], roles: ['worker'], vars: {} })
    const done = await finished(j.id)
    assert.equal(done.perNode[host.name]?.outcome, 'failed')
    assert.match(done.perNode[host.name]?.message ?? '', /host-key-mismatch|host key/i)
    assert.equal(await host.readFile('/etc/clusterd-worker/worker.conf'), null, 'no playbook ran there')
    assert.match((await node(host.name))?.reason ?? '', /host.key/i)
  })

  it('the manager agent killed in the middle of a job leaves nothing stuck', async () => {
    const j = await submit('/v1/decommission', { nodes: [h(1).name] })
    await waitFor(async () => (await job(j.id)).status === 'running' ? true : undefined, { timeoutMs: 30_000, intervalMs: 50, message: 'job running' })
    await agent(0).stop('SIGKILL')
    await fleet.start(0)
    await waitFor(async () => (await agent(2).manager())?.name === h(0).name && (await agent(0).manager()) !== null ? true : undefined,
      { timeoutMs: 60_000, message: 'manager back' })
    const done = await finished(j.id, 180_000)
    assert.ok(['succeeded', 'failed'].includes(done.status), `job ended ${done.status}`)
    if (done.status === 'failed') assert.ok((done.perNode[h(1).name]?.message ?? '').length > 0, 'a failure says why')
    const rec = await node(h(1).name)
    assert.ok(rec !== undefined && !['commissioning', 'decommissioning', 'upgrading'].includes(rec.state), `node left in ${rec?.state}`)
    const events = await api().client.request<{ kind: string, message?: string }[]>('GET', `/v1/jobs/${j.id}/events`)
    assert.ok(events.some(e => e.kind === 'status' && /restarted/.test(e.message ?? '')), 'the job log says it resumed after the restart')
  })

  it('auto-commission picks up a newly joined node that matches the selector', async () => {
    const set = await clusterctl(3, ['config', 'set', 'auto-commission', 'worker@tier=auto'])
    assert.equal(set.code, 0, set.stderr)
    const fresh = h(5)
    const a = await fleet.start(5, { labels: { tier: 'auto' } })
    await waitFor(async () => (await node(fresh.name))?.state === 'commissioned' ? true : undefined,
      { timeoutMs: 120_000, intervalMs: 500, message: () => `auto-commission did not commission ${fresh.name}:\nmanager:\n${agent(0).output.slice(-3000)}\nnew node (pid ${String(a.proc.pid)}, exit ${String(a.proc.exitCode)}):\n${a.output.slice(-3000)}` })
    const events = await api().client.request<LifecycleEvent[]>('GET', `/v1/events?node=${fresh.name}`)
    assert.ok(events.some(e => e.type === 'commission-requested' && e.actor === 'auto-commission' && e.jobId !== null))
    assert.notEqual(await fresh.readFile('/etc/clusterd-worker/worker.conf'), null)
  })
})
