import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LeaseFileWriter, readLeaseFile, writeLeaseFile } from '../../../../agent/fencing/lease-file.js'

const lease = { epoch: 4, holder: '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', leaseId: 'c'.repeat(32), grantedAt: 1000, expiresAt: 16000 }

describe('lease file', () => {
  let dir: string
  let path: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'lease-')); path = join(dir, 'lease.json') })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('a missing file is no lease', async () => {
    assert.deepEqual(await readLeaseFile(path), { ok: true, lease: null })
  })

  it('writes mode 0600 atomically (no temporary file left) and reads back what it wrote', async () => {
    await writeLeaseFile(path, lease)
    assert.deepEqual(await readLeaseFile(path), { ok: true, lease })
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    await writeLeaseFile(path, null)
    assert.deepEqual(await readLeaseFile(path), { ok: true, lease: null })
    assert.deepEqual(await readdir(dir), ['lease.json'])
  })

  it('a damaged, foreign or oversized file is reported as unusable (the keeper then assumes a lease may be held)', async () => {
    for (const content of ['{"version":1,"lease":', '{"version":2,"lease":null}', JSON.stringify({ version: 1, lease: { ...lease, leaseId: 'x' } }), ' '.repeat(5000)]) {
      await writeFile(path, content)
      const r = await readLeaseFile(path)
      assert.equal(r.ok, false, content.slice(0, 40))
    }
  })

  it('the writer never overlaps writes, keeps only the latest content and resolves every caller', async () => {
    const w = new LeaseFileWriter(path)
    const writes = [w.write(lease, true), w.write({ ...lease, expiresAt: 17000 }, false), w.write({ ...lease, expiresAt: 18000 }, false), w.write(null, false), w.write({ ...lease, expiresAt: 19000 }, false)]
    await Promise.all(writes)
    await w.idle()
    assert.deepEqual(await readLeaseFile(path), { ok: true, lease: { ...lease, expiresAt: 19000 } })
    assert.deepEqual(await readdir(dir), ['lease.json'])
  })
})
