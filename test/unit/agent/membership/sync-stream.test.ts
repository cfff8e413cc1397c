import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream, streamPair } from '@libp2p/utils'
import { pino } from 'pino'
import { SYNC_PROTOCOL_V2, SYNC_PROTOCOL_V3, SyncStream, type ExchangeHandlers } from '../../../../agent/membership/sync-stream.js'
import { answerDigest, pickWanted } from '../../../../agent/membership/core/digest.js'
import type { AliveInfo, MemberStatus, SyncMember, SyncState } from '../../../../agent/membership/core/types.js'
import { encodeDigest } from '../../../../protocol/swim-digest-wire.js'
import { decodeSyncState, encodeSyncState } from '../../../../protocol/swim-wire.js'

const silent = pino({ level: 'silent' })
const A = '12D3KooWAbcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTU'
const B = '12D3KooWZyxwvutsrqponmkjihgfedcbaZYXWVUTSRQPNMLKJHG'
const C = '12D3KooWCcccccccccccccccccccccccccccccccccccccccccc'

type Handler = (stream: Stream, connection: { remotePeer: { toString: () => string } }) => void

/**
 * Two or more libp2p stand-ins joined by in-memory streams: a dial picks the first offered
 * protocol the target handles (multistream-select), as libp2p's dialProtocol does.
 */
class FakeNet {
  readonly handlers = new Map<string, Map<string, Handler>>()
  node (peer: string, host: string): Libp2p {
    const mine = new Map<string, Handler>()
    this.handlers.set(host, mine)
    const fake = {
      handle: async (protocol: string, h: Handler) => { mine.set(protocol, h) },
      unhandle: async (protocol: string) => { mine.delete(protocol) },
      dialProtocol: async (ma: { toString: () => string }, protocols: string | string[]) => {
        const target = this.handlers.get(ma.toString().split('/')[2] ?? '')
        const offered = Array.isArray(protocols) ? protocols : [protocols]
        const protocol = offered.find(p => target?.has(p) === true)
        if (target === undefined || protocol === undefined) throw new Error('protocol selection failed')
        const [client, server] = await streamPair()
        client.protocol = protocol // what multistream-select negotiated
        target.get(protocol)!(server, { remotePeer: { toString: () => peer } })
        return client
      }
    }
    return fake as unknown as Libp2p
  }
}

function entry (id: string, incarnation: number, status: MemberStatus = 'alive'): SyncMember {
  const info: AliveInfo = { id, name: `n-${id.slice(-3).toLowerCase()}`, incarnation, addr: { host: '10.0.0.9', port: 7946 }, eligible: false, record: new Uint8Array(200).fill(incarnation), left: false }
  return { info, status, incarnation }
}

/** A SyncStream over a fixed state: it answers from it and records what it is given. */
function peer (net: FakeNet, id: string, host: string, members: SyncMember[], offer?: string[]) {
  const state: SyncState = { from: id, members, user: [], join: false }
  const seen = { answered: [] as SyncState[], digests: 0, pushed: [] as SyncState[], bad: [] as string[] }
  const s = new SyncStream({
    libp2p: net.node(id, host),
    logger: silent,
    codec: { encode: encodeSyncState, decode: decodeSyncState },
    answer: (_from, st) => { seen.answered.push(st); return state },
    answerDigest: (_from, d) => { seen.digests++; return answerDigest(state, d) },
    takePush: (_from, st) => { seen.pushed.push(st) },
    onBadInput: (_from, reason) => { seen.bad.push(reason) }
  }, { maxBytes: 1024 * 1024, timeoutMs: 3000, ...(offer !== undefined ? { offer } : {}) })
  const got = { replies: [] as SyncState[], digestReplies: [] as SyncState[] }
  const handlers: ExchangeHandlers = {
    reply: st => { got.replies.push(st) },
    digestReply: r => { got.digestReplies.push(r.state); return pickWanted(state, r.wantMembers, r.wantUser) }
  }
  return { s, state, seen, got, handlers }
}

