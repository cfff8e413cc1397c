/**
 * bootstrap.sh with hostile arguments: shell metacharacters, quotes, newlines and option-like
 * values in every flag, seed and environment override are refused with a usage error before
 * anything runs, and a data directory full of metacharacters (a valid path) is carried as data
 * all the way to a running agent. A canary file proves nothing was evaluated.
 */

import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { bootstrap, freePort, readPid } from './bootstrap-run.js'

describe('bootstrap.sh with hostile arguments', () => {
  let dir: string
  let canary: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterd-bs-hostile-'))
    canary = join(dir, 'pwned')
  })
  after(async () => {
    // A wrongly accepted argument would have started an agent: never leave it behind.
    for (const file of ['node/run/supervisor.pid', 'node/run/agent.pid', 'refused/run/supervisor.pid', 'refused/run/agent.pid']) {
      const pid = readPid(join(dir, file))
      if (pid !== null) try { process.kill(pid, 'SIGKILL') } catch {}
    }
    await rm(dir, { recursive: true, force: true })
  })

  const payloads = (c: string): string[] => [
    `$(touch ${c})`, `\`touch ${c}\``, `a;touch ${c}`, `a && touch ${c}`, `a|touch ${c}`, `a'b`, 'a"b', `a\ntouch ${c}`,
    'a b', '-oProxyCommand=x', '${IFS}', 'a\\b', '../../etc', '*', '{{ lookup("pipe","id") }}'
  ]

  it('refuses metacharacters in names, labels, addresses, seeds and environment overrides with exit 2 and runs nothing', async () => {
    let cases = 0
    const all = payloads(canary)
    // Every flag meets every kind of payload across the loop, a few per flag (each run is a process).
    for (let i = 0; i < all.length; i += 4) {
      const p = (k: number): string => all[(i + k) % all.length] as string
      const runs: Array<[string[], Record<string, string>]> = [
        [['--no-install', '--node-name', p(0)], {}],
        [['--no-install', '--label', `rack=${p(1)}`], {}],
        [['--no-install', '--label', `${p(2)}=x`], {}],
        [['--no-install', '--advertise', p(3)], {}],
        [['--no-install', '--listen', `${p(0)}:7946`], {}],
        [['--no-install', '--api-listen', `127.0.0.1:${p(1)}`], {}],
        [['--no-install', '--manager-eligible', p(2)], {}],
        [['join', '--no-install', `${p(3)}:7946`], {}],
        [['join', '--no-install', `10.0.0.1:${p(0)}`], {}],
        [['--no-install'], { CLUSTERD_WAIT_SECONDS: p(1) }],
        [['--no-install'], { CLUSTERD_INIT: p(2) }]
      ]
      for (const [args, env] of runs) {
        const run = await bootstrap(join(dir, 'refused'), args, env)
        cases++
        assert.equal(run.code, 2, `${JSON.stringify(args)} ${JSON.stringify(env)}: exit ${run.code} (${run.stderr})`)
        assert.match(run.stderr, /^bootstrap: /)
      }
    }
    assert.ok(cases >= 40)
    assert.equal(existsSync(canary), false, 'a hostile argument was evaluated by a shell')
    assert.equal(existsSync(join(dir, 'refused', 'etc')), false, 'a refused invocation created files')
  })

  it('carries a data directory full of metacharacters as data to a running agent', async () => {
    const port = await freePort()
    const node = join(dir, 'node')
    const dataDir = join(node, `d $(touch ${canary}) \`touch ${canary}\` ;touch ${canary}; 'q' "dq" \\x`)
    const run = await bootstrap(node, ['--no-install', '--listen', `127.0.0.1:${port}`, '--node-name', 'h1', '--data-dir', dataDir])
    try {
      assert.equal(run.code, 0, run.stderr + run.stdout)
      assert.match(run.stdout, /is the manager/)
      assert.ok(existsSync(join(dataDir, 'identity.key')), `the agent used the literal data dir; have ${(await readdir(node)).join(', ')}`)
      assert.equal(existsSync(canary), false, 'the data dir was evaluated by a shell')
    } finally {
      const stop = await bootstrap(node, ['stop'])
      assert.equal(stop.code, 0, stop.stderr)
    }
    assert.equal(existsSync(canary), false)
  })
})
