// Fault injection: freeze the manager (SIGSTOP) while its Ansible runs a 30 s command on a node,
// leave its Ansible running, wake it 40 s later (issue 11, item 1), FAULT_ROUNDS times (default
// 10). Three agents: two eligible ones take turns as manager (each round freezes the current
// one), the third is the node, decommissioned again between rounds. Per round, on the node: no
// command of the frozen manager's lease ran after the new manager's lease began (the gate's
// log), no process of it was alive then; and the node ends commissioned (which also needs the
// deposed manager to stop at once and its late view not to win the merge).

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { ApiClient } from '../../cli/client.js'
import { isTerminalJobStatus, type JobRecord } from '../../protocol/jobs.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { testDir, type AgentProcess } from '../harness/agent-process.js'
import { waitFor } from '../harness/poll.js'
import { FaultCluster } from './cluster.js'
import { freezePlaybooks, freezeRound, type FreezeRound } from './freeze-scenario.js'
import { RESULTS_DIR, faultRounds, writeResult } from './results.js'

describe('fault injection: freeze the manager mid-command', () => {
  const rounds = faultRounds()
  const results: Array<FreezeRound & { round: number }> = []
  const started = Date.now()
  let c: FaultCluster
  let target: string
  const client = (a: AgentProcess): ApiClient => new ApiClient({ addr: a.socket, timeoutMs: 30_000 })
  const api = (): AgentProcess => c.running().find(a => c.isEligible(a.host.name)) as AgentProcess
  const node = async (): Promise<NodeRecord | undefined> => (await client(api()).request<NodeRecord[]>('GET', '/v1/nodes').catch(() => [])).find(n => n.name === target)

  /** The node idle and in a state that accepts COMMISSION (decommissioned again when it is not). */
  const prepare = async (): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      const n = await waitFor(async () => { const n = await node(); return n !== undefined && n.currentJob == null ? n : undefined },
        { timeoutMs: 300_000, intervalMs: 500, message: 'the node idle before the round' })
      if (!['commissioned', 'commission-failed', 'decommission-failed'].includes(n.state)) return
      const d = await client(api()).request<JobRecord>('POST', '/v1/decommission', { nodes: [target] })
      await waitFor(async () => {
        const j = await client(api()).request<JobRecord>('GET', `/v1/jobs/${d.id}`).catch(() => undefined)
        return j !== undefined && isTerminalJobStatus(j.status) ? true : undefined
      }, { timeoutMs: 300_000, intervalMs: 500, message: 'the clean-up decommission' })
      assert.ok(attempt < 3, `the node is still ${n.state} after ${attempt} clean-up decommissions`)
    }
  }

  before(async () => {
    const playbookDir = await freezePlaybooks(await testDir('faults-freeze'))
    c = await FaultCluster.create({ prefix: 'ffz', count: 3, eligible: i => i < 2, playbookDir })
    target = c.hosts[2]?.name as string
    await waitFor(async () => (await node())?.reachable === true ? true : undefined, { timeoutMs: 60_000, intervalMs: 250, message: 'the node discovered' })
  })

  after(async () => {
    await c?.saveLogs(join(RESULTS_DIR, 'logs', 'freeze-manager')).catch(() => {})
    await writeResult('freeze-manager', started, { rounds: results.length, results })
    await c?.destroy()
  })

  for (let r = 1; r <= rounds; r++) {
    it(`round ${r}: no command of the frozen manager's lease reaches the node after the new lease began; the node ends commissioned`, async () => {
      await prepare()
      const found = await freezeRound(c, target)
      results.push({ round: r, ...found })
      assert.ok(found.oldRunsBefore > 0, 'the frozen manager never ran a command through the gate')
      assert.deepEqual(found.oldRunsAfterNewLease, [], 'commands of the old lease ran after the new lease began')
      assert.deepEqual(found.oldProcessesAtNewLease, [], 'processes of the old lease were alive when the new lease was seen')
      assert.equal(found.nodeState, 'commissioned', `node ${found.nodeState}: ${String(found.nodeReason)}; job ${found.jobStatus}: ${String(found.jobReason)}`)
    })
  }
})
