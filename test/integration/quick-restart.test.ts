// An agent restart faster than the failure detector, on real hosts: the worker's agent is
// killed (-9) and started again while the manager's agent probes nobody (its probe interval is
// an hour), so membership never shows the worker anything but alive. The manager must still
// learn the new agent start from the worker's newer signed record: that is what the on-return
// policy acts on. Before the fix, membership told its listeners only about status changes, and
// the on-return suite's worker once never "returned" in CI (issue 11, item 7).

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import type { AgentProcess } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import type { NodeRecord } from '../../protocol/nodes.js'

describe('an agent restart faster than the failure detector', () => {
  let fleet: AgentFleet
  const h = (i: number): TestHost => fleet.host(i)
  const manager = (): AgentProcess => fleet.agent(0)
  const worker = (): AgentProcess => fleet.agent(1)
  const record = async (name: string): Promise<NodeRecord | undefined> =>
    (await manager().client.request<NodeRecord[]>('GET', '/v1/nodes')).find(n => n.name === name)
  const ownStart = async (a: AgentProcess): Promise<string | undefined> =>
    (await a.members())?.find(m => m.name === a.host.name)?.boot?.agentStartedAt

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'quick-restart', prefix: 'qr', count: 2, managerKey: true, eligible: i => i === 0 })
    // The manager never probes: only the worker's own records can tell it of the restart.
    await fleet.start(0, { env: { CLUSTERD_TIMING: JSON.stringify({ probeIntervalMs: 3_600_000 }) } })
    await fleet.start(1)
    await fleet.waitForManager({ name: h(0).name, among: [worker()] })
  })

  after(async () => {
    await fleet?.close()
  })

  it('the manager\'s node record learns the new agent start, while membership shows the node alive throughout', async () => {
    const first = await waitFor(async () => {
      const [own, rec] = [await ownStart(worker()), await record(h(1).name)]
      return own !== undefined && rec?.boot?.agentStartedAt === own ? own : undefined
    }, { timeoutMs: 30_000, message: 'the manager recorded the worker with its agent start' })
    const statuses = new Set<string>()
    await worker().stop('SIGKILL')
    const again = await fleet.start(1)
    let recorded: string | undefined
    const second = await waitFor(async () => {
      statuses.add((await manager().members())?.find(m => m.name === h(1).name)?.status ?? 'absent')
      const own = await ownStart(again)
      recorded = (await record(h(1).name))?.boot?.agentStartedAt
      return own !== undefined && own !== first && recorded === own ? own : undefined
    }, { timeoutMs: 30_000, intervalMs: 100, message: () => `the manager's record kept agent start ${String(recorded)} (first ${first}); manager saw ${[...statuses].join(', ')}:\n${manager().output.slice(-3000)}` })
    assert.notEqual(second, first)
    assert.deepEqual([...statuses], ['alive'], 'no probe noticed the restart: membership showed the worker alive throughout')
  })
})
