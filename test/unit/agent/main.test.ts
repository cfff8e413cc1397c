/** clusterd as a real process: version, keygen, and one-line errors with exit codes. */

import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CLUSTERD_VERSION } from '../../../protocol/version.js'

const MAIN = fileURLToPath(new URL('../../../agent/main.js', import.meta.url))

interface Run { code: number, stdout: string, stderr: string }

async function clusterd (args: string[], env: Record<string, string> = {}): Promise<Run> {
  return await new Promise(resolve => {
    execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

function oneLine (run: Run): string {
  assert.equal(run.stderr.split('\n').filter(l => l !== '').length, 1, `one stderr line, got: ${run.stderr}`)
  return run.stderr.trimEnd()
}

describe('clusterd process', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'clusterd-main-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('version prints the release version', async () => {
    const run = await clusterd(['version'])
    assert.equal(run.code, 0)
    assert.equal(run.stdout, `clusterd ${CLUSTERD_VERSION}\n`)
  })

  it('keygen writes a 0600 secret, refuses to overwrite it, and replaces it with --force', async () => {
    const file = join(dir, 'etc', 'secret')
    const first = await clusterd(['keygen', file])
    assert.equal(first.code, 0, first.stderr)
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const original = await readFile(file, 'utf8')
    const again = await clusterd(['keygen', file])
    assert.equal(again.code, 2)
    assert.match(oneLine(again), /^clusterd: .*refusing to overwrite.* \(CLUSTERD_ERR_INVALID_ARGUMENT\)$/)
    assert.equal(await readFile(file, 'utf8'), original)
    const forced = await clusterd(['keygen', '--force', file])
    assert.equal(forced.code, 0, forced.stderr)
    assert.notEqual(await readFile(file, 'utf8'), original)
  })

  it('bad agent flags and config are one line with the code and exit 2', async () => {
    const [listen, config, unknown, detection, timing] = await Promise.all([
      clusterd(['agent', '--listen', '1.2.3.4']),
      clusterd(['agent', '--config', join(dir, 'missing.yaml')]),
      clusterd(['agent', '--bogus']),
      clusterd(['agent', '--failure-detection', 'quick']),
      clusterd(['agent', '--node-name', 'n1'], { CLUSTERD_TIMING: '{"probeIntervalMs":"fast"}' })
    ])
    for (const run of [listen, config, unknown, detection, timing]) assert.equal(run.code, 2, run.stderr)
    assert.equal(oneLine(timing), 'clusterd: CLUSTERD_TIMING: probeIntervalMs: expected a number >= 0; got "fast" (CLUSTERD_ERR_INVALID_CONFIG)')
    assert.equal(oneLine(detection), 'clusterd: --failure-detection: expected one of standard, fast; got "quick" (CLUSTERD_ERR_INVALID_ARGUMENT)')
    assert.equal(oneLine(listen), 'clusterd: --listen: missing port: expected IP:PORT, e.g. 0.0.0.0:7946 or [::]:7946; got "1.2.3.4" (CLUSTERD_ERR_INVALID_ARGUMENT)')
    assert.match(oneLine(config), /^clusterd: cannot read config file .*missing\.yaml: no such file \(CLUSTERD_ERR_INVALID_CONFIG\)$/)
    assert.equal(oneLine(unknown), "clusterd: unknown option '--bogus'")
  })
})
