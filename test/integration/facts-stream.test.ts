// Facts on demand over real libp2p on 127.0.0.1 (PSK protector, noise, yamux): a member's facts
// are fetched from it and accepted only when they match the digest its signed record names;
// a changed, forged, malformed or oversized answer is refused with a reason, and a process
// without the cluster secret cannot fetch at all.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { pino } from 'pino'
import { FactsStream, encodeFacts, factsDigest, type EncodedFacts } from '../../agent/facts/facts-stream.js'
import { createClusterNode, type ClusterNode } from '../../agent/libp2p/create-node.js'
import { generateSecret } from '../../agent/transport/secret.js'
import type { NodeFacts } from '../../protocol/members.js'
import { MAX_FACTS_BYTES } from '../../protocol/membership-wire.js'
import { waitFor } from '../harness/poll.js'

const silent = pino({ level: 'silent' })
const facts: NodeFacts = {
  hostname: 'h1', addresses: ['10.0.0.1'], os: { platform: 'linux', release: '1', distro: 'd' }, kernel: 'k', arch: 'x64', cpus: 2, memoryBytes: 1, disks: [],
  agentVersion: '0', sshHostKeys: [{ type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIGq' }]
}

describe('facts stream (fetched on demand, checked against the signed digest)', () => {
  const psk = generateSecret()
  const nodes: ClusterNode[] = []
  let serving: EncodedFacts | null = encodeFacts(facts)
  let server: FactsStream
  let client: FactsStream
  let addr = ''
  let serverId = ''

  const node = async (secret: Uint8Array): Promise<ClusterNode> => {
    const n = await createClusterNode({ privateKey: await generateKeyPair('Ed25519'), psk: secret, listen: '/ip4/127.0.0.1/tcp/0', announce: [] })
    nodes.push(n)
    return n
  }

  before(async () => {
    const a = await node(psk)
    const b = await node(psk)
    server = new FactsStream({ libp2p: a, logger: silent, current: () => serving })
    await server.start()
    client = new FactsStream({ libp2p: b, logger: silent, current: () => null }, { timeoutMs: 3000 })
    addr = a.getMultiaddrs()[0]?.toString().replace(/\/p2p\/.*$/, '') ?? ''
    serverId = a.peerId.toString()
  })

  after(async () => {
    await server.stop()
    for (const n of nodes) await n.stop()
  })

  it('fetches the facts whose digest the record names', async () => {
    const r = await client.fetch(serverId, addr, encodeFacts(facts).digest)
    assert.equal(r.ok, true, r.ok ? '' : r.reason)
    assert.deepEqual(r.ok ? r.value : null, facts)
    // The server counts a fetch once its close completes (closeStream waits for the remote's
    // close), which can land just after the client has its answer: poll, do not race it.
    await waitFor(() => server.stats.served === 1 ? true : undefined, { timeoutMs: 3000, message: () => `served ${server.stats.served}` })
    assert.equal(server.stats.served, 1)
  })

  it('refuses facts that changed since the record (or were forged) and malformed facts with a matching digest', async () => {
    const old = encodeFacts(facts).digest
    serving = encodeFacts({ ...facts, hostname: 'other' })
    const r = await client.fetch(serverId, addr, old)
    assert.equal(r.ok, false)
    assert.match(r.ok ? '' : r.reason, /digest/)
    const bad = new TextEncoder().encode(JSON.stringify({ ...facts, sshHostKeys: 'none' }))
    serving = { bytes: bad, digest: factsDigest(bad) }
    const m = await client.fetch(serverId, addr, factsDigest(bad))
    assert.equal(m.ok, false)
    assert.match(m.ok ? '' : m.reason, /sshHostKeys/)
    const huge = new TextEncoder().encode(JSON.stringify({ ...facts, hostname: 'x'.repeat(MAX_FACTS_BYTES) }))
    serving = { bytes: huge, digest: factsDigest(huge) }
    const h = await client.fetch(serverId, addr, factsDigest(huge))
    assert.equal(h.ok, false, 'an answer above the cap is not read')
    serving = null
    assert.equal((await client.fetch(serverId, addr, old)).ok, false, 'a node without facts answers nothing')
    assert.ok(client.stats.refused >= 2)
    serving = encodeFacts(facts)
  })

  it('a process without the cluster secret cannot fetch', async () => {
    const stranger = await node(generateSecret())
    const s = new FactsStream({ libp2p: stranger, logger: silent, current: () => null }, { timeoutMs: 3000 })
    const r = await s.fetch(serverId, addr, encodeFacts(facts).digest)
    assert.equal(r.ok, false)
    assert.equal(s.stats.failed, 1)
  })
})
