/**
 * The systemd unit bootstrap.sh writes (CLUSTERD_INIT=systemd), checked by
 * `systemd-analyze verify`: systemd cannot run as PID 1 here, so a stand-in systemctl records
 * what bootstrap asks of it and the rendered file is validated offline. bootstrap installs
 * under a temporary --prefix, so the unit names the installed programs exactly as on a node.
 */

import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { bootstrap, freePort, type Run } from './bootstrap-run.js'

const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze'

async function verify (unit: string): Promise<Run> {
  return await new Promise(resolve => {
    execFile(SYSTEMD_ANALYZE, ['verify', unit], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

describe('the systemd unit bootstrap.sh renders', { skip: existsSync(SYSTEMD_ANALYZE) ? false : 'systemd-analyze is not installed' }, () => {
  let dir: string
  let prefix: string
  let run: Run
  let calls: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterd-unit-'))
    prefix = join(dir, 'prefix')
    calls = join(dir, 'systemctl.calls')
    const fakeBin = join(dir, 'fake-bin')
    await mkdir(fakeBin)
    // Records each call; the unit is never active (nothing runs it), so bootstrap gives up waiting.
    await writeFile(join(fakeBin, 'systemctl'), `#!/bin/sh\necho "$*" >> '${calls}'\ncase "$1" in is-active) exit 3 ;; esac\nexit 0\n`)
    await chmod(join(fakeBin, 'systemctl'), 0o755)
    const port = await freePort()
    run = await bootstrap(dir, ['--no-install', '--listen', `127.0.0.1:${port}`, '--node-name', 'unit', '--prefix', prefix], {
      CLUSTERD_NODE_BIN: '', CLUSTERD_JS: '', CLUSTERCTL_JS: '',
      CLUSTERD_INIT: 'systemd',
      CLUSTERD_SYSTEMD_DIR: join(dir, 'systemd'),
      CLUSTERD_WAIT_SECONDS: '1',
      PATH: `${fakeBin}:${process.env.PATH ?? '/usr/bin:/bin'}`
    })
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('writes clusterd.service naming the installed programs, then reloads, enables and starts it', async () => {
    // Nothing really starts the agent, so bootstrap ends waiting for it.
    assert.equal(run.code, 1, run.stdout + run.stderr)
    assert.match(run.stderr, /clusterd stopped while waiting for a manager to be elected/)
    const unit = join(dir, 'systemd', 'clusterd.service')
    assert.equal((await stat(unit)).mode & 0o777, 0o644)
    const text = await readFile(unit, 'utf8')
    const current = join(prefix, 'current')
    assert.match(text, new RegExp(`^ExecStart="${current}/node_modules/\\.bin/node" "${current}/bin/clusterd\\.js" agent --config "${join(dir, 'etc', 'clusterd.yaml')}"$`, 'm'))
    assert.match(text, new RegExp(`^WorkingDirectory=${current}$`, 'm'))
    assert.doesNotMatch(text, /@[A-Z_]+@/, 'every placeholder replaced')
    const asked = (await readFile(calls, 'utf8')).split('\n')
    for (const call of ['daemon-reload', 'enable --quiet clusterd.service', 'start clusterd.service']) assert.ok(asked.includes(call), `systemctl ${call} in:\n${asked.join('\n')}`)
  })

  it('passes systemd-analyze verify without a warning, and a broken copy does not', async () => {
    const unit = join(dir, 'systemd', 'clusterd.service')
    const ok = await verify(unit)
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(ok.stderr.trim(), '', 'no warning')
    // The check can fail: a bad directive and a missing program are both reported.
    const text = await readFile(unit, 'utf8')
    const broken = join(dir, 'broken.service')
    await writeFile(broken, text.replace(/^KillMode=mixed$/m, 'KillMode=sometimes'))
    assert.match((await verify(broken)).stderr, /Failed to parse kill mode/)
    const missing = join(dir, 'missing.service')
    await writeFile(missing, text.replace(`"${join(prefix, 'current')}/node_modules/.bin/node"`, `"${join(dir, 'no-such-node')}"`))
    const r = await verify(missing)
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /is not executable/)
  })
})
