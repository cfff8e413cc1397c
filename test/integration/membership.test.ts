// Membership on real hosts: separate agent processes, each in its own network namespace with
// its own sshd, talking over a real bridge. Proves joining, failure detection, rejoin after a
// healed link, graceful leave, persistent identity, the cluster secret (for streams and for
// datagrams), bounded connections, a late seed, and hostile datagrams and push-pull.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { pino } from 'pino'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, makeSecret, PORT } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import { createClusterNode } from '../../agent/libp2p/create-node.js'
import { readSecretFile } from '../../agent/transport/secret.js'
import { DatagramChannel } from '../../agent/transport/datagram-channel.js'
import { SYNC_PROTOCOL_V2 } from '../../agent/membership/sync-stream.js'
import { encodeDatagram } from '../../protocol/swim-wire.js'

/** Established TCP connections of the agent's libp2p listener/dialer on its host (libp2p connections). */
const connections = async (a: AgentProcess): Promise<number> => {
  const r = await a.host.exec(['/usr/bin/ss', '-tnH', 'state', 'established', `( sport = :${PORT} or dport = :${PORT} )`])
  return r.stdout.split('\n').filter(l => l.trim() !== '').length
}

/** CLUSTERD_TIMING of this suite: idle connections close after 5 s instead of 30 s, so the bound shows quickly. */
const TIMING = JSON.stringify({ idleConnectionMs: 5000 })

/** What `a` logged since `mark` (its output length then; once the 200 kB buffer rolls over, its recent part). */
const since = (a: AgentProcess, mark: number): string => a.output.length < 200_000 ? a.output.slice(mark) : a.output.slice(-50_000)

const alive = async (a: AgentProcess): Promise<string[]> =>
  ((await a.members()) ?? []).filter(m => m.status === 'alive').map(m => m.name).sort()

