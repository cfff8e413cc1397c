// A rolling upgrade on real hosts (issue 12's test): commissioned nodes, each a separate
// agent on a network-namespace host with its own sshd, the manager running real
// ansible-runner over real SSH. The base role gets a test playbook that fails while a fault
// file exists on the node. The nodes are commissioned from revision 1 (the manager's playbook
// directory), revision 2 is pushed, and `upgrade --to 2 --batch-size 2 --max-unavailable 1`
// with the fault on the second node of batch 1 pauses after that node, with the reason, and
// the next batch never starts (its nodes have no version.json and stay at revision 1); the
// fault is removed and `job retry ID --failed` finishes the rollout in the same job; `history`
// shows each node's commission at revision 1 and upgrade to revision 2. 4 nodes, not the 6: two batches prove the
// gate as well, and each node is a wave of ~14 s here (docs/benchmarks.md, "Rolling upgrade").

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { cp, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { shippedPlaybookDir } from '../../manager/roles/shipped.js'
import type { JobRecord } from '../../protocol/jobs.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import type { HistoryEntry } from '../../protocol/revisions.js'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, CLUSTERCTL, NODE } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'

const HOSTS = 4
const FAULT = '/etc/clusterd/test-fault'
const VERSION_FILE = '/etc/clusterd/version.json'
const BASE_TEST = `# Post-upgrade test of the base role (integration test): fails while ${FAULT} exists.
- name: base post-upgrade test
  hosts: role_base
  gather_facts: false
  tasks:
    - name: Look for the fault marker
      ansible.builtin.stat:
        path: ${FAULT}
      register: fault
    - name: No fault marker is present
      ansible.builtin.assert:
        that: [not fault.stat.exists]
        fail_msg: "fault marker ${FAULT} is present"
        quiet: true
`

describe('rolling upgrade on real hosts', () => {
  let fleet: AgentFleet
  const h = (i: number): TestHost => fleet.host(i)
  const names = (): string[] => fleet.hosts.map(x => x.name)
  const api = (): AgentProcess => fleet.agent(0)
  const clusterctl = async (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await h(0).exec([NODE, CLUSTERCTL, '--addr', api().socket, ...args], { timeoutMs: 300_000 })
  const ctlOk = async (args: string[]): Promise<string> => {
    const r = await clusterctl(args)
    assert.equal(r.code, 0, `clusterctl ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`)
    return r.stdout
  }
  const job = async (id: string): Promise<JobRecord> => JSON.parse(await ctlOk(['job', 'show', id, '-o', 'json'])) as JobRecord
  const node = async (name: string): Promise<NodeRecord> => await api().client.request<NodeRecord>('GET', `/v1/nodes/${name}`).then((d: any) => d.node)

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'rolling-upgrade', prefix: 'ru', count: HOSTS, managerKey: true, eligible: i => i === 0 })
    const dir = fleet.dir
    const playbookDir = join(dir, 'playbooks')
    await cp(shippedPlaybookDir(), playbookDir, { recursive: true })
    const roles = parse(await readFile(join(playbookDir, 'roles.yaml'), 'utf8'))
    roles.roles.base.test = ['base-test.yml']
    await writeFile(join(playbookDir, 'roles.yaml'), stringify(roles))
    await writeFile(join(playbookDir, 'base-test.yml'), BASE_TEST)
    for (let i = 0; i < HOSTS; i++) await fleet.start(i, { playbookDir })
    await waitFor(async () => {
      const nodes = await api().client.request<NodeRecord[]>('GET', '/v1/nodes').catch(() => [])
      return nodes.length === HOSTS && nodes.every(n => n.boot != null) ? true : undefined
    }, { timeoutMs: 90_000, intervalMs: 250, message: () => `the cluster did not form:\n${api().output.slice(-3000)}` })
    await ctlOk(['commission', ...names(), '--role', 'worker', '--wait'])
    // Revision 2: the same playbooks, more worker slots by default.
    const rev2 = join(dir, 'playbooks-2')
    await cp(playbookDir, rev2, { recursive: true })
    const roles2 = parse(await readFile(join(rev2, 'roles.yaml'), 'utf8'))
    roles2.roles.worker.vars.worker_slots = 6
    await writeFile(join(rev2, 'roles.yaml'), stringify(roles2))
    assert.match(await ctlOk(['roles', 'push', rev2, '-m', 'worker: 6 slots']), /^revision 2 stored/)
  })

  after(async () => {
    await fleet?.close()
  })

  it('pauses after the batch whose test failed, with the reason; retry --failed finishes it', async () => {
    const started = Date.now()
    const faulty = h(1).name
    const mark = await h(1).exec(['touch', FAULT])
    assert.equal(mark.code, 0, mark.stderr)

    // --wait stops at the pause: exit 7 (the job is not ok), the reason on stderr.
    const run = await clusterctl(['upgrade', ...names(), '--to', '2', '--batch-size', '2', '--max-unavailable', '1', '--wait'])
    assert.equal(run.code, 7, `${run.stdout}\n${run.stderr}`)
    const id = /job (j-[0-9a-z-]+) queued/.exec(run.stdout)?.[1]
    assert.ok(id !== undefined, run.stdout)
    assert.match(run.stderr, new RegExp(`job ${id} paused: paused after batch 1 of 2: 1 node\\(s\\) failed, more than --max-failures 0: ${faulty} \\(post-upgrade test: .*No fault marker is present`))

    const paused = await job(id)
    assert.equal(paused.status, 'paused')
    assert.equal(paused.revision, 2)
    assert.equal((await node(h(0).name)).revision, 2, 'batch 1\'s ok node records revision 2')
    assert.deepEqual(paused.batches?.map(b => b.status), ['failed', 'pending'])
    assert.deepEqual(paused.batches?.map(b => b.nodes), [names().slice(0, 2), names().slice(2, 4)])
    assert.equal(paused.perNode[h(0).name]?.outcome, 'ok')
    assert.equal(paused.perNode[faulty]?.outcome, 'failed')
    assert.equal((await node(faulty)).state, 'upgrade-failed')
    assert.match((await node(faulty)).reason ?? '', /post-upgrade test/)
    assert.notEqual(await h(0).readFile(VERSION_FILE), null, `${h(0).name} (batch 1) was upgraded`)
    for (const i of [2, 3]) {
      assert.equal(await h(i).readFile(VERSION_FILE), null, `${h(i).name} was not touched while paused`)
      assert.equal((await node(h(i).name)).state, 'commissioned')
      assert.equal((await node(h(i).name)).revision, 1)
    }
    const shown = await ctlOk(['job', 'show', id])
    assert.match(shown, /STATUS: +paused/)
    assert.match(shown, /ROLLOUT: +batch 2 of 2, 1 done, 2 node\(s\) left/)
    assert.match(shown, new RegExp(`1 +failed +${h(0).name}:ok ${faulty}:failed`))
    assert.match(shown, new RegExp(`2 +pending +${h(2).name}:pending ${h(3).name}:pending`))

    // Fix the fault; re-run only the failed node, then the rest.
    const fix = await h(1).exec(['rm', FAULT])
    assert.equal(fix.code, 0, fix.stderr)
    const retried = await ctlOk(['job', 'retry', id, '--failed', '--wait'])
    assert.match(retried, new RegExp(`job ${id} `))
    const done = await job(id)
    assert.equal(done.status, 'succeeded', done.reason ?? '')
    assert.ok(done.batches?.every(b => b.status === 'succeeded'))
    for (const [i, n] of names().entries()) {
      assert.equal((await node(n)).state, 'commissioned')
      assert.equal((await node(n)).revision, 2, `${n} records revision 2`)
      assert.notEqual(await h(i).readFile(VERSION_FILE), null, `${n} upgraded`)
    }
    // History: every node's commission at revision 1 and its upgrade to revision 2, ok.
    const history = JSON.parse(await ctlOk(['history', '-o', 'json'])) as HistoryEntry[]
    for (const n of names()) {
      const steps = history.filter(e => e.node === n).map(e => `${e.kind}@${String(e.revision)}:${e.outcome}`)
      assert.deepEqual(steps, ['commission@1:ok', 'upgrade@2:ok'], `history of ${n}`)
    }
    assert.ok(history.filter(e => e.kind === 'upgrade').every(e => e.jobId === id))
    const events = await api().client.request<Array<{ message?: string }>>('GET', `/v1/jobs/${id}/events`)
    const batchLines = events.map(e => e.message ?? '').filter(m => /^batch \d of 2 \(/.test(m))
    assert.equal(batchLines.length, HOSTS + 1, `one line per wave (each node, and the retried one again):\n${batchLines.join('\n')}`)
    console.log(`rolling upgrade of ${HOSTS} nodes (batch 2, max-unavailable 1) with one retry: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  })
})
