import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { answerDigest, digestOf, pickWanted, sameIncarnationMatters } from '../../../../../agent/membership/core/digest.js'
import type { AliveInfo, MemberStatus, SyncMember, SyncState } from '../../../../../agent/membership/core/types.js'
import { TestNet, allSee, cluster } from './test-net.js'

function info (id: string, incarnation: number, left = false): AliveInfo {
  return { id, name: id, incarnation, addr: { host: `h-${id}`, port: 7946 }, eligible: true, record: new Uint8Array(16).fill(incarnation), left }
}

function entry (id: string, incarnation: number, status: MemberStatus = 'alive'): SyncMember {
  return { info: info(id, incarnation, status === 'left'), status, incarnation }
}

function state (from: string, members: SyncMember[], user: Array<{ key: string, version: number }> = []): SyncState {
  return { from, members, user: user.map(u => ({ ...u, data: new Uint8Array([u.version]) })), join: false }
}

const ids = (s: SyncState): string[] => s.members.map(m => m.info.id).sort()

describe('digest push-pull (pure rules)', () => {
  it('between two nodes that agree only the digest travels, and the verdicts both hold (confirmations)', () => {
    const members = [entry('a', 3), entry('b', 2), entry('c', 5, 'suspect'), entry('d', 1, 'failed')]
    const user = [{ key: 'mgr/a', version: 4 }]
    const reply = answerDigest(state('b', members, user), digestOf(state('a', members, user)))
    // Both hold c suspect: each one's verdict may confirm the other's (Lifeguard), both ways.
    assert.deepEqual(ids(reply.state), ['c'])
    assert.deepEqual(reply.state.user, [])
    assert.deepEqual(reply.wantMembers, ['c'])
    assert.deepEqual(reply.wantUser, [])
  })

  it('a joiner that knows only itself gets every live member and is asked for its own entry', () => {
    const responder = state('s', [entry('s', 1), entry('x', 2), entry('y', 1, 'suspect'), entry('gone', 4, 'failed'), entry('bye', 9, 'left')], [{ key: 'mgr/s', version: 1 }])
    const joiner = { ...state('j', [entry('j', 1)]), join: true }
    const reply = answerDigest(responder, digestOf(joiner))
    // Failed and left members are not worth adding for a node that never knew them (worthAdding).
    assert.deepEqual(ids(reply.state), ['s', 'x', 'y'])
    assert.deepEqual(reply.state.user.map(u => u.key), ['mgr/s'])
    assert.deepEqual(reply.wantMembers, ['j'])
    assert.equal(reply.state.from, 's')
    assert.deepEqual(ids(pickWanted(joiner, reply.wantMembers, reply.wantUser)), ['j'])
  })

  it('newer incarnations travel each way; older and equal ones do not', () => {
    const mine = state('r', [entry('r', 1), entry('p', 5), entry('q', 2), entry('z', 7)])
    const theirs = state('i', [entry('i', 1), entry('r', 1), entry('p', 4), entry('q', 3), entry('z', 7)])
    const reply = answerDigest(mine, digestOf(theirs))
    assert.deepEqual(ids(reply.state), ['p'])
    assert.deepEqual([...reply.wantMembers].sort(), ['i', 'q'])
  })

  it('a same-incarnation verdict travels only where the merge acts on it', () => {
    // incoming, holder, holder is the subject -> matters
    assert.equal(sameIncarnationMatters('failed', 'suspect', false), true, 'confirms a suspicion')
    assert.equal(sameIncarnationMatters('failed', 'alive', false), false, 'a remote verdict is not taken against a member held alive')
    assert.equal(sameIncarnationMatters('alive', 'failed', false), true, 'the holder tells the member its verdict')
    assert.equal(sameIncarnationMatters('alive', 'suspect', false), false)
    assert.equal(sameIncarnationMatters('alive', 'suspect', false, true), true, 'with the heal rules the holder tells the member its suspicion')
    assert.equal(sameIncarnationMatters('suspect', 'alive', false, true), false, 'still no remote verdict against a member held alive')
    assert.equal(sameIncarnationMatters('suspect', 'alive', true), true, 'the subject refutes')
    assert.equal(sameIncarnationMatters('failed', 'alive', true), true, 'the subject learns it was held failed')
    // The responder holds the initiator failed: the initiator gets that entry about itself.
    const reply = answerDigest(state('r', [entry('r', 1), entry('i', 3, 'failed'), entry('x', 2)]), digestOf(state('i', [entry('i', 3), entry('r', 1), entry('x', 2, 'failed')])))
    assert.deepEqual(ids(reply.state), ['i', 'x'])
    // ... and its alive entry about itself comes back: the responder tells it our verdict directly.
    assert.deepEqual(reply.wantMembers, ['i'])
  })

  it('user keys: newer versions go, newer ones of the peer are asked for, duplicates once', () => {
    const reply = answerDigest(
      state('r', [entry('r', 1)], [{ key: 'k1', version: 2 }, { key: 'k2', version: 5 }, { key: 'k4', version: 1 }]),
      { ...digestOf(state('i', [entry('i', 1)], [{ key: 'k1', version: 3 }, { key: 'k2', version: 5 }, { key: 'k3', version: 1 }])), members: [] }
    )
    assert.deepEqual(reply.state.user.map(u => u.key), ['k4'])
    assert.deepEqual(reply.wantUser, ['k1', 'k3'])
    const twice = answerDigest(state('r', [entry('r', 1)]), { from: 'i', members: [{ id: 'i', incarnation: 1, status: 'alive' }, { id: 'i', incarnation: 1, status: 'alive' }], user: [], join: false })
    assert.deepEqual(twice.wantMembers, ['i'])
    assert.deepEqual(ids(pickWanted(state('i', [entry('i', 1), entry('o', 1)]), ['i', 'i', 'nobody'], ['nokey'])), ['i'])
  })
})

