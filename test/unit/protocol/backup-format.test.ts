// The backup file format: what the encoder writes decodes to the same header and entries, and
// every way a file can be wrong (foreign, another version, truncated anywhere, a flipped byte,
// a wrong count, bad lines behind a valid checksum) is refused with its kind, never a throw.

import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { BACKUP_FORMAT, BACKUP_VERSION, BackupEncoder, decodeBackup, decodeStreamItem, encodeBackup, type BackupEntry } from '../../../protocol/backup-format.js'

const HEADER = { revision: 7, createdAt: '2026-12-06T10:00:00.000Z', source: { peerId: '12D3KooWExample', epoch: 3 } }
const ENTRIES: BackupEntry[] = [
  { key: 'c!vars', value: { ntp: '10.0.0.9', note: 'ünïcode ✓' } },
  { key: 'e!000000000000001', value: { gseq: 1, node: 'n1', to: 'discovered' } },
  { key: 'm!format', value: 1 },
  { key: 'm!revision', value: 7 },
  { key: 'n!n1', value: { record: { name: 'n1' }, lastSeq: 1 } }
]

/** Rebuild a file from lines, with a trailer whose checksum matches (a file that passes the checksum). */
function sealed (lines: string[], entries = lines.length - 1): string {
  const body = lines.map(l => l + '\n').join('')
  return body + JSON.stringify({ end: true, entries, sha256: createHash('sha256').update(body).digest('hex') }) + '\n'
}

function refused (data: string | Buffer): { kind: string, reason: string } {
  const d = decodeBackup(data)
  assert.equal(d.ok, false, 'expected a refusal')
  return d.ok ? { kind: '', reason: '' } : { kind: d.kind, reason: d.reason }
}

describe('backup file format', () => {
  it('round trip: header, entries (order, unicode, nested values) and a checksum that covers them', () => {
    const text = encodeBackup(HEADER, ENTRIES)
    const d = decodeBackup(text)
    assert.ok(d.ok, JSON.stringify(d))
    assert.deepEqual(d.header, { format: BACKUP_FORMAT, version: BACKUP_VERSION, ...HEADER })
    assert.deepEqual(d.entries, ENTRIES)
    const lines = text.split('\n')
    assert.equal(lines.length, ENTRIES.length + 3, 'header, one line per entry, trailer, final newline')
    assert.deepEqual(JSON.parse(lines.at(-2) ?? ''), { end: true, entries: ENTRIES.length, sha256: d.sha256 })
    // Buffer and string input agree; an empty store round-trips too.
    assert.deepEqual(decodeBackup(Buffer.from(text)), d)
    const empty = decodeBackup(encodeBackup(HEADER, []))
    assert.ok(empty.ok && empty.entries.length === 0)
  })

  it('the encoder refuses entries out of order and lines in the wrong place', () => {
    const enc = new BackupEncoder()
    assert.throws(() => enc.entry({ key: 'a', value: 1 }), /outside the body/)
    enc.header(HEADER)
    enc.entry({ key: 'b', value: 1 })
    assert.throws(() => enc.entry({ key: 'a', value: 1 }), /out of order/)
    assert.throws(() => enc.entry({ key: 'b', value: 1 }), /out of order/)
    enc.trailer()
    assert.throws(() => enc.trailer(), /twice/)
  })

  it('foreign: not JSON, another format, another version', () => {
    assert.equal(refused('PK\u0003\u0004 a zip file\n').kind, 'foreign')
    assert.equal(refused('{"format":"consul-snapshot","version":1}\n').kind, 'foreign')
    const v2 = encodeBackup(HEADER, ENTRIES).replace(`"version":${BACKUP_VERSION}`, '"version":2')
    const r = refused(v2)
    assert.equal(r.kind, 'foreign')
    assert.match(r.reason, /version 2 is not supported/)
  })

  it('truncated at every byte: each prefix is refused as damaged, none throws or passes', () => {
    const text = Buffer.from(encodeBackup(HEADER, ENTRIES))
    const headerEnd = text.indexOf(0x0a)
    for (let n = 0; n < text.length; n++) {
      const d = decodeBackup(text.subarray(0, n))
      assert.equal(d.ok, false, `prefix of ${n} bytes passed`)
      // A prefix that cuts the header itself may not even look like ours: foreign or damaged.
      if (!d.ok && n > headerEnd) assert.equal(d.kind, 'damaged', `prefix of ${n} bytes: ${d.reason}`)
    }
    assert.match(refused(text.subarray(0, text.lastIndexOf(0x0a, text.length - 2) + 1)).reason, /truncated/)
  })

  it('damaged: any changed byte in the header or an entry fails the checksum', () => {
    const text = Buffer.from(encodeBackup(HEADER, ENTRIES))
    const trailerStart = text.lastIndexOf(0x0a, text.length - 2) + 1
    for (const at of [text.indexOf('2026') + 3, text.indexOf('ntp') + 1, text.indexOf('"n1"') + 1, trailerStart - 3]) {
      const copy = Buffer.from(text)
      copy[at] = copy[at] === 0x41 ? 0x42 : 0x41
      const r = refused(copy)
      assert.equal(r.kind, 'damaged')
    }
    const copy = Buffer.from(text)
    copy[text.indexOf('ntp')] = 0x4e // 'n' -> 'N': still JSON, only the checksum notices
    assert.match(refused(copy).reason, /checksum mismatch/)
  })

  it('damaged behind a valid checksum: wrong count, a line that is not an entry, entries out of order, a bad end line', () => {
    const header = JSON.stringify({ format: BACKUP_FORMAT, version: BACKUP_VERSION, ...HEADER })
    const lines = [header, ...ENTRIES.map(e => JSON.stringify(e))]
    assert.ok(decodeBackup(sealed(lines)).ok, 'the helper builds a valid file')
    assert.match(refused(sealed(lines, ENTRIES.length + 1)).reason, /counts 6 entries, the file holds 5/)
    assert.match(refused(sealed([header, 'not json'], 1)).reason, /entry 1 is not/)
    assert.match(refused(sealed([header, '{"key":"a"}'], 1)).reason, /entry 1 is not/)
    assert.match(refused(sealed([header, '{"key":"b","value":1}', '{"key":"a","value":1}'])).reason, /out of order/)
    assert.match(refused(sealed([header, '{"key":"a","value":1}', '{"key":"a","value":2}'])).reason, /out of order/)
    assert.match(refused(`${header}\n{"end":true,"entries":0,"sha256":"xyz"}\n`).reason, /valid entry count or sha256/)
    assert.match(refused(`${JSON.stringify({ format: BACKUP_FORMAT, version: BACKUP_VERSION, revision: -1 })}\n`).reason, /header lacks/)
    assert.equal(refused('').kind, 'damaged')
  })

  it('stream items: start, entries and end decode; anything else is a reason, not a throw', () => {
    assert.deepEqual(decodeStreamItem({ backup: 'start', ...HEADER }), { ok: true, item: { backup: 'start', ...HEADER } })
    assert.deepEqual(decodeStreamItem({ backup: 'entries', entries: ENTRIES }), { ok: true, item: { backup: 'entries', entries: ENTRIES } })
    assert.deepEqual(decodeStreamItem({ backup: 'end', entries: 5 }), { ok: true, item: { backup: 'end', entries: 5 } })
    for (const bad of [null, 3, 'x', [], {}, { backup: 'start' }, { backup: 'end', entries: -1 }, { backup: 'entries', entries: [{ key: 1, value: 1 }] }, { backup: 'entries', entries: [null] }]) {
      assert.equal(decodeStreamItem(bad).ok, false, JSON.stringify(bad))
    }
  })
})
