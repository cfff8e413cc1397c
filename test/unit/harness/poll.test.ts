import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor, WaitForTimeoutError } from '../../harness/poll.js'

describe('waitFor', () => {
  it('resolves with the first ready value', async () => {
    let n = 0
    assert.equal(await waitFor(() => ++n >= 3 ? n : undefined, { timeoutMs: 1000, intervalMs: 1 }), 3)
  })

  it('builds a message given as a function at the deadline, so it shows the state then', async () => {
    // What a test shows of a process (its output) grows while the wait runs.
    let output = ''
    const err = await waitFor(() => { output += 'x'; return undefined }, {
      timeoutMs: 30, intervalMs: 1, message: () => `output so far: ${output.length} bytes`
    }).catch((e: unknown) => e)
    assert.ok(err instanceof WaitForTimeoutError)
    assert.ok(output.length > 1)
    assert.match(err.message, new RegExp(`output so far: ${output.length} bytes`))
  })
})
