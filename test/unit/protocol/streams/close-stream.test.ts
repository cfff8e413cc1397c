import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { streamPair } from '@libp2p/utils'
import { closeStream } from '../../../../protocol/streams/close-stream.js'

/** A deadline whose timer keeps the test's event loop alive (AbortSignal.timeout's does not). */
function deadline (ms: number): AbortSignal {
  const c = new AbortController()
  setTimeout(() => { c.abort(new Error('deadline')) }, ms)
  return c.signal
}

describe('closeStream', () => {
  it('closes gracefully once the remote closes its side too', async () => {
    const [a, b] = await streamPair()
    const closing = closeStream(a, deadline(2000))
    await b.close()
    await closing
    assert.equal(a.status, 'closed')
  })

  it('aborts a stream whose remote never closes, at the deadline', async () => {
    const [a] = await streamPair()
    const started = Date.now()
    await closeStream(a, deadline(200))
    assert.equal(a.status, 'aborted')
    assert.ok(Date.now() - started >= 150, 'it waited for the remote first')
  })
})
