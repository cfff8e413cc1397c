// `clusterctl events --follow` against real agents on real hosts: the real CLI process, through
// an agent that is not the manager, prints the recent lifecycle events, then the "discovered"
// event of a host that joins while it runs; the manager is SIGKILLed, a new one is elected, and
// the same process goes on to print the event of a host that joins after the failover. Every
// event once, in order (gseq strictly increasing), and the process is still following at the end.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, CLUSTERCTL, NODE, agreedManager } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { LifecycleEvent } from '../../protocol/nodes.js'

describe('clusterctl events --follow across a join and a manager failover (real agents)', () => {
  let fleet: AgentFleet
  let follower: ChildProcess | undefined
  let out = ''
  let err = ''
  const h = (i: number): TestHost => fleet.host(i - 1)
  /** Start the agent of host `i` (1-based, as `h`). */
  const startAgent = async (i: number): Promise<AgentProcess> => await fleet.start(i - 1)
  const agreed = async (): Promise<ManagerInfo | undefined> => await agreedManager(fleet.agents)
  /** What the follower printed so far: one JSON event per line. */
  const printed = (): LifecycleEvent[] => out.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as LifecycleEvent)
  const discovered = (name: string) => async (): Promise<true | undefined> =>
    printed().some(e => e.node === name && e.type === 'discovered') ? true : undefined

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'events-follow', prefix: 'ef', count: 5, managerKey: true, seeds: 'others' })
    for (const i of [1, 2, 3]) await startAgent(i)
    await fleet.waitForManager()
  })

  after(async () => {
    follower?.kill('SIGKILL')
    await fleet?.close()
  })

  it('prints new events as they happen and resumes after the manager is killed, each event once', async (t) => {
    const m = await waitFor(agreed, { timeoutMs: 30_000, message: 'agreed manager' })
    const via = fleet.running().find(a => a.host.name !== m.name) as AgentProcess
    // The three nodes are in the log before the follower starts: it begins with them.
    await waitFor(async () => (await via.client.request<LifecycleEvent[]>('GET', '/v1/events')).filter(e => e.type === 'discovered').length === 3 ? true : undefined,
      { timeoutMs: 60_000, message: 'three discovered events' })

    follower = spawn(NODE, [CLUSTERCTL, '--addr', via.socket, 'events', '--follow', '-o', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    follower.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
    follower.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d })
    const show = (): string => `stdout:\n${out}\nstderr:\n${err}`
    for (const i of [1, 2, 3]) await waitFor(discovered(h(i).name), { timeoutMs: 20_000, message: `the recent event of ${h(i).name}\n${show()}` })

    // Live: a host that joins now.
    await startAgent(4)
    await waitFor(discovered(h(4).name), { timeoutMs: 60_000, message: `the discovered event of ${h(4).name} while following\n${show()}` })

    // Failover: the manager dies, another is elected; the follower goes on through `via`.
    t.diagnostic(`killing manager ${m.name} (epoch ${m.epoch}); following through ${via.host.name}`)
    await fleet.agent(m.name).stop('SIGKILL')
    const next = await waitFor(async () => {
      const v = await agreed()
      return v !== undefined && v.epoch > m.epoch ? v : undefined
    }, { timeoutMs: 60_000, message: `a new manager after killing ${m.name}` })
    t.diagnostic(`new manager ${next.name} (epoch ${next.epoch})`)
    await startAgent(5)
    await waitFor(discovered(h(5).name), { timeoutMs: 60_000, message: `the discovered event of ${h(5).name} after the failover\n${show()}` })

    assert.equal(follower.exitCode, null, `the follower still runs\n${show()}`)
    const gseqs = printed().map(e => e.gseq)
    for (let i = 1; i < gseqs.length; i++) assert.ok((gseqs[i] as number) > (gseqs[i - 1] as number), `gseq strictly increasing (each event once, in order): ${gseqs.join(' ')}`)
    // It printed exactly what the new manager's log holds from its first event on.
    const log = await via.client.request<LifecycleEvent[]>('GET', `/v1/events?after=${(gseqs[0] as number) - 1}&limit=100000`)
    assert.deepEqual(gseqs, log.map(e => e.gseq).filter(g => g <= (gseqs.at(-1) as number)), `what was printed is the log\n${show()}`)
    t.diagnostic(`printed ${gseqs.length} events; notes on stderr: ${err.split('\n').filter(l => l !== '').length}`)
  })
})