describe('digest push-pull between real cores', () => {
  it('a remote failed verdict in the last frame only confirms a suspicion: a member held alive stays alive', () => {
    const net = new TestNet(71)
    const all = cluster(net, 4)
    net.runUntilTrue(() => allSee(net, all, 'alive'), 20_000, 'full view')
    const n2 = net.need('n2').core.member('n2')!.info
    const forged = { from: 'n1', members: [{ info: n2, status: 'failed' as const, incarnation: n2.incarnation }], user: [], join: false }
    net.act('n0', (core, now) => core.onDigestPush(forged, now))
    assert.equal(net.status('n0', 'n2'), 'alive')
    // Above the signed incarnation: refused, as in a full-state merge.
    const before = net.need('n0').core.stats().refused
    net.act('n0', (core, now) => core.onDigestPush({ ...forged, members: [{ info: n2, status: 'failed', incarnation: n2.incarnation + 1 }] }, now))
    assert.equal(net.need('n0').core.stats().refused, before + 1)
  })

  it('forms and detects a crash as the full-state exchange does, for a fraction of its bytes', () => {
    const run = (digest: boolean): { bytes: number, converged: number } => {
      const net = new TestNet(72)
      net.digest = digest
      const all = cluster(net, 24, 50, { recordBytes: 300 })
      const converged = net.runUntilTrue(() => allSee(net, all, 'alive'), 30_000, `full view (${digest ? 'digest' : 'full'})`)
      net.cutLink('n3', 'n4')
      net.crash('n9')
      net.run(60_000)
      assert.ok(allSee(net, ['n9'], 'failed'), 'the crash is known to all')
      assert.ok(allSee(net, all.filter(i => i !== 'n9'), 'alive', all.filter(i => i !== 'n9')), 'nobody else is held failed')
      return { bytes: net.syncBytes, converged }
    }
    const full = run(false)
    const digest = run(true)
    assert.ok(digest.converged <= full.converged + 2_000, `digest ${digest.converged} ms vs full ${full.converged} ms to converge`)
    assert.ok(digest.bytes * 3 < full.bytes, `digest push-pulls moved ${digest.bytes} bytes, full ones ${full.bytes}`)
  })
})
