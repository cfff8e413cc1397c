// The readable log line: time, level, node, component and message in their places, other
// fields as key=value (errors by their message), and anything that is not a pino object
// passed through, made safe for a terminal.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { formatLogLine } from '../../../protocol/log-lines.js'

describe('formatLogLine', () => {
  it('puts time, level, node, component and message first, then the other fields', () => {
    const line = JSON.stringify({ level: 30, time: Date.UTC(2026, 11, 6, 13, 10, 1, 123), pid: 42, hostname: 'h', node: 'node-1', component: 'membership', peer: '12D3KooWA', count: 3, msg: 'member joined' })
    assert.equal(formatLogLine(line), '2026-12-06T13:10:01.123Z INFO  node-1 membership: member joined peer=12D3KooWA count=3')
  })

  it('shows the agent\'s own node (pino\'s first `node` key) and an event\'s other node as a field', () => {
    // What pino writes for logger({ base: { node: 'a' } }).info({ node: 'b' }, 'member joined').
    const line = '{"level":30,"time":0,"node":"a","component":"membership","node":"b","msg":"member joined"}'
    assert.equal(formatLogLine(line), '1970-01-01T00:00:00.000Z INFO  a membership: member joined node=b')
    assert.match(formatLogLine('{"level":30,"time":0,"msg":"x \\"node\\":\\"z\\"","node":"a"}'), / INFO  a x /, 'a "node" inside a string is not a key')
  })

  it('names every pino level and quotes values with spaces; an error shows its type, message and code', () => {
    const base = { time: 0, node: 'n' }
    assert.match(formatLogLine(JSON.stringify({ ...base, level: 50, msg: 'x' })), / ERROR n x$/)
    assert.match(formatLogLine(JSON.stringify({ ...base, level: 60, msg: 'x' })), / FATAL n x$/)
    assert.match(formatLogLine(JSON.stringify({ ...base, level: 20, msg: 'x' })), / DEBUG n x$/)
    assert.match(formatLogLine(JSON.stringify({ ...base, level: 40, msg: 'x', reason: 'no answer in time' })), / WARN  n x reason="no answer in time"$/)
    const err = { type: 'Error', message: 'connect refused', code: 'ECONNREFUSED', stack: 'Error: connect refused\n    at x' }
    assert.match(formatLogLine(JSON.stringify({ ...base, level: 50, msg: 'dial failed', err })), /dial failed err="Error: connect refused \(ECONNREFUSED\)"$/)
  })

  it('cuts long field values and keeps the line one line without control characters', () => {
    const out = formatLogLine(JSON.stringify({ level: 30, time: 0, node: 'n', msg: 'a\nb\u001b[31m', blob: 'y'.repeat(1000) }))
    assert.ok(!/[\n\u001b]/.test(out), out)
    assert.ok(out.length < 300, `length ${out.length}`)
    assert.match(out, /blob=y+…$/)
  })

  it('passes through a line that is not a pino object, made safe; never throws', () => {
    assert.equal(formatLogLine('plain text\n'), 'plain text')
    assert.equal(formatLogLine('[1,2]'), '[1,2]')
    assert.equal(formatLogLine('\u001b[2J'), '?[2J')
    for (const junk of ['', '{', 'null', '{"time":"soon","level":"info"}', '{"time":1e300,"level":99}']) assert.equal(typeof formatLogLine(junk), 'string')
  })
})
