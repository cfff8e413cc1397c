// Bounded numbers end to end (docs/architecture.md, "Authorise, then read"): a member holding
// the cluster secret forges, through the real wire (sealed SWIM gossip datagrams from another
// process), a `dead` claim about another member at incarnation 2^32 - 1 and manager claims
// signed with its own (eligible) key at epoch 2^32 - 1 and just over the allowed jump. All are
// refused: the victim stays alive everywhere, the manager and its epoch do not change, no
// agent persists the forged numbers, and the persisted values survive a restart intact.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, NODE, PORT, REPO } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import { MAX_EPOCH_JUMP } from '../../protocol/manager-wire.js'

const HOSTILE = join(REPO, 'dist/test/integration/hostile-peer.js')

describe('bounded numbers: forged incarnation and epoch claims through the real wire', () => {
  let fleet: AgentFleet
  const h = (i: number): TestHost => fleet.host(i - 1)
  let a1: AgentProcess
  let a2: AgentProcess
  let a3: AgentProcess

  const fileOn = async (host: TestHost, name: string): Promise<string> => (await host.exec(['cat', `/var/lib/clusterd/${name}`])).stdout.trim()

  before(async () => {
    // h1 is the seed and the manager; h3 is a member that is never eligible.
    fleet = await AgentFleet.create({ suite: 'bounded-numbers', prefix: 'bn', count: 3, eligible: i => i !== 2 })
    a1 = await fleet.start(0)
    await waitFor(async () => (await a1.manager())?.local === true ? true : undefined, { timeoutMs: 60_000, message: 'h1 manager' })
    a2 = await fleet.start(1)
    a3 = await fleet.start(2)
    for (const a of fleet.agents) {
      await fleet.waitForFormed({ among: [a] })
      await fleet.waitForManager({ name: h(1).name, among: [a], timeoutMs: 30_000 })
    }
  })

  after(async () => {
    await fleet?.close()
  })

  it('a dead claim at 2^32 - 1 and manager claims far above the known epoch are refused; the cluster keeps working', async () => {
    const manager = await a1.manager()
    assert.ok(manager !== null)
    const victim = (await a1.members())?.find(m => m.name === h(3).name)
    assert.ok(victim !== undefined)
    const near = manager.epoch + MAX_EPOCH_JUMP + 1
    // The forger is h2's identity: a member, manager-eligible, holding the secret.
    const r = await h(2).exec([NODE, HOSTILE, '--forge', '--secret', fleet.secret, '--identity-dir', '/var/lib/clusterd', '--listen', h(2).address,
      '--to', [1, 2, 3].map(i => `${h(i).address}:${PORT}`).join(','), '--victim', victim.peerId, '--name', h(2).name, '--epoch-near', String(near)], { timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr.slice(-2000))
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { stats: { sent: number } }
    assert.ok(report.stats.sent >= 90, `the forger sent ${report.stats.sent} datagrams`)

    // For 10 s after the last forged datagram: the victim is alive everywhere, the manager and
    // its epoch are unchanged, and nobody persisted the forged epoch.
    const until = Date.now() + 10_000
    while (Date.now() < until) {
      for (const a of fleet.agents) {
        assert.equal(await a.statusOf(h(3).name), 'alive', `${a.host.name} sees the victim ${h(3).name} alive`)
        const m = await a.manager()
        assert.equal(m?.name, h(1).name, `${a.host.name}'s manager`)
        assert.equal(m?.epoch, manager.epoch, `${a.host.name}'s manager epoch`)
      }
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    for (const host of [h(1), h(2), h(3)]) {
      const epoch = Number(await fileOn(host, 'epoch'))
      assert.ok(epoch <= manager.epoch, `${host.name} persisted epoch ${epoch} (manager epoch ${manager.epoch})`)
    }
    const incarnation = Number(await fileOn(h(3), 'incarnation'))
    assert.ok(incarnation < 100, `the victim's incarnation is ${incarnation}: it never had to out-bid the forged claim`)
    assert.match(a1.output + a3.output, /more than 1024 above/, 'the election says why it refused the claim')
    // The cluster still acts: a write through the non-eligible member reaches the manager.
    await a3.client.request('PUT', '/v1/config/job-timeout', { value: '4321' })
    assert.equal((await a1.client.request<Record<string, unknown>>('GET', '/v1/config'))['job-timeout'], 4321)
  })

  it('the persisted incarnation and epoch survive a restart intact', async () => {
    const before = { epoch: await fileOn(h(2), 'epoch'), incarnation: await fileOn(h(2), 'incarnation') }
    assert.match(before.epoch, /^\d+$/)
    assert.equal(await a2.stop(), 0)
    assert.equal(await fileOn(h(2), 'epoch'), before.epoch, 'the epoch file is unchanged by the stop')
    a2 = await fleet.start(1, { socketDir: join(fleet.dir, 'sock-2') })
    await waitFor(async () => (await a2.manager())?.name === h(1).name ? true : undefined, { timeoutMs: 60_000, message: 'h2 back, same manager' })
    assert.equal(String((await a2.manager())?.epoch), before.epoch)
    // A restart signs a newer record: its incarnation moved on from the persisted one, by a little.
    await waitFor(async () => (await a1.statusOf(h(2).name)) === 'alive' ? true : undefined, { timeoutMs: 30_000, message: 'h2 alive again' })
    const inc = Number(await fileOn(h(2), 'incarnation'))
    assert.ok(inc > Number(before.incarnation) && inc < Number(before.incarnation) + 100, `incarnation ${before.incarnation} -> ${inc}`)
    assert.doesNotMatch(a2.output, /is not used/, 'the persisted values were valid')
  })
})
