// Node maintenance on real hosts: separate agent processes on network-namespace hosts with
// their own sshd, the manager running real ansible-runner over real SSH, driven through the
// real clusterctl. A cordoned worker is skipped by `upgrade --all` and by the on-return
// policy, and refuses a job by name; mark-broken / mark-fixed round trip; labels and `-l`
// selectors (a label change re-applies the configuration); `verify --wait` exits 9 on drift
// and `nodes` shows it in DRIFT.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, CLUSTERCTL, NODE } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import type { JobRecord } from '../../protocol/jobs.js'
import type { LifecycleEvent, NodeRecord } from '../../protocol/nodes.js'

const WORKER_CONF = '/etc/clusterd-worker/worker.conf'

describe('node maintenance (cordon, mark-broken, labels, selectors, verify drift) on real hosts', () => {
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
  /** kill -9 worker `i`'s agent and start it again; resolves with the `returned` event the manager recorded. */
  const restart = async (i: number): Promise<LifecycleEvent> => {
    const before = (await events(h(i).name)).filter(e => e.type === 'returned').length
    await agent(i).stop('SIGKILL')
    const a = await fleet.start(i)
    return await waitFor(async () => {
      const returned = (await events(h(i).name)).filter(e => e.type === 'returned')
      return returned.length > before ? returned.at(-1) : undefined
    }, { timeoutMs: 60_000, intervalMs: 250, message: () => `the manager never noticed ${h(i).name} return:\n${a.output.slice(-2000)}` })
  }

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'node-maintenance', prefix: 'nm', count: 3, managerKey: true, eligible: i => i === 0 })
    await fleet.startAll()
    await waitFor(async () => (await agent(2).manager())?.name === h(0).name && (await agent(1).manager())?.name === h(0).name ? true : undefined,
      { timeoutMs: 60_000, message: () => `no manager elected:\n${agent(0).output.slice(-2000)}` })
    for (const i of [1, 2]) {
      await waitFor(async () => (await node(h(i).name).catch(() => undefined))?.boot != null ? true : undefined,
        { timeoutMs: 30_000, message: `${h(i).name} was discovered with its boot fact` })
    }
    await ctlOk(['commission', h(1).name, h(2).name, '--role', 'worker', '--wait'])
  })

  after(async () => {
    await fleet?.close()
  })

  it('a cordoned node refuses a job by name (exit 5) and is skipped by upgrade --all; nodes shows it', async () => {
    assert.match(await ctlOk(['cordon', h(2).name]), /cordoned: no new jobs but decommission/)
    const table = await ctlOk(['nodes'])
    assert.match(table, new RegExp(`^${h(2).name}\\s+commissioned,cordoned\\s`, 'm'))
    const refused = await clusterctl(['upgrade', h(2).name])
    assert.equal(refused.code, 5, refused.stderr)
    assert.match(refused.stderr, /is cordoned.*\(CLUSTERD_ERR_NODE_CORDONED\)/)
    const jobsBefore = (await jobsOf(h(2).name)).length
    const out = await ctlOk(['upgrade', '--all', '--wait'])
    assert.match(out, new RegExp(`upgrade of ${h(1).name}\\n`), 'only the uncordoned worker')
    assert.equal((await jobsOf(h(2).name)).length, jobsBefore, 'no job was created for the cordoned node')
    assert.equal((await node(h(2).name)).state, 'commissioned')
    const types = (await events(h(2).name)).map(e => e.type)
    assert.equal(types.at(-1), 'cordoned')
  })

  it('on-return leaves a cordoned node alone while it verifies an uncordoned one that returned after it', async () => {
    await ctlOk(['config', 'set', 'on-return', 'verify'])
    const cordonedReturn = await restart(2)
    assert.match(cordonedReturn.reason ?? '', /agent restarted/)
    // The policy acts on each return as it is recorded, in order: once the later return's job
    // has finished, a job for the earlier (cordoned) one would exist.
    const returned = await restart(1)
    const verify = await waitFor(async () => {
      const j = (await jobsOf(h(1).name)).find(x => x.kind === 'verify' && x.createdAt >= returned.at)
      return j !== undefined && ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined
    }, { timeoutMs: 90_000, intervalMs: 250, message: 'no on-return verify job for the uncordoned worker' })
    assert.equal(verify.status, 'succeeded', verify.reason ?? '')
    assert.deepEqual((await jobsOf(h(2).name)).filter(j => j.createdAt >= cordonedReturn.at), [], 'no on-return job for the cordoned node')
    assert.equal((await events(h(2).name)).at(-1)?.type, 'returned')
    await ctlOk(['config', 'set', 'on-return', 'none'])
    assert.match(await ctlOk(['uncordon', h(2).name]), /uncordoned: it takes jobs again/)
  })

  it('mark-broken takes a node out of service (jobs refused, skipped by --all) and mark-fixed returns it', async () => {
    const marked = await ctlOk(['mark-broken', h(2).name, '--reason', 'PSU failed, ticket 42'])
    assert.match(marked, /marked broken \(was commissioned\): PSU failed, ticket 42/)
    const n = await node(h(2).name)
    assert.equal(n.state, 'broken')
    assert.equal(n.reason, 'PSU failed, ticket 42')
    assert.deepEqual(n.roles, ['worker'], 'not decommissioned')
    const refused = await clusterctl(['verify', h(2).name])
    assert.equal(refused.code, 5)
    assert.match(refused.stderr, /cannot verify a node that is broken/)
    const all = await ctlOk(['verify', '--all'])
    assert.match(all, new RegExp(`verify of ${h(1).name}\\n`))
    assert.match(await ctlOk(['nodes']), new RegExp(`^${h(2).name}\\s+broken\\s`, 'm'))
    assert.match(await ctlOk(['mark-fixed', h(2).name]), /marked fixed: back to commissioned/)
    const types = (await events(h(2).name)).map(e => `${e.type} ${e.from ?? ''}->${e.to}`)
    assert.deepEqual(types.slice(-2), ['marked-broken commissioned->broken', 'marked-fixed broken->commissioned'])
  })

  it('labels and -l selectors: nodes filters, verify --wait picks the match and exits 9 on drift; DRIFT shows it', async () => {
    await waitFor(async () => (await jobsOf(h(1).name)).every(j => ['succeeded', 'failed', 'cancelled'].includes(j.status)) ? true : undefined,
      { timeoutMs: 60_000, message: 'the verify --all job did not finish' })
    // A label change re-applies the node's configuration: base.yml records the labels.
    assert.match(await ctlOk(['node', 'label', h(1).name, 'zone=a', 'rack=r1', '--wait']), /labels: rack=r1,zone=a\njob \S+ queued: reconfigure of/)
    const recorded = JSON.parse(await h(1).readFile('/etc/clusterd/node.json') ?? '{}')
    assert.deepEqual(recorded.labels, { zone: 'a', rack: 'r1' })
    await ctlOk(['node', 'label', h(2).name, 'zone=b', '--wait'])
    const listed = await ctlOk(['nodes', '-l', 'zone=a,role=worker', '-o', 'json'])
    assert.deepEqual((JSON.parse(listed) as NodeRecord[]).map(x => x.name), [h(1).name])
    const bad = await clusterctl(['nodes', '-l', 'zone'])
    assert.equal(bad.code, 2)

    const clean = await clusterctl(['verify', '-l', 'zone=a', '--wait'])
    assert.equal(clean.code, 0, `a clean verify exits 0:\n${clean.stdout}\n${clean.stderr}`)
    const sed = await h(1).exec(['sed', '-i', 's/^slots = .*/slots = 99/', WORKER_CONF])
    assert.equal(sed.code, 0, sed.stderr)
    const drift = await clusterctl(['verify', '-l', 'role=worker,zone=a', '--wait'])
    assert.equal(drift.code, 9, `verify --wait exits 9 on drift:\n${drift.stdout}\n${drift.stderr}`)
    assert.match(drift.stdout, new RegExp(`verify of ${h(1).name}\\n`))
    assert.match(drift.stderr, new RegExp(`drift found on 1 of 1 node\\(s\\): ${h(1).name}`))
    assert.match(await ctlOk(['nodes']), new RegExp(`^${h(1).name}\\s+commissioned\\s+\\S*worker\\S*\\s+yes\\s+\\d+ tasks?\\s`, 'm'))
    assert.match(await h(1).readFile(WORKER_CONF) ?? '', /^slots = 99$/m, 'check mode changed nothing')
  })
})
