// The ring of recent log lines: every line goes on to the sink, the last N are kept and
// numbered, tail() answers "after" and "at most", and an over-long line is kept shortened
// but still one JSON object.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { LogRing, shortenLine } from '../../../../agent/diagnostics/log-ring.js'
import { MAX_LOG_LINE_CHARS } from '../../../../protocol/diagnostics.js'

describe('LogRing', () => {
  it('passes every line on and keeps the last `capacity`, numbered from 1', () => {
    const seen: string[] = []
    const ring = new LogRing(l => { seen.push(l) }, { capacity: 3 })
    assert.deepEqual(ring.tail(0, 10), [])
    assert.equal(ring.oldest, 0)
    for (let i = 1; i <= 5; i++) ring.write(`{"n":${i}}\n`)
    assert.equal(seen.length, 5, 'the sink got every line')
    assert.equal(seen[0], '{"n":1}\n')
    assert.equal(ring.newest, 5)
    assert.equal(ring.oldest, 3)
    assert.deepEqual(ring.tail(0, 10), [{ seq: 3, line: '{"n":3}' }, { seq: 4, line: '{"n":4}' }, { seq: 5, line: '{"n":5}' }])
    assert.deepEqual(ring.tail(0, 1), [{ seq: 5, line: '{"n":5}' }], 'at most 1: the newest')
    assert.deepEqual(ring.tail(4, 10), [{ seq: 5, line: '{"n":5}' }], 'after 4')
    assert.deepEqual(ring.tail(5, 10), [])
    assert.deepEqual(ring.tail(0, 0), [])
  })

  it('is a pino destination: a logger writes its JSON lines into it', () => {
    const ring = new LogRing(() => {})
    const logger = pino({ base: { node: 'n1' } }, ring)
    logger.info({ peer: 'p' }, 'hello')
    const [only] = ring.tail(0, 10)
    const o = JSON.parse(only?.line ?? '') as Record<string, unknown>
    assert.equal(o.msg, 'hello')
    assert.equal(o.node, 'n1')
  })

  it('keeps an over-long line shortened, as one JSON object with its level, time and node', () => {
    const long = JSON.stringify({ level: 50, time: 1, node: 'n', component: 'c', msg: 'm'.repeat(10_000), extra: 'e'.repeat(10_000) })
    const short = shortenLine(long)
    assert.ok(short.length <= MAX_LOG_LINE_CHARS, `length ${short.length}`)
    const o = JSON.parse(short) as Record<string, unknown>
    assert.equal(o.level, 50)
    assert.equal(o.node, 'n')
    assert.equal(o.truncatedChars, long.length)
    assert.match(String(o.msg), /^m+…$/)
    const notJson = shortenLine('x'.repeat(5000))
    assert.ok(notJson.length <= MAX_LOG_LINE_CHARS)
    assert.doesNotThrow(() => JSON.parse(notJson))
    assert.equal(shortenLine('{"a":1}'), '{"a":1}')
  })
})
