import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { execa } from 'execa'
import { hostKeyProblem, matchesPinned } from '../../../../manager/ssh/host-key.js'
import { quoteArgv } from '../../../../manager/ssh/quote.js'

describe('quoteArgv', () => {
  it('round-trips hostile words through a real /bin/sh unchanged', async () => {
    const argv = ['printf', '%s\\n', "a;b", '$(touch /tmp/clusterd-quote-pwned)', "it's", '`id`', '*', '', ' lead', 'x\ny', '"$HOME"']
    const r = await execa('/bin/sh', ['-c', quoteArgv(argv)], { extendEnv: false, env: { PATH: '/usr/bin:/bin' } })
    assert.deepEqual(r.stdout.split('\n'), argv.slice(2).flatMap(w => w.split('\n')))
  })

  it('refuses NUL and empty argv', () => {
    assert.throws(() => quoteArgv(['a\0b']), /NUL/)
    assert.throws(() => quoteArgv([]), /empty/)
  })
})

describe('pinned host keys', () => {
  const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
  const blob = Buffer.concat([u32(11), Buffer.from('ssh-ed25519'), u32(32), randomBytes(32)])
  const pinned = { type: 'ssh-ed25519', key: blob.toString('base64') }

  it('matches only the exact pinned blob', () => {
    assert.equal(hostKeyProblem(pinned), undefined)
    assert.equal(matchesPinned(blob, [pinned]), true)
    const other = Buffer.from(blob)
    other[other.length - 1] = (other[other.length - 1] ?? 0) ^ 1
    assert.equal(matchesPinned(other, [pinned]), false)
    assert.equal(matchesPinned(blob, []), false)
  })

  it('refuses a key whose blob holds another type', () => {
    assert.match(hostKeyProblem({ type: 'ecdsa-sha2-nistp256', key: pinned.key }) ?? '', /does not hold/)
    assert.match(hostKeyProblem({ type: 'ssh-ed25519', key: 'not base64!' }) ?? '', /base64/)
  })
})
