import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BatchLog } from '../../../../manager/replication/batch-log.js'
import type { ReplicationBatch } from '../../../../protocol/replication-wire.js'

const batch = (revision: number, size = 10): ReplicationBatch => ({ revision, ops: [{ type: 'put', key: `c!k${revision}`, value: 'x'.repeat(size) }] })

describe('BatchLog', () => {
  it('hands out consecutive batches from a revision, about maxBytes of them, at least one', () => {
    const log = new BatchLog({ maxBatches: 100, maxBytes: 1_000_000 })
    for (let r = 1; r <= 10; r++) log.add(batch(r))
    assert.deepEqual(log.since(4, 1_000_000)?.map(b => b.revision), [4, 5, 6, 7, 8, 9, 10])
    assert.deepEqual(log.since(4, 150)?.map(b => b.revision), [4, 5], 'about 150 bytes')
    assert.deepEqual(log.since(4, 1)?.map(b => b.revision), [4], 'at least one')
    assert.deepEqual(log.since(11, 1000), [], 'caught up')
    assert.equal(log.since(12, 1000), null, 'a revision it never saw')
  })

  it('drops the oldest beyond its bounds: a replica further behind gets null (a snapshot)', () => {
    const log = new BatchLog({ maxBatches: 5, maxBytes: 1_000_000 })
    for (let r = 1; r <= 3000; r++) log.add(batch(r))
    assert.equal(log.size, 5)
    assert.equal(log.first, 2996)
    assert.equal(log.since(2995, 1000), null)
    assert.deepEqual(log.since(2996, 1e6)?.map(b => b.revision), [2996, 2997, 2998, 2999, 3000])
    const bytes = new BatchLog({ maxBatches: 1000, maxBytes: 500 })
    for (let r = 1; r <= 50; r++) bytes.add(batch(r, 100))
    assert.ok(bytes.size <= 4 && bytes.size >= 1, `kept ${bytes.size} batches of ~150 bytes under 500`)
  })

  it('a revision that never came through (a merge, not replicated) starts the log over: no delta skips it', () => {
    const log = new BatchLog({ maxBatches: 100, maxBytes: 1_000_000 })
    for (let r = 1; r <= 5; r++) log.add(batch(r))
    log.add(batch(7))
    assert.equal(log.first, 7)
    assert.equal(log.since(5, 1000), null)
    assert.deepEqual(log.since(7, 1000)?.map(b => b.revision), [7])
  })
})
