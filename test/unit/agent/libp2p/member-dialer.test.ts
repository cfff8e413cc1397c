import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from '@libp2p/interface'
import { memberDialer, type MemberDialerLibp2p } from '../../../../agent/libp2p/member-dialer.js'

describe('member dialer', () => {
  it('tells the peer store a member\'s address just before dialing it, once per address', async () => {
    const a = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const b = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const events: string[] = []
    const fake: MemberDialerLibp2p = {
      peerStore: { merge: async (peer, data) => { events.push(`merge ${peer.toString()} ${String(data.multiaddrs?.[0])}`); return null as never } },
      dialProtocol: (async (peer: unknown, protocols: string | string[]) => { events.push(`dial ${String(peer)} ${String(protocols)}`); return null as never }) as unknown as Libp2p['dialProtocol']
    }
    const addrs = new Map([[a.toString(), '/ip4/10.0.0.1/tcp/7946']])
    const d = memberDialer(fake, id => addrs.get(id))
    await d.dialProtocol(a, '/p/1')
    await d.dialProtocol(a, '/p/1')
    assert.deepEqual(events, [`merge ${a.toString()} /ip4/10.0.0.1/tcp/7946`, `dial ${a.toString()} /p/1`, `dial ${a.toString()} /p/1`], 'merged before the first dial only')
    events.length = 0
    addrs.set(a.toString(), '/ip4/10.0.0.2/tcp/7946')
    await d.dialProtocol(a, '/p/1')
    assert.deepEqual(events, [`merge ${a.toString()} /ip4/10.0.0.2/tcp/7946`, `dial ${a.toString()} /p/1`], 'a moved member is told again')
    events.length = 0
    await d.dialProtocol(b, '/p/1')
    const ma = multiaddr(`/ip4/10.0.0.3/tcp/7946/p2p/${b.toString()}`)
    await d.dialProtocol(ma, '/p/2')
    assert.deepEqual(events, [`dial ${b.toString()} /p/1`, `dial ${ma.toString()} /p/2`], 'an unknown peer and a multiaddr dial pass through')
  })
})
