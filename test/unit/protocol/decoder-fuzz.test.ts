import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Prng, deeplyNested, fuzzSeed, mutate, randomBytes, randomJson } from '../../harness/fuzz.js'
import { MAX_FACTS_BYTES, MAX_RECORD_BYTES, decodeFacts, decodeRecordPayload } from '../../../protocol/membership-wire.js'
import { MAX_CLAIM_BYTES, MAX_FORWARD_FRAME_BYTES, decodeClaim, decodeForwardRequest } from '../../../protocol/manager-wire.js'
import {
  MAX_ANNOUNCEMENT_BYTES, REPLICATION_FRAME_MAX_BYTES, checkBatch, decodeReplicaAnnouncement, decodeReplicationReply,
  decodeReplicationRequest
} from '../../../protocol/replication-wire.js'
import { MAX_JSON_DEPTH, exceedsJsonDepth } from '../../../protocol/json-limits.js'
import { MAX_DIAGNOSTICS_REPLY_BYTES, MAX_DIAGNOSTICS_REQUEST_BYTES, decodeDiagnosticsReply, decodeDiagnosticsRequest } from '../../../protocol/diagnostics.js'

const SEED = fuzzSeed(20261202)
const CASES_PER_DECODER = 1500
const PEER = '12D3KooWAbcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTU'
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))

