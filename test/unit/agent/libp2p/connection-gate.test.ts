import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { MultiaddrConnection, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { pino } from 'pino'
import { ConnectionGate } from '../../../../agent/libp2p/connection-gate.js'

const silent = pino({ level: 'silent' })

/** A stand-in for a raw inbound connection: a remote address and close listeners. */
function rawConn (host: string): MultiaddrConnection & { fireClose: () => void } {
  const listeners: Array<() => void> = []
  return {
    remoteAddr: multiaddr(`/ip4/${host}/tcp/40000`),
    addEventListener: (_: string, fn: () => void) => { listeners.push(fn) },
    fireClose: () => { for (const fn of listeners) fn() }
  } as unknown as MultiaddrConnection & { fireClose: () => void }
}

async function peer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

describe('ConnectionGate', () => {
  it('lets a host hold at most maxPendingPerHost upgrades; a finished or closed upgrade frees its slot', async () => {
    const gate = new ConnectionGate({ isMember: () => false, connectedPeers: () => [], logger: silent }, { maxPendingPerHost: 2 })
    const g = gate.gater()
    const a = rawConn('10.0.0.9')
    const b = rawConn('10.0.0.9')
    assert.equal(await g.denyInboundConnection?.(a), false)
    assert.equal(await g.denyInboundConnection?.(b), false)
    assert.equal(await g.denyInboundConnection?.(rawConn('10.0.0.9')), true, 'a third pending upgrade from the same host')
    assert.equal(await g.denyInboundConnection?.(rawConn('10.0.0.8')), false, 'another host has its own slots')
    a.fireClose()
    assert.equal(await g.denyInboundConnection?.(rawConn('10.0.0.9')), false, 'a closed one freed its slot')
    await g.denyInboundUpgradedConnection?.(await peer(), b)
    b.fireClose()
    assert.equal(await g.denyInboundConnection?.(rawConn('10.0.0.9')), false, 'an upgraded one freed its slot (once)')
    assert.equal(await g.denyInboundConnection?.(rawConn('10.0.0.9')), true)
    assert.equal(gate.stats.refusedPending, 2)
  })

  it('admits members and seed hosts always, other secret holders as joiners up to maxGuests, and caps connections per peer', async () => {
    const member = await peer()
    const joiners = await Promise.all([peer(), peer(), peer()])
    const connected: string[] = []
    const gate = new ConnectionGate({
      isMember: id => id === member.toString(),
      connectedPeers: () => connected,
      logger: silent
    }, { seedHosts: ['10.0.0.1'], maxGuests: 2, maxPerPeer: 2 })
    const g = gate.gater()
    const from = (host: string): MultiaddrConnection => rawConn(host)
    for (const j of joiners.slice(0, 2)) {
      assert.equal(await g.denyInboundEncryptedConnection?.(j, from('10.0.0.5')), false)
      connected.push(j.toString())
    }
    const third = joiners[2] as PeerId
    assert.equal(await g.denyInboundEncryptedConnection?.(third, from('10.0.0.5')), true, 'a third joiner while two are connected')
    assert.equal(await g.denyInboundEncryptedConnection?.(third, from('10.0.0.1')), false, 'from a seed host')
    assert.equal(await g.denyInboundEncryptedConnection?.(member, from('10.0.0.7')), false, 'a member')
    connected.push(member.toString(), member.toString())
    assert.equal(await g.denyInboundEncryptedConnection?.(member, from('10.0.0.7')), true, 'a member with two connections already')
    assert.equal(gate.stats.refusedGuests, 1)
    assert.equal(gate.stats.refusedPerPeer, 1)
  })
})
