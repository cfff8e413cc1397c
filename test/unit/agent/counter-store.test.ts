import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { COUNTER_MAX, counterStore } from '../../../agent/counter-store.js'

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

  it('values up to 2^32 - 1 survive a restart intact; anything else in the file is refused and reported, never used', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'counter-'))
    try {
      const c = counterStore(dir, 'epoch')
      await c.save(COUNTER_MAX)
      assert.equal(await counterStore(dir, 'epoch').load(), 2 ** 32 - 1)
      await assert.rejects(c.save(2 ** 32), RangeError)
      await assert.rejects(c.save(2 ** 53 - 1), RangeError)
      for (const bad of ['9007199254740991', '4294967296', '12abc', '1e9', '-1', '0x10', ' ', '3.5', '99999999999999999999']) {
        await writeFile(join(dir, 'epoch'), bad)
        const reasons: string[] = []
        assert.equal(await counterStore(dir, 'epoch', { onInvalid: r => { reasons.push(r) } }).load(), 0, bad)
        assert.equal(reasons.length, 1, bad)
        assert.match(reasons[0] ?? '', /not an integer in \[0, 4294967295\]/)
      }
      await writeFile(join(dir, 'epoch'), '41\n')
      assert.equal(await counterStore(dir, 'epoch').load(), 41, 'a trailing newline is fine')
      assert.equal(await counterStore(dir, 'missing', { onInvalid: () => { assert.fail('a missing file is not invalid') } }).load(), 0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