const facts = {
  hostname: 'n1', addresses: ['10.0.0.1'], os: { platform: 'linux', release: '6.1', distro: 'debian' }, kernel: '6.1', arch: 'x64',
  cpus: 2, memoryBytes: 1e9, disks: [{ mount: '/', sizeBytes: 1e10, freeBytes: 1e9 }], agentVersion: '0.1.0',
  sshHostKeys: [{ type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIGq' }], boot: { id: 'b', agentStartedAt: '2026-01-01T00:00:00Z' }
}
const record = { v: 2, n: 'n1', i: 3, s: 'alive', a: ['/ip4/10.0.0.1/tcp/7946'], l: { zone: 'a' }, e: true, av: '0.1.0', b: ['b', '2026-01-01T00:00:00Z'], f: 'AAAAAAAAAAAAAAAAAAAAAA' }

type Result = { ok: true, value: unknown } | { ok: false, reason: string }
interface Decoder { name: string, decode: (b: Uint8Array) => Result, valid: Array<Record<string, unknown>>, max: number }

const decoders: Decoder[] = [
  { name: 'decodeRecordPayload', decode: b => decodeRecordPayload(Buffer.from(b).toString('utf8'), PEER), max: MAX_RECORD_BYTES, valid: [record] },
  { name: 'decodeFacts', decode: decodeFacts, max: MAX_FACTS_BYTES, valid: [facts] },
  { name: 'decodeClaim', decode: decodeClaim, max: MAX_CLAIM_BYTES, valid: [{ t: 'claim', epoch: 3, peerId: PEER, name: 'n1', since: '2026-01-01T00:00:00Z' }] },
  { name: 'decodeForwardRequest', decode: decodeForwardRequest, max: MAX_FORWARD_FRAME_BYTES, valid: [{ key: 'GET /v1/nodes/:name', params: { name: 'n1' }, query: {}, body: null }, { key: 'POST /v1/commission', params: {}, query: {}, body: { nodes: ['n1'], roles: ['worker'] } }] },
  {
    name: 'decodeReplicationRequest',
    decode: decodeReplicationRequest,
    max: REPLICATION_FRAME_MAX_BYTES,
    valid: [
      { t: 'batch', epoch: 2, batch: { revision: 5, ops: [{ type: 'put', key: 'c!vars', value: '{}' }, { type: 'del', key: 'c!x' }] } },
      { t: 'chunk', epoch: 2, id: 'x1', seq: 0, revision: 5, entries: [{ key: 'm!revision', value: 5 }], done: true },
      { t: 'delta', epoch: 2, batches: [{ revision: 5, ops: [] }, { revision: 6, ops: [{ type: 'del', key: 'e!1' }] }] },
      { t: 'pull', epoch: 2 },
      { t: 'pull', epoch: 2, after: 'j!x', base: { epoch: 1, peerId: PEER, revision: 4 } }
    ]
  },
  {
    name: 'decodeReplicationReply',
    decode: decodeReplicationReply,
    max: REPLICATION_FRAME_MAX_BYTES,
    valid: [{ t: 'ack', revision: 4 }, { t: 'gap', revision: 1 }, { t: 'refused', reason: 'no' }, { t: 'export', syncedEpoch: 1, revision: 3, entries: [], next: null }, { t: 'export', syncedEpoch: 1, revision: 3, entries: [{ key: 'c!a', value: 1 }], next: 'c!a' }, { t: 'received', id: 'x1', seq: 3 }]
  },
  { name: 'decodeDiagnosticsRequest', decode: decodeDiagnosticsRequest, max: MAX_DIAGNOSTICS_REQUEST_BYTES, valid: [{ want: 'diagnostics' }, { want: 'logs', after: 3, lines: 100 }] },
  {
    name: 'decodeDiagnosticsReply',
    decode: decodeDiagnosticsReply,
    max: MAX_DIAGNOSTICS_REPLY_BYTES,
    valid: [
      { ok: false, reason: 'not a member' },
      { ok: true, logs: { node: 'n1', peerId: PEER, lines: [{ seq: 1, line: '{"msg":"x"}' }], oldest: 1, newest: 1 } },
      { ok: true, diagnostics: { node: 'n1', peerId: PEER, version: '0.1.0', config: { dataDir: '/d' }, members: { total: 0, byStatus: {}, list: [], truncated: 0 }, logs: { node: 'n1', peerId: PEER, lines: [], oldest: 0, newest: 0 } } }
    ]
  },
  { name: 'decodeReplicaAnnouncement', decode: decodeReplicaAnnouncement, max: MAX_ANNOUNCEMENT_BYTES, valid: [{ t: 'replica', peerId: PEER, revision: 9 }] },
  { name: 'checkBatch', decode: b => { try { return checkBatch(JSON.parse(Buffer.from(b).toString('utf8'))) } catch { return { ok: false, reason: 'not JSON (harness)' } } }, max: Infinity, valid: [{ revision: 1, ops: [] }] }
]

/** Run one input through a decoder and check the contract: no throw, a reason, a re-encodable value. */
function check (d: Decoder, input: Uint8Array, where: string): Result {
  let result: Result
  try {
    result = d.decode(input)
  } catch (err) {
    assert.fail(`${d.name} threw on ${where} (seed ${SEED}): ${(err as Error).message}`)
  }
  assert.equal(typeof result.ok, 'boolean', `${d.name}: no ok flag on ${where} (seed ${SEED})`)
  if (!result.ok) {
    assert.ok(typeof result.reason === 'string' && result.reason.length > 0, `${d.name}: no reason on ${where} (seed ${SEED})`)
  } else {
    // Whatever a decoder lets through must survive being re-encoded, cloned and logged.
    assert.doesNotThrow(() => JSON.stringify(result.value), `${d.name}: accepted a value that cannot be re-encoded on ${where} (seed ${SEED})`)
    assert.doesNotThrow(() => structuredClone(result.value))
    assert.equal(exceedsJsonDepth(result.value), false, `${d.name}: accepted a value deeper than ${MAX_JSON_DEPTH} on ${where} (seed ${SEED})`)
  }
  return result
}

/**
 * Copies of `v` with one hole each: every value replaced by the hole, and every object given an
 * extra field holding it (a decoder that passes unknown fields through must still bound them).
 */
function holes (v: unknown): unknown[] {
  const HOLE = '\u0000HOLE'
  if (typeof v !== 'object' || v === null) return []
  const out: unknown[] = []
  if (!Array.isArray(v)) out.push({ ...v, extra: HOLE })
  for (const [k, child] of Object.entries(v)) {
    const put = (x: unknown): unknown => Array.isArray(v) ? v.map((c, i) => String(i) === k ? x : c) : { ...v, [k]: x }
    out.push(put(HOLE))
    for (const h of holes(child)) out.push(put(h))
  }
  return out
}

describe(`wire decoders under hostile input (seed ${SEED}; replay with FUZZ_SEED)`, () => {
  for (const d of decoders) {
    it(`${d.name} accepts its valid messages and refuses ${CASES_PER_DECODER} random, mutated and nested inputs without throwing`, () => {
      for (const v of d.valid) assert.equal(check(d, enc(v), 'a valid message').ok, true, `${d.name} refused a valid message`)
      const r = new Prng(SEED ^ d.name.length * 7919)
      let refused = 0
      for (let i = 0; i < CASES_PER_DECODER; i++) {
        const where = `case ${i}`
        const kind = i % 5
        const input = kind === 0
          ? randomBytes(r)
          : kind === 1
            ? enc(randomJson(r, 5))
            : kind === 2
              ? enc({ ...r.pick(d.valid), ...{ [r.pick(Object.keys(r.pick(d.valid)))]: randomJson(r, 3) } })
              : mutate(r, r.pick(d.valid))
        if (!check(d, input, where).ok) refused++
      }
      // Random input must be mostly refused, or the generator is not reaching the checks.
      assert.ok(refused > CASES_PER_DECODER / 2, `${d.name} refused only ${refused} of ${CASES_PER_DECODER}`)
    })

    it(`${d.name} refuses nesting deeper than ${MAX_JSON_DEPTH} and any depth up to 100000 without throwing`, () => {
      for (const depth of [MAX_JSON_DEPTH + 1, 1000, 100_000]) {
        for (const kind of ['array', 'object'] as const) {
          const nested = deeplyNested(depth, kind)
          check(d, new TextEncoder().encode(nested), `bare nesting ${depth}`)
          for (const valid of d.valid) {
            for (const probe of holes(valid)) {
              const text = JSON.stringify(probe).replace('"\\u0000HOLE"', nested)
              const input = new TextEncoder().encode(text)
              if (input.byteLength > d.max) continue
              const res = check(d, input, `nesting ${depth} in ${text.slice(0, 60)}`)
              // a field the decoder ignores may be dropped; any it keeps must not be this deep
              if (res.ok) assert.equal(exceedsJsonDepth(res.value), false)
            }
          }
        }
      }
    })

    if (Number.isFinite(d.max) && d.max <= 16 * 1024 * 1024) {
      it(`${d.name} refuses a message one byte over ${d.max} bytes with a reason`, () => {
        const valid = JSON.stringify(d.valid[0])
        const padded = valid.slice(0, -1) + `,"pad":"${'x'.repeat(d.max - valid.length - 8)}"}`
        const input = new TextEncoder().encode(padded)
        assert.equal(input.byteLength, d.max + 1)
        const res = check(d, input, 'oversized')
        assert.equal(res.ok, false)
      })
    }
  }

  it('exceedsJsonDepth counts levels exactly', () => {
    assert.equal(exceedsJsonDepth(JSON.parse(deeplyNested(MAX_JSON_DEPTH))), false)
    assert.equal(exceedsJsonDepth(JSON.parse(deeplyNested(MAX_JSON_DEPTH + 1))), true)
    assert.equal(exceedsJsonDepth(JSON.parse(deeplyNested(MAX_JSON_DEPTH, 'object'))), false)
    assert.equal(exceedsJsonDepth(JSON.parse(deeplyNested(MAX_JSON_DEPTH + 1, 'object'))), true)
    assert.equal(exceedsJsonDepth('x'), false)
  })
})
