// Same-epoch manager claims with real agents on real hosts (docs/architecture.md, Election,
// "Same-epoch claims"). The seed becomes manager of epoch 1, then its link is cut; three
// eligible agents start and join it, reach nobody, and after the isolated settle each claims
// epoch 1 alone (what the 64-host benchmark saw when joiners' push-pulls to a busy seed were
// lost). When the seed's link comes back, the four epoch-1 claims meet: within a bounded time
// exactly one agent holds the manager role, every agent names it, and its epoch is above the
// shared one, so whatever the losers did under epoch 1 is fenced by a strictly higher token.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import type { AgentProcess } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'

describe('same-epoch manager claims (real agents)', () => {
  let fleet: AgentFleet
  const h = (i: number): TestHost => fleet.host(i)
  const roleOf = async (a: AgentProcess): Promise<string | null> => {
    try {
      return (await a.client.request<{ role: string }>('GET', '/v1/replica')).role
    } catch {
      return null
    }
  }
  const tail = (): string => fleet.agents.map(a => `--- ${a.host.name}\n${a.output.slice(-1500)}`).join('\n')

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'same-epoch', prefix: 'tie', count: 4, managerKey: true })
  })

  after(async () => {
    await fleet?.close()
  })

  it('four agents that each claimed epoch 1 end with one manager, named by all, at a higher epoch', async () => {
    const seed = await fleet.start(0)
    await waitFor(async () => (await seed.manager())?.local === true ? true : undefined,
      { timeoutMs: 30_000, message: () => `the seed never became manager:\n${seed.output.slice(-2000)}` })
    await h(0).cutLink()
    const joiners = await fleet.startAll([1, 2, 3])
    const agents = fleet.agents
    // Each reaches nobody, waits the isolated settle (30 s), and claims epoch 1 alone.
    await waitFor(async () => {
      const ms = await Promise.all(joiners.map(async a => await a.manager()))
      return ms.every(m => m?.local === true && m.epoch === 1) ? true : undefined
    }, { timeoutMs: 60_000, intervalMs: 250, message: () => `the joiners did not each claim epoch 1:\n${tail()}` })
    await h(0).restoreLink()
    const healedAt = Date.now()
    let last: Array<ManagerInfo | null> = []
    let roles: Array<string | null> = []
    const settled = await waitFor(async () => {
      last = await Promise.all(agents.map(async a => await a.manager()))
      roles = await Promise.all(agents.map(roleOf))
      const first = last[0]
      if (first == null || last.some(m => m?.peerId !== first.peerId || m.epoch !== first.epoch)) return undefined
      if (roles.filter(r => r === 'manager').length !== 1) return undefined
      return first
    }, { timeoutMs: 45_000, intervalMs: 250, message: () => `no single manager: ${JSON.stringify(last.map(m => m === null ? null : [m.name, m.epoch]))} roles ${JSON.stringify(roles)}\n${tail()}` })
    const settleMs = Date.now() - healedAt
    assert.ok(settled.epoch >= 2, `the surviving manager holds epoch ${settled.epoch}: the losers' epoch-1 actions are not fenced by a higher one`)
    const holder = agents[roles.indexOf('manager')]
    assert.equal(holder?.host.name, settled.name, 'the agent whose role runs is the one everyone names')
    // Stays so: no second manager appears once settled.
    const deadline = Date.now() + 5000
    while (Date.now() < deadline) {
      const rs = await Promise.all(agents.map(roleOf))
      assert.ok(rs.filter(r => r === 'manager').length <= 1, `two manager roles after settling: ${JSON.stringify(rs)}`)
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    // The losers stopped their roles (each said so in its log).
    for (const a of agents) {
      if (a === holder) continue
      assert.match(a.output, /manager role stopped/, `${a.host.name} never stopped its role`)
    }
    process.stdout.write(`# same-epoch: one manager (${settled.name}, epoch ${settled.epoch}) ${settleMs} ms after the heal\n`)
  })
})