const ids = (s: SyncState | undefined): string[] => (s?.members ?? []).map(m => m.info.id).sort()
const at = (host: string) => ({ host, port: 7946 })

describe('SyncStream: digest push-pull with fallback', () => {
  it('two 3.0.0 agents exchange a digest, the entries that differ and the wanted ones', async () => {
    const net = new FakeNet()
    const a = peer(net, A, '10.0.0.1', [entry(A, 2), entry(B, 1), entry(C, 5)])
    const b = peer(net, B, '10.0.0.2', [entry(A, 1), entry(B, 3), entry(C, 4)])
    await a.s.start(); await b.s.start()
    const r = await b.s.exchange(at('10.0.0.1'), A, b.state, b.handlers)
    assert.deepEqual(r, { ok: true, value: '3.0.0' })
    assert.equal(a.seen.digests, 1)
    assert.deepEqual(ids(b.got.digestReplies[0]), [A, C], 'A sent what B held older')
    assert.equal(a.seen.pushed.length, 1)
    assert.deepEqual(ids(a.seen.pushed[0]), [B], 'and B what A held older')
    assert.equal(a.seen.answered.length, 0, 'no whole state travelled')
    assert.deepEqual(a.seen.bad, [])
  })

  it('falls back to 2.0.0 against an agent that serves only 2.0.0, and serves an agent that offers only 2.0.0', async () => {
    const net = new FakeNet()
    const old = peer(net, A, '10.0.0.1', [entry(A, 2), entry(B, 1)])
    const now = peer(net, B, '10.0.0.2', [entry(A, 1), entry(B, 3)])
    await old.s.start(); await now.s.start()
    net.handlers.get('10.0.0.1')!.delete(SYNC_PROTOCOL_V3) // an agent from before 3.0.0
    const r = await now.s.exchange(at('10.0.0.1'), A, now.state, now.handlers)
    assert.deepEqual(r, { ok: true, value: '2.0.0' })
    assert.deepEqual(ids(old.seen.answered[0]), [A, B], 'the whole state went')
    assert.deepEqual(ids(now.got.replies[0]), [A, B], 'and came back')
    const oldClient = peer(net, C, '10.0.0.3', [entry(C, 1)], [SYNC_PROTOCOL_V2])
    const r2 = await oldClient.s.exchange(at('10.0.0.2'), B, oldClient.state, oldClient.handlers)
    assert.deepEqual(r2, { ok: true, value: '2.0.0' })
    assert.equal(now.seen.answered.length, 1)
    assert.equal(now.seen.digests, 0)
  })

  it('refuses a digest that names another sender or does not decode, before the core sees it', async () => {
    const net = new FakeNet()
    const a = peer(net, A, '10.0.0.1', [entry(A, 1)])
    await a.s.start()
    const dial = net.node(B, '10.0.0.2')
    for (const bytes of [encodeDigest({ from: C, members: [], user: [], join: false }), Uint8Array.from([1, 0, 0xff, 0])]) {
      const stream = await dial.dialProtocol({ toString: () => '/ip4/10.0.0.1/tcp/7946' } as never, SYNC_PROTOCOL_V3)
      const lp = lpStream(stream)
      await lp.write(bytes)
      await assert.rejects(lp.read({ signal: AbortSignal.timeout(2000) }))
    }
    assert.equal(a.seen.digests, 0)
    assert.equal(a.seen.bad.length, 2)
    assert.match(a.seen.bad[0]!, /names .* as its sender/)
  })

  it('a failed dial is a reason, not a throw', async () => {
    const net = new FakeNet()
    const b = peer(net, B, '10.0.0.2', [entry(B, 1)])
    const r = await b.s.exchange(at('10.0.0.7'), null, b.state, b.handlers)
    assert.equal(r.ok, false)
  })
})
