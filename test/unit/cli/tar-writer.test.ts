// The ustar writer: what it writes is read back by GNU tar (names, long names split into
// prefix + name, modes, contents of every size around the 512-byte block), and paths that
// could escape the extraction directory are refused.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { BLOCK, splitPath, tarDirectory, tarEnd, tarFile, tarHeader } from '../../../cli/tar-writer.js'

const run = promisify(execFile)
const mtime = new Date('2026-12-06T13:00:00Z')

describe('tar writer', () => {
  it('GNU tar lists and extracts what it writes: directories, files of every size around a block, a long path, modes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tar-writer-'))
    try {
      const long = `top/${'d'.repeat(90)}/${'f'.repeat(90)}.json`
      const files = new Map<string, Buffer>([
        ['top/empty', Buffer.alloc(0)],
        ['top/one', Buffer.from('x')],
        ['top/block', Buffer.alloc(BLOCK, 0x61)],
        ['top/block-plus', Buffer.alloc(BLOCK + 1, 0x62)],
        ['top/sub/utf8-ünïcode.txt', Buffer.from('héllo\n')],
        [long, Buffer.from('{"long":true}\n')]
      ])
      const parts = [tarDirectory({ path: 'top', mode: 0o700, mtime }), tarDirectory({ path: 'top/sub', mode: 0o700, mtime }), tarDirectory({ path: `top/${'d'.repeat(90)}`, mode: 0o700, mtime })]
      for (const [path, data] of files) parts.push(tarFile({ path, mode: 0o600, mtime }, data))
      parts.push(tarEnd())
      const archive = join(dir, 'a.tar.gz')
      await writeFile(archive, gzipSync(Buffer.concat(parts)))
      const listing = (await run('tar', ['-tvzf', archive])).stdout
      assert.match(listing, /^drwx------ root\/root +0 2026-12-06 \d\d:00 top\/$/m)
      assert.match(listing, /^-rw------- root\/root +513 .* top\/block-plus$/m)
      const out = join(dir, 'x')
      await run('mkdir', [out])
      await run('tar', ['-xzf', archive, '-C', out])
      for (const [path, data] of files) {
        assert.deepEqual(await readFile(join(out, path)), data, path)
        assert.equal((await stat(join(out, path))).mode & 0o777, 0o600, `${path} mode`)
      }
      assert.equal((await stat(join(out, 'top'))).mode & 0o777, 0o700)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('splits a long path at a slash into prefix and name, and refuses what ustar cannot hold', () => {
    assert.deepEqual(splitPath('a/b'), { prefix: '', name: 'a/b' })
    const p = `${'p'.repeat(120)}/${'n'.repeat(99)}`
    assert.deepEqual(splitPath(p), { prefix: 'p'.repeat(120), name: 'n'.repeat(99) })
    assert.throws(() => splitPath('n'.repeat(101)), /too long/)
    assert.throws(() => splitPath(`${'p'.repeat(156)}/n`), /too long/)
  })

  it('refuses paths that could escape the extraction directory or hide control characters', () => {
    for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a//b', 'a/./b', 'a/', 'a\nb']) {
      assert.throws(() => tarHeader({ path: bad, mode: 0o600, mtime }, 0, '0'), /tar: /, JSON.stringify(bad))
    }
  })

  it('the header checksum is the sum of its bytes with the checksum field as spaces', () => {
    const h = tarHeader({ path: 'x', mode: 0o600, mtime }, 5, '0')
    const stored = parseInt(h.subarray(148, 154).toString(), 8)
    const copy = Buffer.from(h)
    copy.fill(0x20, 148, 156)
    assert.equal(stored, copy.reduce((s, b) => s + b, 0))
    assert.equal(h.subarray(257, 263).toString(), 'ustar\0')
  })
})
