// An agent restart faster than the failure detector, on real hosts: the worker's agent is
// killed (-9) and started again while the manager's agent probes nobody (its probe interval is
// an hour), so membership never shows the worker anything but alive. The manager must still
// learn the new agent start from the worker's newer signed record: that is what the on-return
// policy acts on. Before the fix, membership told its listeners only about status changes, and
// the on-return suite's worker once never "returned" in CI (issue 11, item 7).

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { TestHosts, type TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, PORT, makeManagerKey, makeSecret, saveAgentLogs, startAgentOn, testDir } from '../harness/agent-process.js'
import type { NodeRecord } from '../../protocol/nodes.js'

describe('an agent restart faster than the failure detector', () => {
  let hosts: TestHosts
  let dir: string
  let secret: string
  let sshKey: string
  const agents: AgentProcess[] = []
  const h = (i: number): TestHost => hosts.hosts[i] as TestHost
  const manager = (): AgentProcess => agents[0] as AgentProcess
  const worker = (): AgentProcess => agents.at(-1) as AgentProcess

  const startAgent = async (host: TestHost, env: Record<string, string> = {}): Promise<AgentProcess> => {
    const a = await startAgentOn(host, {
      secretFile: secret,
      socketDir: join(dir, 'sock'),
      join: host === h(0) ? [] : [`${h(0).address}:${PORT}`],
      eligible: host === h(0),
      sshKeyFile: sshKey,
      env
    })
    agents.push(a)
    return a
  }
  const record = async (name: string): Promise<NodeRecord | undefined> =>
    (await manager().client.request<NodeRecord[]>('GET', '/v1/nodes')).find(n => n.name === name)
  const ownStart = async (a: AgentProcess): Promise<string | undefined> =>
    (await a.members())?.find(m => m.name === a.host.name)?.boot?.agentStartedAt

  before(async () => {
    hosts = await TestHosts.create({ count: 2, prefix: 'qr' })
    dir = await testDir('it-quick-restart')
    secret = await makeSecret(dir)
    sshKey = await makeManagerKey(dir, hosts.hosts)
    // The manager never probes: only the worker's own records can tell it of the restart.
    await startAgent(h(0), { CLUSTERD_TIMING: JSON.stringify({ probeIntervalMs: 3_600_000 }) })
    await startAgent(h(1))
    await waitFor(async () => (await worker().manager())?.name === h(0).name ? true : undefined,
      { timeoutMs: 60_000, message: () => `no manager elected:\n${manager().output.slice(-2000)}` })
  })

  after(async () => {
    await Promise.allSettled(agents.map(async a => await a.stop('SIGKILL')))
    await saveAgentLogs('quick-restart', agents).catch(() => {})
    await hosts?.destroy()
    await rm(dir, { recursive: true, force: true })
  })

  it('the manager\'s node record learns the new agent start, while membership shows the node alive throughout', async () => {
    const first = await waitFor(async () => {
      const [own, rec] = [await ownStart(worker()), await record(h(1).name)]
      return own !== undefined && rec?.boot?.agentStartedAt === own ? own : undefined
    }, { timeoutMs: 30_000, message: 'the manager recorded the worker with its agent start' })
    const statuses = new Set<string>()
    await worker().stop('SIGKILL')
    const again = await startAgent(h(1))
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
