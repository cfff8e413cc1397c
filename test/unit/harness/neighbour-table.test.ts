import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureNeighbourRoom, neighbourLimitsFor } from '../../harness/neighbour-table.js'

/** A stand-in for /proc/sys/net/ipv4/neigh/default holding the two limits. */
async function limitsDir (gcThresh2: string, gcThresh3: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'neigh-'))
  await writeFile(join(dir, 'gc_thresh2'), gcThresh2)
  await writeFile(join(dir, 'gc_thresh3'), gcThresh3)
  return dir
}

const read = async (dir: string, name: string): Promise<string> => (await readFile(join(dir, name), 'utf8')).trim()

describe('neighbour-table limits for test hosts', () => {
  it('needs (n + 1)² entries, doubled, and a hard limit twice the soft one', () => {
    assert.deepEqual(neighbourLimitsFor(64), { gcThresh2: 8450, gcThresh3: 16900 })
    assert.deepEqual(neighbourLimitsFor(0), { gcThresh2: 2, gcThresh3: 4 })
    assert.throws(() => neighbourLimitsFor(-1), RangeError)
    assert.throws(() => neighbourLimitsFor(1.5), RangeError)
  })

  it('raises the kernel defaults (512 / 1024) for 64 hosts', async () => {
    const dir = await limitsDir('512\n', '1024\n')
    try {
      const room = await ensureNeighbourRoom(64, dir)
      assert.deepEqual(room, {
        ok: true,
        raised: [{ name: 'gc_thresh3', before: 1024, after: 16900 }, { name: 'gc_thresh2', before: 512, after: 8450 }]
      })
      assert.equal(await read(dir, 'gc_thresh2'), '8450')
      assert.equal(await read(dir, 'gc_thresh3'), '16900')
    } finally { await rm(dir, { recursive: true }) }
  })

  it('never lowers a limit that is already higher, and raises only the one that is not', async () => {
    const dir = await limitsDir('100000\n', '4096\n')
    try {
      const room = await ensureNeighbourRoom(64, dir)
      assert.deepEqual(room, { ok: true, raised: [{ name: 'gc_thresh3', before: 4096, after: 16900 }] })
      assert.equal(await read(dir, 'gc_thresh2'), '100000')
    } finally { await rm(dir, { recursive: true }) }
  })

  it('leaves the defaults alone for a few hosts', async () => {
    const dir = await limitsDir('512\n', '1024\n')
    try {
      assert.deepEqual(await ensureNeighbourRoom(3, dir), { ok: true, raised: [] })
      assert.equal(await read(dir, 'gc_thresh3'), '1024')
    } finally { await rm(dir, { recursive: true }) }
  })

  it('reports, without throwing, a limit it cannot read or write', async () => {
    const garbled = await limitsDir('512\n', 'lots\n')
    const readOnly = await limitsDir('512\n', '1024\n')
    try {
      const bad = await ensureNeighbourRoom(64, garbled)
      assert.equal(bad.ok, false)
      assert.match(bad.ok ? '' : bad.error, /gc_thresh3 reads 'lots'/)
      assert.equal(await read(garbled, 'gc_thresh2'), '512', 'nothing half-written')
      const missing = await ensureNeighbourRoom(64, join(readOnly, 'nope'))
      assert.equal(missing.ok, false)
      assert.match(missing.ok ? '' : missing.error, /for 64 hosts/)
      if (process.getuid?.() !== 0) {
        // root writes through mode bits, so this part speaks only for an unprivileged run.
        await chmod(join(readOnly, 'gc_thresh3'), 0o444)
        const denied = await ensureNeighbourRoom(64, readOnly)
        assert.equal(denied.ok, false)
      }
    } finally {
      await rm(garbled, { recursive: true })
      await rm(readOnly, { recursive: true })
    }
  })
})
