import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Prng, decodesWithoutThrowing, fuzzSeed, randomBytes } from '../../harness/fuzz.js'
import type { AliveInfo, DigestReply, SyncDigest } from '../../../agent/membership/core/types.js'
import {
  MAX_DIGEST_BYTES, MAX_DIGEST_REPLY_BYTES, decodeDigest, decodeDigestReply, digestReplySize, digestSize, encodeDigest,
  encodeDigestReply
} from '../../../protocol/swim-digest-wire.js'
import { encodeSyncState } from '../../../protocol/swim-wire.js'

const SEED = fuzzSeed(20261207)
const PEER = '12D3KooWAbcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTU'
const PEER2 = '12D3KooWZyxwvutsrqponmkjihgfedcbaZYXWVUTSRQPNMLKJHG'
const info: AliveInfo = { id: PEER2, name: 'node-2', incarnation: 7, addr: { host: '10.0.0.2', port: 7946 }, eligible: false, record: new Uint8Array(300).fill(9), left: false }

const digest: SyncDigest = {
  from: PEER,
  members: [{ id: PEER, incarnation: 3, status: 'alive' }, { id: PEER2, incarnation: 2 ** 32 - 1, status: 'failed' }, { id: 'x', incarnation: 0, status: 'left' }],
  user: [{ key: 'mgr/' + PEER, version: 4 }, { key: 'rev/x', version: 0 }],
  join: false
}
const reply: DigestReply = {
  state: { from: PEER2, members: [{ info, status: 'suspect', incarnation: 7 }], user: [{ key: 'claim', version: 9, data: new Uint8Array(20).fill(1) }], join: false },
  wantMembers: [PEER, 'x'],
  wantUser: ['mgr/' + PEER]
}

/** Decoding must not throw and must give a reason when it refuses. */
const check = <T>(decode: (b: Uint8Array) => { ok: true, value: T } | { ok: false, reason: string }, input: Uint8Array, where: string): boolean =>
  decodesWithoutThrowing(decode, input, where, SEED)

describe('digest push-pull codec (sync 3.0.0)', () => {
  it('round-trips a digest (join flag too) and a reply; the sizes are the encoded lengths', () => {
    for (const d of [digest, { ...digest, members: [], user: [], join: true }]) {
      const bytes = encodeDigest(d)
      assert.equal(bytes.byteLength, digestSize(d))
      const back = decodeDigest(bytes)
      assert.ok(back.ok, back.ok ? '' : back.reason)
      assert.deepEqual(back.value, d)
    }
    for (const r of [reply, { state: { ...reply.state, members: [], user: [] }, wantMembers: [], wantUser: [] }]) {
      const bytes = encodeDigestReply(r)
      assert.equal(bytes.byteLength, digestReplySize(r))
      const back = decodeDigestReply(bytes)
      assert.ok(back.ok, back.ok ? '' : back.reason)
      assert.deepEqual(back.value, r)
    }
  })

  it('is compact: a digest entry is the id plus 6 bytes, against a full entry carrying the record', () => {
    const one = digestSize({ ...digest, members: [digest.members[0]!], user: [] }) - digestSize({ ...digest, members: [], user: [] })
    assert.equal(one, PEER.length + 6)
    const full = encodeSyncState({ from: PEER, members: [{ info, status: 'alive', incarnation: 7 }], user: [], join: false }).byteLength -
      encodeSyncState({ from: PEER, members: [], user: [], join: false }).byteLength
    assert.ok(full > 5 * one, `a full entry ${full} bytes, a digest entry ${one}`)
  })

  it('refuses every truncation, trailing bytes, other versions, unknown statuses and flags, and lying counts', () => {
    const d = encodeDigest(digest)
    const r = encodeDigestReply(reply)
    for (let n = 0; n < d.byteLength; n++) assert.equal(check(decodeDigest, d.subarray(0, n), `digest cut at ${n}`), false, `digest cut at ${n}`)
    for (let n = 0; n < r.byteLength; n++) assert.equal(check(decodeDigestReply, r.subarray(0, n), `reply cut at ${n}`), false, `reply cut at ${n}`)
    assert.equal(decodeDigest(Uint8Array.from([...d, 0])).ok, false, 'trailing')
    assert.equal(decodeDigestReply(Uint8Array.from([...r, 0])).ok, false, 'trailing after the state')
    assert.equal(decodeDigest(Uint8Array.from([2, ...d.subarray(1)])).ok, false, 'version')
    assert.equal(decodeDigestReply(Uint8Array.from([2, ...r.subarray(1)])).ok, false, 'reply version')
    assert.equal(decodeDigest(Uint8Array.from([1, 2, ...d.subarray(2)])).ok, false, 'flags')
    const status = Uint8Array.from(d)
    const statusAt = 2 + 1 + PEER.length + 4 + 1 + PEER.length + 4
    status[statusAt] = 4
    assert.equal(decodeDigest(status).ok, false, 'status 4')
    const lying = encodeDigest({ ...digest, members: [], user: [] })
    lying.set([0x00, 0x01, 0x00, 0x00], 3 + PEER.length)
    assert.match((decodeDigest(lying) as { reason: string }).reason, /member count/)
    const wants = encodeDigestReply({ ...reply, wantMembers: [], wantUser: [] })
    wants.set([0x7f, 0xff, 0xff, 0xff], 1)
    assert.match((decodeDigestReply(wants) as { reason: string }).reason, /wanted member count/)
  })

  it('refuses frames above their caps before decoding', () => {
    assert.match((decodeDigest(new Uint8Array(MAX_DIGEST_BYTES + 1)) as { reason: string }).reason, /exceeds/)
    assert.match((decodeDigestReply(new Uint8Array(MAX_DIGEST_REPLY_BYTES + 1)) as { reason: string }).reason, /exceeds/)
    const d = encodeDigest(digest)
    assert.equal(decodeDigest(d, d.byteLength - 1).ok, false, 'a smaller configured cap')
  })

  it(`survives random and mutated input without throwing (seed ${SEED}; replay with FUZZ_SEED)`, () => {
    const rng = new Prng(SEED)
    const valid = [encodeDigest(digest), encodeDigestReply(reply)]
    let refused = 0
    const cases = 3000
    for (let i = 0; i < cases; i++) {
      let input: Uint8Array
      if (i % 3 === 0) input = randomBytes(rng, 400)
      else {
        input = Uint8Array.from(rng.pick(valid))
        const flips = 1 + rng.int(4)
        for (let f = 0; f < flips; f++) input[rng.int(input.length)] = rng.int(256)
        if (rng.chance(0.3)) input = input.subarray(0, rng.int(input.length))
      }
      const a = check(decodeDigest, input, `digest case ${i}`)
      const b = check(decodeDigestReply, input, `reply case ${i}`)
      if (!a && !b) refused++
    }
    assert.ok(refused > cases / 2, `refused only ${refused} of ${cases}`)
  })
})
