// The benchmarks' argument handling (bench/bench-args.ts): --help and bad flags are answered by
// a real benchmark entry point run as a child process (exit code, stdout/stderr), not a stack trace.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { benchUsage } from '../../../bench/bench-args.js'

const SCRAPE = fileURLToPath(new URL('../../../bench/metrics/scrape.js', import.meta.url))
const run = (...args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [SCRAPE, ...args], { encoding: 'utf8', timeout: 30_000 })

describe('bench arguments', () => {
  it('lists each flag with its default', () => {
    const text = benchUsage({ nodes: { type: 'string', default: '1000' }, json: { type: 'boolean' } })
    assert.match(text, /^usage: /)
    assert.match(text, /--nodes VALUE \(default 1000\)/)
    assert.match(text, /--json$/m)
  })

  it('--help prints the usage and exits 0; an unknown flag or a bad value is one line and exit 2', () => {
    const help = run('--help')
    assert.equal(help.status, 0)
    assert.match(String(help.stdout), /--samples VALUE \(default 200\)/)
    const bad = run('--bogus')
    assert.equal(bad.status, 2)
    assert.match(String(bad.stderr), /Unknown option '--bogus'/)
    assert.doesNotMatch(String(bad.stderr), /\n\s+at /, 'no stack trace')
    const value = run('--nodes', 'zero')
    assert.equal(value.status, 2)
    assert.match(String(value.stderr), /--nodes and --samples take positive integers/)
    assert.doesNotMatch(String(value.stderr), /\n\s+at /, 'no stack trace')
  })
})
