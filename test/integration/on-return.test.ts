// Nodes that return, on real hosts: separate agent processes on network-namespace hosts
// with their own sshd, the manager running real ansible-runner over real SSH. A commissioned
// worker's agent is killed (-9) and started again; the manager notices the return from the
// new agent start in the node's signed facts and applies the on-return policy: verify (check
// mode: drift reported, nothing changed), reconfigure (the hand edit is undone), none (only
// the event).

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, CLUSTERCTL, NODE } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import type { JobRecord } from '../../protocol/jobs.js'
import type { LifecycleEvent, NodeRecord } from '../../protocol/nodes.js'

const WORKER_CONF = '/etc/clusterd-worker/worker.conf'
const CONF_TASK = 'Worker config is rendered'

describe('nodes that return (on-return policy) on real hosts', () => {
  let fleet: AgentFleet
  const h = (i: number): TestHost => fleet.host(i)
  const agent = (i: number): AgentProcess => fleet.agent(i)
  const api = (): AgentProcess => agent(0)

  const node = async (name: string): Promise<NodeRecord> => await api().client.request<NodeRecord>('GET', `/v1/nodes/${name}`).then((d: any) => d.node)
  const events = async (name: string): Promise<LifecycleEvent[]> => await api().client.request<LifecycleEvent[]>('GET', `/v1/events?node=${name}&limit=1000`)
  const jobsOf = async (name: string): Promise<JobRecord[]> => await api().client.request<JobRecord[]>('GET', `/v1/jobs?node=${name}`)
  const clusterctl = async (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await h(0).exec([NODE, CLUSTERCTL, '--addr', agent(0).socket, ...args], { timeoutMs: 180_000 })
  const ctlOk = async (args: string[]): Promise<string> => {
    const r = await clusterctl(args)
    assert.equal(r.code, 0, `clusterctl ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`)
    return r.stdout
  }
  /** kill -9 the worker's agent and start it again; resolves once the manager saw the return. */
  const restartWorker = async (): Promise<LifecycleEvent> => {
    const before = (await events(h(1).name)).filter(e => e.type === 'returned').length
    await agent(1).stop('SIGKILL')
    const a = await fleet.start(1)
    return await waitFor(async () => {
      const returned = (await events(h(1).name)).filter(e => e.type === 'returned')
      return returned.length > before ? returned.at(-1) : undefined
    }, { timeoutMs: 60_000, intervalMs: 250, message: () => `the manager never noticed ${h(1).name} return (new agent pid ${String(a.proc.pid)}, exit ${String(a.proc.exitCode)}, signal ${String(a.proc.signalCode)}):\n${a.output.slice(-2000)}` })
  }
  /** The job the on-return policy started after `returned`, once it finished. */
  const returnJob = async (returned: LifecycleEvent, kind: string): Promise<JobRecord> => await waitFor(async () => {
    const j = (await jobsOf(h(1).name)).find(x => x.kind === kind && x.createdAt >= returned.at)
    return j !== undefined && ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined
  }, { timeoutMs: 90_000, intervalMs: 250, message: `no finished ${kind} job after the return` })

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'on-return', prefix: 'or', count: 2, managerKey: true, eligible: i => i === 0 })
    await fleet.startAll()
    await fleet.waitForManager({ name: h(0).name, among: [agent(1)] })
    await waitFor(async () => (await node(h(1).name).catch(() => undefined))?.boot != null ? true : undefined,
      { timeoutMs: 30_000, message: 'the worker was discovered with its boot fact' })
    await ctlOk(['commission', h(1).name, '--role', 'worker', '--wait'])
  })

  after(async () => {
    await fleet?.close()
  })

  it('a freshly commissioned node verifies clean: the shipped playbooks pass check mode with 0 changes', async () => {
    const out = await ctlOk(['verify', h(1).name, '--wait'])
    assert.match(out, /verify of/)
    assert.match(out, /no drift: the node matches its roles/, 'the --wait summary says what the check found')
    const n = await node(h(1).name)
    assert.equal(n.state, 'commissioned')
    assert.equal(n.drift?.changed, 0, `expected no drift, got ${JSON.stringify(n.drift)}`)
    assert.deepEqual(n.drift?.tasks, [])
  })

  it('on-return verify: a hand edit is reported as drift naming the task, and check mode changes nothing', async () => {
    await ctlOk(['config', 'set', 'on-return', 'verify'])
    const sed = await h(1).exec(['sed', '-i', 's/^slots = .*/slots = 99/', WORKER_CONF])
    assert.equal(sed.code, 0, sed.stderr)
    const returned = await restartWorker()
    // Named from the new agent start in the signed facts, whether or not the failure detector saw it fail.
    assert.match(returned.reason ?? '', /agent restarted/)
    const job = await returnJob(returned, 'verify')
    assert.equal(job.status, 'succeeded', job.reason ?? '')
    assert.ok(job.perNode[h(1).name]?.drift?.tasks.includes(CONF_TASK), JSON.stringify(job.perNode))
    const n = await node(h(1).name)
    assert.equal(n.state, 'commissioned')
    assert.equal(n.drift?.jobId, job.id)
    assert.ok((n.drift?.changed ?? 0) >= 1)
    assert.ok(n.drift?.tasks.includes(CONF_TASK), `drift names the edited file's task: ${JSON.stringify(n.drift)}`)
    assert.match(await h(1).readFile(WORKER_CONF) ?? '', /^slots = 99$/m, 'check mode wrote nothing')
    const shown = await ctlOk(['node', 'show', h(1).name])
    assert.match(shown, new RegExp(`DRIFT: +\\d+ task\\(s\\) would change: .*${CONF_TASK}`))
    const types = (await events(h(1).name)).map(e => e.type)
    assert.deepEqual(types.slice(types.lastIndexOf('returned')), ['returned', 'verify-requested', 'drift-checked'])
  })

  it('on-return reconfigure: the file is restored and drift is cleared; the node stays commissioned', async () => {
    await ctlOk(['config', 'set', 'on-return', 'reconfigure'])
    const returned = await restartWorker()
    const job = await returnJob(returned, 'reconfigure')
    assert.equal(job.status, 'succeeded', job.reason ?? '')
    assert.ok((job.perNode[h(1).name]?.changed ?? 0) >= 1, 'the edit was undone')
    const conf = await h(1).readFile(WORKER_CONF) ?? ''
    assert.doesNotMatch(conf, /slots = 99/)
    assert.match(conf, /^slots = 4$/m)
    const n = await node(h(1).name)
    assert.equal(n.drift, null)
    assert.equal(n.state, 'commissioned')
    const types = (await events(h(1).name)).map(e => e.type)
    assert.deepEqual(types.slice(types.lastIndexOf('returned')), ['returned', 'reconfigure-requested', 'reconfigured'])
  })

  it('on-return none: only the returned event, no job', async () => {
    await ctlOk(['config', 'set', 'on-return', 'none'])
    const jobsBefore = (await jobsOf(h(1).name)).length
    const returned = await restartWorker()
    // The policy acts right after the event is durable; give it a bounded window to (wrongly) act.
    const deadline = Date.now() + 3000
    while (Date.now() < deadline) {
      assert.equal((await jobsOf(h(1).name)).length, jobsBefore, 'no job for on-return none')
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    const types = (await events(h(1).name)).map(e => e.type)
    assert.equal(types.at(-1), 'returned')
    assert.equal(returned.from, 'commissioned')
    assert.equal(returned.to, 'commissioned')
  })
})
