// The agent-upgrade job in the real JobRunner with a real LevelDB store: nodes one at a time,
// the manager's own node last, each waiting for its record to show the version (what discovery
// writes from the node's facts) before the next; the first failure stops the rest; no
// lifecycle transition. The playbook runner is a fake that "restarts" the node by recording
// the new version, as discovery would after the node rejoins (real hosts: test/integration/agent-upgrade.test.ts).

import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { JobRunner } from '../../../../manager/jobs/job-runner.js'
import type { ManagerStore } from '../../../../manager/store/index.js'
import type { PlaybookPlan } from '../../../../manager/roles/plan.js'
import type { PlaybookResult, RunOptions } from '../../../../manager/ansible/playbook-runner.js'
import { RUNNER_INIT, finishedJob, jobComponents, openJobStore } from '../jobs/job-fixture.js'

const V = '0.2.0'
const VARS = { agent_release: '/r/clusterd-0.2.0-0123456789ab.tar.gz', agent_release_sha256: 'ab'.repeat(32), agent_tree: '0.2.0-0123456789ab', agent_upgrade_version: V }

class FakeSwitch {
  runs: Array<{ plan: PlaybookPlan, previousRecorded: boolean }> = []
  failHosts = new Set<string>()
  /** Nodes that do not come back with the version (their record keeps the old one). */
  silent = new Set<string>()
  constructor (private readonly store: ManagerStore) {}
  async run (plan: PlaybookPlan, _options: RunOptions = {}): Promise<PlaybookResult> {
    const name = plan.hosts[0]?.name as string
    const prev = this.runs.at(-1)?.plan.hosts[0]?.name
    this.runs.push({ plan, previousRecorded: prev === undefined || (await this.store.getNode(prev))?.agentVersion === V })
    const failed = this.failHosts.has(name)
    if (!failed && !this.silent.has(name)) {
      // The agent restarted and rejoined: discovery records the version from its facts.
      setTimeout(() => { void this.store.upsertNode({ name, peerId: `peer-${name}`, reachable: true, agentVersion: V }) }, 20)
    }
    return {
      ident: 'x', status: 'ok', check: false, exitCode: failed ? 2 : 0, durationMs: 1,
      hosts: [failed
        ? { name, alias: name, outcome: 'failed', reason: 'task-failed', changed: 0, ok: 0, failedTask: 'Switch the agent', message: 'rolled back', changes: [] }
        : { name, alias: name, outcome: 'ok', changed: 1, ok: 5, changes: [] }]
    } as unknown as PlaybookResult
  }
}

describe('agent-upgrade jobs', () => {
  let store: ManagerStore
  let close: () => Promise<void>
  let fake: FakeSwitch
  let runner: JobRunner

  beforeEach(async () => {
    ({ store, close } = await openJobStore('agent-upgrade', ['a', 'b', 'c']))
    for (const n of ['a', 'b', 'c']) await store.upsertNode({ name: n, peerId: `peer-${n}`, reachable: true, agentVersion: '0.1.0' })
    fake = new FakeSwitch(store)
    runner = new JobRunner(jobComponents(store, fake), { ...RUNNER_INIT, selfName: 'a', agentUpgrade: { rejoinWaitMs: 1500, pollMs: 20 } })
    await runner.start()
  })
  afterEach(async () => {
    await runner.stop()
    await close()
  })

  it('runs one node at a time, the manager\'s node last, each after the previous one rejoined with the version', async () => {
    const job = await runner.submit({ kind: 'agent-upgrade', nodes: ['a', 'b', 'c'], roles: [], vars: VARS, actor: 'operator' })
    const done = await finishedJob(store, job.id)
    assert.equal(done.status, 'succeeded', done.reason ?? '')
    assert.deepEqual(fake.runs.map(r => r.plan.hosts.map(h => h.name)), [['b'], ['c'], ['a']])
    assert.ok(fake.runs.every(r => r.previousRecorded), 'no node started before the previous one showed the version')
    const first = fake.runs[0]?.plan
    assert.equal(first?.kind, 'agent-upgrade')
    assert.match(first?.playbooks[0] ?? '', /\/agent-upgrade\.yml$/)
    assert.equal(first?.hosts[0]?.vars.agent_upgrade_attempt, job.id)
    assert.equal(first?.hosts[0]?.vars.agent_tree, VARS.agent_tree)
    for (const n of ['a', 'b', 'c']) {
      assert.equal(done.perNode[n]?.outcome, 'ok')
      assert.match(done.perNode[n]?.message ?? '', /rejoined reporting 0\.2\.0/)
      const rec = await store.getNode(n)
      assert.equal(rec?.state, 'discovered', 'no lifecycle transition')
      assert.equal(rec?.agentVersion, V)
      assert.equal(rec?.currentJob, null)
    }
  })

  it('stops at the first node that fails: the rest are not upgraded, the manager\'s node included', async () => {
    fake.failHosts.add('b')
    const job = await runner.submit({ kind: 'agent-upgrade', nodes: ['a', 'b', 'c'], roles: [], vars: VARS, actor: 'operator' })
    const done = await finishedJob(store, job.id)
    assert.equal(done.status, 'failed')
    assert.deepEqual(fake.runs.map(r => r.plan.hosts[0]?.name), ['b'])
    assert.equal(done.perNode.b?.outcome, 'failed')
    assert.match(done.perNode.b?.message ?? '', /Switch the agent.*rolled back/)
    for (const n of ['a', 'c']) {
      assert.equal(done.perNode[n]?.outcome, 'cancelled')
      assert.match(done.perNode[n]?.message ?? '', /not upgraded: the agent upgrade of b failed first/)
      assert.equal((await store.getNode(n))?.agentVersion, '0.1.0')
    }
  })

  it('fails a node whose record does not show the version within the rejoin wait', async () => {
    fake.silent.add('b')
    const job = await runner.submit({ kind: 'agent-upgrade', nodes: ['b', 'c'], roles: [], vars: VARS, actor: 'operator' })
    const done = await finishedJob(store, job.id)
    assert.equal(done.status, 'failed')
    assert.match(done.perNode.b?.message ?? '', /its record still shows 0\.1\.0 after 2 s/)
    assert.equal(done.perNode.c?.outcome, 'cancelled')
  })

  it('a node in an agent upgrade is busy for other jobs', async () => {
    const job = await runner.submit({ kind: 'agent-upgrade', nodes: ['b'], roles: [], vars: VARS, actor: 'operator' })
    await assert.rejects(runner.submit({ kind: 'agent-upgrade', nodes: ['c', 'b'], roles: [], vars: VARS, actor: 'operator' }),
      (err: Error & { code?: string }) => err.code === 'CLUSTERD_ERR_NODE_BUSY' && /node b is already in job/.test(err.message))
    await finishedJob(store, job.id)
  })
})
