// The agent's membership stack in one process on 127.0.0.1, real parts throughout: libp2p
// nodes with the PSK protector, AEAD datagram channels, the membership wrapper around the
// pure core, replica revisions and the election as broadcasts. Proves that agents join through
// a seed, agree on the manager the ranking picks (highest replica revision), learn every
// revision, and elect the next one when the manager leaves, without gossipsub.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { pino } from 'pino'
import { createClusterNode, type ClusterNode } from '../../agent/libp2p/create-node.js'
import { DatagramChannel } from '../../agent/transport/datagram-channel.js'
import { Membership } from '../../agent/membership/membership.js'
import { Election } from '../../agent/election/election.js'
import { ReplicaRevisions } from '../../agent/replica/revision-gossip.js'
import { generateSecret } from '../../agent/transport/secret.js'
import type { NodeFacts } from '../../protocol/members.js'
import { waitFor } from '../harness/poll.js'

const N = 4
const silent = pino({ level: 'silent' })
const facts: NodeFacts = { hostname: 'h', addresses: [], os: { platform: 'linux', release: '1', distro: 'd' }, kernel: 'k', arch: 'x64', cpus: 2, memoryBytes: 1, disks: [], agentVersion: '0', sshHostKeys: [] }

interface Agent { i: number, id: string, node: ClusterNode, dgram: DatagramChannel, m: Membership, r: ReplicaRevisions, e: Election }

describe('membership stack in one process (real libp2p and datagrams on loopback)', () => {
  const psk = generateSecret()
  const agents: Agent[] = []

  before(async () => {
    // Port 0 for UDP needs the TCP port first: take the libp2p listener's, then bind UDP to it.
    for (let i = 0; i < N; i++) {
      const key = await generateKeyPair('Ed25519')
      const node = await createClusterNode({ privateKey: key, psk, listen: '/ip4/127.0.0.1/tcp/0', announce: [] })
      const port = Number(node.getMultiaddrs()[0]?.getComponents().find(c => c.name === 'tcp')?.value)
      const dgram = new DatagramChannel({ logger: silent }, { secret: psk, host: '127.0.0.1', port })
      await dgram.start()
      let inc = 0
      let epoch = 0
      const seedPort = agents[0]?.m === undefined ? port : Number(agents[0].node.getMultiaddrs()[0]?.getComponents().find(c => c.name === 'tcp')?.value)
      const m = new Membership({
        libp2p: node, privateKey: key, logger: silent, datagrams: dgram, collectFacts: async () => facts,
        incarnations: { load: async () => inc, save: async v => { inc = v } }
      }, { nodeName: `n${i}`, labels: {}, managerEligible: true, advertise: { host: '127.0.0.1', port }, seeds: i === 0 ? [] : [{ host: '127.0.0.1', port: seedPort }] })
      await m.start()
      const id = node.peerId.toString()
      const r = new ReplicaRevisions({ broadcasts: m, privateKey: key, logger: silent, revision: () => i * 10, isMember: p => m.members().some(x => x.peerId === p) }, { peerId: id, announce: true })
      r.start()
      const e = new Election({ broadcasts: m, privateKey: key, logger: silent, members: () => m.members(), epochs: { load: async () => epoch, save: async v => { epoch = v } }, revisions: r },
        { peerId: id, name: `n${i}`, eligible: true, hasSeeds: i > 0 })
      m.onChange(() => { e.poke() })
      await e.start()
      agents.push({ i, id, node, dgram, m, r, e })
    }
  })

  after(async () => {
    for (const a of agents) {
      await a.e.stop().catch(() => {})
      a.r.stop()
      await a.m.stop().catch(() => {})
      await a.dgram.stop()
      await a.node.stop()
    }
  })

  it('every agent sees every other alive, and fetches a member\'s facts on demand', async () => {
    await waitFor(() => agents.every(a => a.m.members().filter(x => x.status === 'alive').length === N) ? true : undefined,
      { timeoutMs: 15_000, message: 'not all see all' })
    // The gossiped record carries a digest of the facts, not the facts: they are fetched on demand.
    assert.equal(agents[1]?.m.members().find(x => x.name === 'n0')?.facts, null)
    const view = (await agents[1]?.m.membersWithFacts(AbortSignal.timeout(5_000)))?.find(x => x.name === 'n0')
    assert.equal(view?.facts?.hostname, 'h')
    assert.equal(agents[1]?.m.members().find(x => x.name === 'n0')?.facts?.hostname, 'h', 'fetched facts are cached')
    assert.deepEqual(view?.addresses, [`/ip4/127.0.0.1/tcp/${Number(agents[0]?.node.getMultiaddrs()[0]?.getComponents().find(c => c.name === 'tcp')?.value)}`])
  })

  it('all agree on the manager with the highest replica revision, and learn every revision', async () => {
    const top = agents[N - 1] as Agent
    await waitFor(() => agents.every(a => a.e.manager()?.peerId === top.id) ? true : undefined, { timeoutMs: 15_000, message: 'no agreement on the best-ranked manager' })
    // n0's store is at revision 0: a fresh store announces nothing (it ranks as 0 unheard).
    await waitFor(() => agents.every(a => agents.every(b => a.r.revisionOf(b.id) === (b.i === 0 && a !== b ? undefined : b.i * 10))) ? true : undefined, { timeoutMs: 10_000, message: 'revisions not known everywhere' })
    assert.equal(top.e.isManager, true)
    assert.equal(agents[0]?.e.epoch, top.e.manager()?.epoch)
  })

  it('when the manager leaves, the others show it left and elect the next best at a higher epoch', async () => {
    const leaver = agents[N - 1] as Agent
    const epoch = leaver.e.epoch
    await leaver.e.stop()
    leaver.r.stop()
    await leaver.m.stop()
    const rest = agents.slice(0, N - 1)
    await waitFor(() => rest.every(a => a.m.members().find(x => x.name === `n${N - 1}`)?.status === 'left') ? true : undefined, { timeoutMs: 10_000, message: 'leave not seen' })
    const next = agents[N - 2] as Agent
    await waitFor(() => rest.every(a => a.e.manager()?.peerId === next.id) ? true : undefined, { timeoutMs: 15_000, message: 'no new manager' })
    assert.ok((next.e.manager()?.epoch ?? 0) > epoch)
  })
})
