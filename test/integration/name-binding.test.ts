// Node names bound to peers, on real hosts: separate agent processes on network-namespace
// hosts with their own sshd, the manager running real ansible-runner over real SSH. A second
// agent started with an existing node's name (`--node-name`) is refused: `clusterctl members`
// (the real CLI) marks it, an event records it, and the manager never touches it (no lease, no
// SSH session, no playbook) while it works on the node. `node rebind` then moves the name to
// it (a reinstalled machine): the manager pins its host keys and configures it. `node forget`
// refuses a reachable node, then removes the record and keeps the history; the name is free.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, CLUSTERCTL, NODE, PORT } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import type { LeaseStatus } from '../../protocol/fencing-wire.js'
import type { Member } from '../../protocol/members.js'
import type { LifecycleEvent, NodeRecord } from '../../protocol/nodes.js'

const WORKER_CONF = '/etc/clusterd-worker/worker.conf'

describe('node names bound to peers on real hosts', () => {
  let fleet: AgentFleet
  const h = (i: number): TestHost => fleet.host(i)
  const agent = (i: number): AgentProcess => fleet.agent(i)
  /** The name both the worker (h1) and the impostor (h2) claim. */
  const name = (): string => h(1).name
  let realPeer = ''
  let impostorPeer = ''

  const startAgent = async (i: number, nodeName?: string): Promise<AgentProcess> =>
    await fleet.start(i, nodeName !== undefined ? { nodeName } : {})
  const api = (): AgentProcess => agent(0)
  const node = async (): Promise<NodeRecord | undefined> =>
    await api().client.request<{ node: NodeRecord }>('GET', `/v1/nodes/${name()}`).then(d => d.node, () => undefined)
  const events = async (): Promise<LifecycleEvent[]> => await api().client.request<LifecycleEvent[]>('GET', `/v1/events?node=${name()}&limit=1000`)
  const lease = async (i: number): Promise<LeaseStatus> => await agent(i).client.request<LeaseStatus>('GET', '/v1/lease')
  const clusterctl = async (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await h(0).exec([NODE, CLUSTERCTL, '--addr', agent(0).socket, ...args], { timeoutMs: 180_000 })
  const ctlOk = async (args: string[]): Promise<string> => {
    const r = await clusterctl(args)
    assert.equal(r.code, 0, `clusterctl ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`)
    return r.stdout
  }
  /** SSH sessions the manager's host opened on host `i` (its sshd log, LogLevel INFO). */
  const sessionsFromManager = async (i: number): Promise<number> =>
    ((await h(i).readFile('/var/log/sshd.log')) ?? '').split('\n').filter(l => l.includes('Accepted publickey') && l.includes(` from ${h(0).address} `)).length

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'name-binding', prefix: 'nb', count: 3, managerKey: true, eligible: i => i === 0 })
    await startAgent(0)
    await startAgent(1)
    await fleet.waitForManager({ name: h(0).name, among: [agent(1)] })
    await waitFor(async () => (await node())?.boot != null ? true : undefined, { timeoutMs: 30_000, message: 'the worker was discovered with its boot fact' })
    realPeer = (await node())?.peerId ?? ''
    // Only what the test asks for runs on the nodes.
    await ctlOk(['config', 'set', 'on-return', 'none'])
    await ctlOk(['commission', name(), '--role', 'worker', '--wait'])
  })

  after(async () => {
    await fleet?.close()
  })

  it('a second agent claiming the name is refused, shown by clusterctl members, recorded as an event, and never targeted', async () => {
    assert.equal(await sessionsFromManager(2), 0)
    await startAgent(2, name())
    const conflict = await waitFor(async () => (await events()).find(e => e.type === 'name-conflict'),
      { timeoutMs: 30_000, intervalMs: 250, message: () => `no name-conflict event:\n${agent(0).output.slice(-3000)}` })
    impostorPeer = conflict.peerId ?? ''
    assert.notEqual(impostorPeer, realPeer)
    assert.ok(impostorPeer.length > 0)
    const n = await node()
    assert.equal(n?.peerId, realPeer, 'the name stays with the first peer')
    assert.deepEqual(n?.nameConflicts.map(c => c.peerId), [impostorPeer])
    assert.equal(n?.state, 'commissioned')

    // The real CLI, as an operator runs it: both rows carry the name, the impostor's is marked.
    const members = JSON.parse(await ctlOk(['members', '-o', 'json'])) as Member[]
    const claimants = members.filter(m => m.name === name())
    assert.deepEqual(claimants.map(m => [m.peerId, m.nameBinding, m.nameBoundTo]).sort(), [
      [impostorPeer, 'conflict', realPeer],
      [realPeer, 'bound', null]
    ].sort())
    const table = await ctlOk(['members'])
    assert.match(table, /^NAME\s+STATUS\s+BINDING\s+ADDRESS/)
    assert.match(table, new RegExp(`\\n${name()}\\s+alive\\s+CONFLICT \\(name bound to \\.\\.\\.${realPeer.slice(-8)}\\)\\s+${h(2).address.replaceAll('.', '\\.')}:${PORT}`))
    assert.match(table, new RegExp(`\\n${name()}\\s+alive\\s+bound\\s+${h(1).address.replaceAll('.', '\\.')}:${PORT}`))
    const shown = await ctlOk(['node', 'show', name()])
    assert.match(shown, new RegExp(`CONFLICTS: +${impostorPeer} \\(since`))
    assert.match(await ctlOk(['events', '--node', name()]), /name-conflict/)

    // Work on the node goes to the bound peer only: lease, pre-check and playbooks.
    const out = await ctlOk(['reconfigure', name(), '--wait'])
    assert.match(out, /ok/)
    const impostorLease = await lease(2)
    assert.equal(impostorLease.lease, null, `no lease on the impostor: ${JSON.stringify(impostorLease)}`)
    assert.equal(await sessionsFromManager(2), 0, 'the manager opened no SSH session on the impostor')
    assert.ok(await sessionsFromManager(1) > 0, 'while it did on the node')
    assert.equal(await h(2).readFile(WORKER_CONF), null, "the node's role was not applied to the impostor")
    assert.equal((await events()).filter(e => e.type === 'name-conflict').length, 1, 'the conflict is recorded once')
  })

  it('node rebind moves the name to the new peer (a reinstalled machine): its host keys are pinned and it is configured', async () => {
    // Refused: a peer that does not claim the name.
    const wrong = await clusterctl(['node', 'rebind', name(), '--peer', (await agent(0).members())?.find(m => m.name === h(0).name)?.peerId ?? ''])
    assert.equal(wrong.code, 5, wrong.stderr)
    assert.match(wrong.stderr, /CLUSTERD_ERR_PEER_NOT_CLAIMING/)
    // The old machine is gone; its replacement (h2) runs an agent with the name and a new identity.
    await agent(1).stop('SIGTERM')
    await waitFor(async () => (await node())?.reachable === false ? true : undefined, { timeoutMs: 30_000, message: 'the old machine was never seen gone' })
    const moved = await ctlOk(['node', 'rebind', name(), '--peer', impostorPeer])
    assert.match(moved, new RegExp(`name moved from peer ${realPeer} to peer ${impostorPeer}`))
    const n = await node()
    assert.equal(n?.peerId, impostorPeer)
    assert.equal(n?.state, 'commissioned', 'state, roles and vars stay with the name')
    assert.deepEqual(n?.roles, ['worker'])
    assert.deepEqual(n?.nameConflicts, [])
    assert.equal(n?.reachable, true)
    const rebound = (await events()).filter(e => e.type === 'rebound')
    assert.equal(rebound.length, 1)
    assert.equal(rebound[0]?.previousPeerId, realPeer)
    const members = await agent(0).client.members({ bindings: true })
    assert.equal(members.find(m => m.peerId === impostorPeer)?.nameBinding, 'bound')
    // The manager now works on the new machine: lease, pinned host key, playbooks.
    await ctlOk(['reconfigure', name(), '--wait'])
    assert.match(await h(2).readFile(WORKER_CONF) ?? '', /^slots = 4$/m)
    assert.ok(await sessionsFromManager(2) > 0)
  })

  it('node forget refuses a reachable node, then removes the record and keeps its history; the name is free again', async () => {
    const refused = await clusterctl(['node', 'forget', name(), '--yes'])
    assert.equal(refused.code, 5, refused.stderr)
    assert.match(refused.stderr, /CLUSTERD_ERR_NODE_REACHABLE/)
    await agent(2).stop('SIGTERM')
    await waitFor(async () => (await node())?.reachable === false ? true : undefined, { timeoutMs: 30_000, message: 'the new machine was never seen gone' })
    const before = await events()
    const out = await ctlOk(['node', 'forget', name(), '--yes'])
    assert.match(out, new RegExp(`node ${name()} forgotten \\(was commissioned, peer ${impostorPeer}\\)`))
    assert.equal(await node(), undefined)
    const nodes = JSON.parse(await ctlOk(['nodes', '-o', 'json'])) as NodeRecord[]
    assert.ok(!nodes.some(x => x.name === name()), 'the record is gone')
    const history = JSON.parse(await ctlOk(['events', '--node', name(), '-o', 'json'])) as LifecycleEvent[]
    assert.deepEqual(history.slice(0, before.length), before, 'the history stays')
    assert.equal(history.at(-1)?.type, 'forgotten')
    assert.equal(history.length, before.length + 1)
    for (const type of ['discovered', 'commission-requested', 'name-conflict', 'rebound', 'forgotten']) assert.ok(history.some(e => e.type === type), type)

    // The name is free: the first machine's agent comes back and is discovered as a new node.
    await startAgent(1)
    const fresh = await waitFor(async () => { const n = await node(); return n?.peerId === realPeer ? n : undefined },
      { timeoutMs: 90_000, message: () => `the returning agent was not discovered again:\n${agent(0).output.slice(-2000)}` })
    assert.equal(fresh.state, 'discovered')
    assert.deepEqual(fresh.roles, [])
    const after = await events()
    assert.deepEqual(after.map(e => e.seq), Array.from({ length: after.length }, (_, i) => i + 1), 'the log continues with no gap or overwrite')
    assert.equal(after.at(-1)?.type, 'discovered')
  })
})