describe('membership on real hosts', () => {
  let fleet: AgentFleet
  /** The first five agents: the cluster (host 5 is for a stranger). */
  const five = (): AgentProcess[] => fleet.agents.slice(0, 5)
  const names = (): string[] => fleet.hosts.slice(0, 5).map(h => h.name).sort()

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'membership', prefix: 'mb', count: 6, env: { CLUSTERD_TIMING: TIMING } })
  })

  after(async () => {
    await fleet?.close()
  })

  it('five agents join through one seed and all see five alive', async () => {
    await fleet.startAll([0, 1, 2, 3, 4])
    await fleet.waitForFormed({ timeoutMs: 30_000 })
    const members = await fleet.agent(1).members('fetch') ?? []
    const seed = members.find(m => m.name === fleet.host(0).name)
    assert.ok(seed !== undefined)
    assert.equal(seed.facts?.hostname, fleet.host(0).hostname)
    assert.ok((seed.facts?.sshHostKeys.length ?? 0) > 0, 'facts carry the node\'s sshd host keys')
    assert.equal(`${seed.facts?.sshHostKeys[0]?.type} ${seed.facts?.sshHostKeys[0]?.key}`, fleet.host(0).hostKeyPublic.split(' ').slice(0, 2).join(' '))
    assert.ok(seed.incarnation >= 1)
    assert.match(seed.lastSeen, /^\d{4}-\d\d-\d\dT/)
  })

  it('an idle agent holds a bounded number of libp2p connections, not one per member', async () => {
    // Joining opened connections (push-pull); once idle they close, except to the manager.
    // All agents at once: waiting for each in turn and then counting again raced with the
    // settle push-pulls of the joiners (a refused join retries, and settles, a few s later).
    let counts: number[] = []
    await waitFor(async () => {
      counts = await Promise.all(five().map(async a => await connections(a)))
      return counts.every(n => n <= 2) ? true : undefined
    }, { timeoutMs: 45_000, message: () => `connections per agent: ${counts.join(', ')}` })
    for (const a of five()) assert.deepEqual(await alive(a), names(), 'membership is intact without the connections')
  })

  it('a cut link makes every survivor mark the node failed, and a restored link brings it back alive', async () => {
    const victim = fleet.host(4)
    await victim.cutLink()
    for (const a of five().slice(0, 4)) {
      await waitFor(async () => (await a.statusOf(victim.name)) === 'failed' ? true : undefined,
        { timeoutMs: 30_000, message: `${a.host.name} never marked ${victim.name} failed` })
    }
    await victim.restoreLink()
    await fleet.waitForFormed({ among: five(), names: names(), timeoutMs: 30_000 })
  })

  it('SIGTERM announces a graceful leave: the others show left, not failed', async () => {
    const leaver = fleet.agent(3)
    assert.equal(await leaver.stop('SIGTERM'), 0, 'the agent exits 0 after a graceful leave')
    for (const a of [0, 1, 2, 4].map(i => fleet.agent(i))) {
      await waitFor(async () => (await a.statusOf(leaver.host.name)) === 'left' ? true : undefined,
        { timeoutMs: 10_000, message: `${a.host.name} does not show ${leaver.host.name} as left` })
    }
  })

  it('a restarted agent keeps its peer id and rejoins alive', async () => {
    const name = fleet.host(3).name
    const before = (await fleet.agent(0).members())?.find(m => m.name === name)
    const again = await fleet.start(3)
    await waitFor(async () => (await fleet.agent(0).statusOf(name)) === 'alive' ? true : undefined,
      { timeoutMs: 30_000, message: () => `${name} did not come back alive:\n${again.output.slice(-2000)}` })
    const after = (await fleet.agent(0).members())?.find(m => m.name === name)
    assert.equal(after?.peerId, before?.peerId)
    assert.ok((after?.incarnation ?? 0) > (before?.incarnation ?? 0), 'the new incarnation supersedes the left record')
  })

  it('an agent with another secret is refused and never listed', async () => {
    const wrong = await makeSecret(fleet.dir, 'other-secret')
    const stranger = await fleet.start(5, { secretFile: wrong })
    // It is running and answering, but alone.
    await waitFor(async () => (await stranger.members())?.length === 1 ? true : undefined, { timeoutMs: 20_000, message: 'stranger API up' })
    // Watch for 8 s (the stranger redials the seed several times meanwhile): no member may ever list it.
    const until = Date.now() + 8_000
    while (Date.now() < until) {
      for (const a of five()) {
        const m = await a.members()
        assert.equal(m?.some(x => x.name === stranger.host.name), false, `${a.host.name} lists the stranger`)
      }
      await delay(500) // pacing of the observation window, not a wait for state
    }
    assert.deepEqual((await stranger.members())?.map(m => m.name), [stranger.host.name])
    await stranger.stop('SIGKILL')
  })

  it('datagrams sealed with another secret are dropped and counted, and change nothing', async () => {
    const seed = fleet.agent(0)
    const stranger = new DatagramChannel({ logger: pino({ level: 'silent' }) }, { secret: new Uint8Array(32).fill(7), host: '0.0.0.0', port: 0 })
    await stranger.start()
    try {
      const fakeId = (await fleet.agent(1).members())?.find(m => m.name === fleet.host(1).name)?.peerId as string
      // A stranger claiming to be a member, accusing another one: it must not even be read.
      const ping = encodeDatagram({ t: 'ping', seq: 1, from: fakeId, target: 'x', gossip: [{ t: 'dead', id: fakeId, incarnation: 1, from: fakeId }] })
      const mark = seed.output.length
      for (let i = 0; i < 20; i++) stranger.send({ host: seed.host.address, port: PORT }, ping)
      // The drop warning is logged at most once per 10 s per reason: the previous test's
      // stranger agent (its join announces it by datagram) may just have used it, so keep
      // sending while waiting for ours.
      await waitFor(() => {
        if (/"reason":"auth".*datagram dropped|datagram dropped.*"reason":"auth"/.test(since(seed, mark))) return true
        stranger.send({ host: seed.host.address, port: PORT }, ping)
        return undefined
      }, { timeoutMs: 20_000, intervalMs: 250, message: `no auth drop logged:\n${seed.output.slice(-2000)}` })
      assert.deepEqual(await alive(seed), names(), 'its view is intact')
    } finally {
      await stranger.stop()
    }
  })

  it('malformed or unverifiable datagrams and push-pull states from a peer with the secret are dropped and logged; the agent keeps running', async () => {
    const psk = await readSecretFile(fleet.secret)
    const seed = fleet.agent(0)
    const rogueDgram = new DatagramChannel({ logger: pino({ level: 'silent' }) }, { secret: psk, host: '0.0.0.0', port: 0 })
    await rogueDgram.start()
    const rogue = await createClusterNode({ privateKey: await generateKeyPair('Ed25519'), psk, listen: '/ip4/127.0.0.1/tcp/0', announce: [] })
    try {
      const to = { host: seed.host.address, port: PORT }
      const victim = (await seed.members())?.find(m => m.name === fleet.host(1).name)
      assert.ok(victim !== undefined)
      const mark = seed.output.length
      rogueDgram.send(to, new TextEncoder().encode('{not a datagram'))
      rogueDgram.send(to, new Uint8Array(2000).fill(65))
      // A forged record: the victim's id and a higher incarnation, signed by nobody.
      rogueDgram.send(to, encodeDatagram({
        t: 'gossip',
        from: victim.peerId,
        gossip: [{ t: 'alive', info: { id: victim.peerId, name: victim.name, incarnation: victim.incarnation + 5, addr: { host: '10.9.9.9', port: 1 }, eligible: true, record: new Uint8Array(100).fill(1), left: true } }]
      }))
      const stream = await rogue.dialProtocol(multiaddr(`/ip4/${seed.host.address}/tcp/${PORT}`), SYNC_PROTOCOL_V2)
      await lpStream(stream).write(new TextEncoder().encode('{"not":"a sync state"}'))
      for (const kind of ['datagram', 'record', 'sync']) {
        await waitFor(() => new RegExp(`"kind":"${kind}".*dropped a malformed or unverifiable membership message`).test(since(seed, mark)) ? true : undefined,
          { timeoutMs: 10_000, message: `no ${kind} drop logged:\n${since(seed, mark).slice(-2000)}` })
      }
      assert.equal(seed.proc.exitCode, null, 'the agent is still running')
      assert.deepEqual(await alive(seed), names(), 'its view is intact: the forged leave was not taken')
    } finally {
      await rogue.stop()
      await rogueDgram.stop()
    }
  })

  it('a cluster whose seed starts last still forms', async () => {
    await Promise.all(five().map(async a => await a.stop('SIGKILL')))
    // New data dirs would be cleaner, but a full restart with the seed last is the point.
    await fleet.startAll([1, 2, 3, 4])
    await waitFor(async () => (await fleet.agent(4).members()) !== null ? true : undefined, { timeoutMs: 20_000, message: 'agents up' })
    await fleet.start(0)
    await fleet.waitForFormed({ among: five(), names: names(), timeoutMs: 40_000 })
  })

  it('agents set to --failure-detection fast say so, form, mark a cut node failed and take it back once healed', async () => {
    await Promise.all(five().map(async a => await a.stop('SIGTERM')))
    const fast = ['--failure-detection', 'fast']
    await fleet.start(0, { extraArgs: fast })
    for (const i of [1, 2, 3, 4]) await fleet.start(i, { extraArgs: fast })
    await fleet.waitForFormed({ among: five(), names: names(), timeoutMs: 40_000 })
    for (const a of five()) assert.match(a.output, /"failureDetection":"fast"[^\n]*"msg":"agent started"/, `${a.host.name} did not start with fast failure detection`)
    const victim = fleet.host(3)
    await victim.cutLink()
    try {
      for (const a of five().filter(x => x.host !== victim)) {
        await waitFor(async () => (await a.statusOf(victim.name)) === 'failed' ? true : undefined,
          { timeoutMs: 30_000, message: `${a.host.name} never marked ${victim.name} failed` })
      }
    } finally {
      await victim.restoreLink()
    }
    await fleet.waitForFormed({ among: five(), names: names(), timeoutMs: 30_000 })
  })
})

