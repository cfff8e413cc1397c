// The diagnostics wire: requests are strictly checked (kind, bounds), replies by the fields a
// reader relies on; oversized frames are refused by their size.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  LOG_RING_LINES, MAX_DIAGNOSTICS_REQUEST_BYTES, decodeDiagnosticsReply, decodeDiagnosticsRequest, encodeDiagnostics
} from '../../../protocol/diagnostics.js'

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const logs = { node: 'n1', peerId: 'p', lines: [{ seq: 4, line: '{"msg":"x"}' }], oldest: 1, newest: 4 }

describe('diagnostics wire', () => {
  it('decodes the two requests and refuses anything else', () => {
    assert.deepEqual(decodeDiagnosticsRequest(encodeDiagnostics({ want: 'diagnostics' })), { ok: true, value: { want: 'diagnostics' } })
    assert.deepEqual(decodeDiagnosticsRequest(encodeDiagnostics({ want: 'logs', after: 7, lines: 10 })), { ok: true, value: { want: 'logs', after: 7, lines: 10 } })
    for (const bad of [{ want: 'secrets' }, { want: 'logs', after: -1, lines: 1 }, { want: 'logs', after: 0, lines: LOG_RING_LINES + 1 }, { want: 'logs', after: 0.5, lines: 1 }, [], null]) {
      const r = decodeDiagnosticsRequest(enc(bad))
      assert.equal(r.ok, false, JSON.stringify(bad))
    }
    assert.match((decodeDiagnosticsRequest(new Uint8Array(MAX_DIAGNOSTICS_REQUEST_BYTES + 1)) as { reason: string }).reason, /exceeds/)
    assert.equal(decodeDiagnosticsRequest(new Uint8Array([0xff, 0xfe])).ok, false)
  })

  it('decodes replies: logs, diagnostics, a refusal; refuses malformed ones', () => {
    assert.deepEqual(decodeDiagnosticsReply(enc({ ok: true, logs })), { ok: true, value: { ok: true, logs } })
    assert.deepEqual(decodeDiagnosticsReply(enc({ ok: false, reason: 'not a member' })), { ok: true, value: { ok: false, reason: 'not a member' } })
    const diagnostics = { node: 'n1', peerId: 'p', version: '0.1.0', config: {}, members: { total: 0, byStatus: {}, list: [], truncated: 0 }, logs }
    assert.equal(decodeDiagnosticsReply(enc({ ok: true, diagnostics })).ok, true)
    assert.equal(decodeDiagnosticsReply(enc({ ok: true, diagnostics: { ...diagnostics, logs: { ...logs, lines: [{ seq: 'x', line: 1 }] } } })).ok, false)
    assert.equal(decodeDiagnosticsReply(enc({ ok: true, logs: { ...logs, lines: [{ seq: 1, line: 'l'.repeat(5000) }] } })).ok, false, 'a line over the cap')
    assert.equal(decodeDiagnosticsReply(enc({ ok: true })).ok, false)
    assert.equal(decodeDiagnosticsReply(enc({ ok: 'yes' })).ok, false)
  })
})
