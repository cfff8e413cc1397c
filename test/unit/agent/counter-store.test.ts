import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { counterStore } from '../../../agent/counter-store.js'

describe('counter store', () => {
  it('concurrent saves all succeed and the file ends at the highest value, never going back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'counter-'))
    try {
      const c = counterStore(dir, 'incarnation')
      assert.equal(await c.load(), 0)
      // Out of order and concurrent, as refutations of several claims at once save them.
      await Promise.all([5, 3, 9, 7, 9, 1, 8].map(async n => { await c.save(n) }))
      assert.equal(await c.load(), 9)
      await c.save(4)
      assert.equal(await c.load(), 9, 'a lower value does not replace a higher one')
      await c.save(10)
      assert.equal(await counterStore(dir, 'incarnation').load(), 10)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
