// Manager failover keeps acknowledged state: three manager-eligible agents on real hosts, the
// elected manager replicating its LevelDB store to the others. The manager's agent is
// SIGKILLed; a new manager (higher epoch) must serve every config write and node acknowledged
// before the kill, and the killed agent, restarted, must rejoin as a replica and catch up.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, agreedManager } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { NodeRecord, NodesPage } from '../../protocol/nodes.js'
import type { ReplicaStatus } from '../../protocol/replication-wire.js'

describe('manager state replication and failover on real hosts', () => {
  let fleet: AgentFleet
  const running = (): AgentProcess[] => fleet.running()
  const replicaStatus = async (a: AgentProcess): Promise<ReplicaStatus> => await a.client.request<ReplicaStatus>('GET', '/v1/replica')
  const agreed = async (): Promise<ManagerInfo | undefined> => await agreedManager(fleet.agents)
  const managerAgent = (m: ManagerInfo): AgentProcess => fleet.agent(m.name)

  before(async () => {
    // Every other host is a seed: a restarted agent must reach the cluster within the election's
    // settle time, else it claims on its own (a known limitation, see docs/architecture.md).
    fleet = await AgentFleet.create({ suite: 'replication', prefix: 'rp', count: 3, managerKey: true, seeds: 'others' })
    await fleet.startAll()
    await fleet.waitForManager()
  })

  after(async () => {
    await fleet?.close()
  })

  it('every acknowledged write survives repeated SIGKILLs of the manager; the killed agent returns as a caught-up replica', async (t) => {
    for (let cycle = 1; cycle <= 3; cycle++) {
      const m = await waitFor(agreed, { timeoutMs: 30_000, message: `cycle ${cycle}: agreed manager` })
      const survivor = running().find(a => a.host.name !== m.name) as AgentProcess
      // The manager role serves (it may still be starting) and has discovered every node.
      await waitFor(async () => (await survivor.client.request<NodeRecord[]>('GET', '/v1/nodes')).length === 3 ? true : undefined,
        { timeoutMs: 30_000, message: `cycle ${cycle}: three nodes discovered` })
      if (cycle === 1) {
        const names = (await survivor.client.request<NodeRecord[]>('GET', '/v1/nodes')).map(n => n.name).sort()
        // Paging through a forwarding agent: pages in name order, `next` leads to the end.
        const first = await survivor.client.request<NodesPage>('GET', '/v1/nodes?limit=2')
        assert.deepEqual(first.items.map(n => n.name), names.slice(0, 2))
        assert.equal(first.next, names[1])
        const rest = await survivor.client.request<NodesPage>('GET', `/v1/nodes?limit=2&after=${encodeURIComponent(first.next ?? '')}`)
        assert.deepEqual({ names: rest.items.map(n => n.name), next: rest.next }, { names: names.slice(2), next: null })
        // Retention and the ack count are cluster config, replicated like any write.
        await survivor.client.request('PUT', '/v1/config/retention.events.max-per-node', { value: '50' })
        await survivor.client.request('PUT', '/v1/config/replication.acks', { value: '1' })
      }
      // Acknowledged writes, sent through a non-manager agent (forwarded to the manager).
      await survivor.client.request('PUT', '/v1/config/job-timeout', { value: String(900 + cycle) })
      await survivor.client.request('PUT', '/v1/config/max-parallel-jobs', { value: String(1 + cycle) })
      await survivor.client.request('PUT', '/v1/config/vars', { value: { cycle: String(cycle) } })
      const config = await survivor.client.request<Record<string, unknown>>('GET', '/v1/config')
      assert.equal(config['job-timeout'], 900 + cycle)
      assert.equal(config['replication.acks'], 1)
      const nodeNames = (await survivor.client.request<NodeRecord[]>('GET', '/v1/nodes')).map(n => n.name).sort()

      const killed = managerAgent(m)
      t.diagnostic(`cycle ${cycle}: killing manager ${m.name} (epoch ${m.epoch})`)
      await killed.stop('SIGKILL')
      const next = await waitFor(async () => {
        const v = await agreed()
        return v !== undefined && v.epoch > m.epoch && v.name !== m.name ? v : undefined
      }, { timeoutMs: 60_000, message: `cycle ${cycle}: a new manager after killing ${m.name} (epoch ${m.epoch})` })

      // Through a surviving agent: the new manager serves everything acknowledged before the kill.
      const reader = running().find(a => a.host.name !== next.name) ?? managerAgent(next)
      const after = await waitFor(async () => await reader.client.request<Record<string, unknown>>('GET', '/v1/config'),
        { timeoutMs: 20_000, message: `cycle ${cycle}: config from the new manager` })
      assert.deepEqual(after, config, `cycle ${cycle}: config after failover to ${next.name} (epoch ${next.epoch})`)
      const nodesAfter = (await reader.client.request<NodeRecord[]>('GET', '/v1/nodes')).map(n => n.name).sort()
      assert.deepEqual(nodesAfter, nodeNames, `cycle ${cycle}: nodes after failover`)

      // The killed agent comes back: a replica (not the manager) that catches up with the manager.
      const back = await fleet.start(killed.host.name)
      let last: unknown
      await waitFor(async () => {
        const [mine, theirs] = await Promise.all([replicaStatus(back), replicaStatus(managerAgent(next))])
        last = { mine, theirs }
        return mine.role === 'replica' && theirs.role === 'manager' && mine.revision === theirs.revision && mine.syncedEpoch === next.epoch ? true : undefined
      }, { timeoutMs: 60_000, intervalMs: 250 }).catch(err => {
        throw new Error(`cycle ${cycle}: ${killed.host.name} did not catch up as a replica (${JSON.stringify(last)}): ${(err as Error).message}\n` +
          `returning agent:\n${back.output.slice(-3000)}\nmanager:\n${managerAgent(next).output.slice(-3000)}`)
      })
      assert.equal((await back.manager())?.name, next.name, 'the returning agent did not depose the manager')
    }
  })
})
