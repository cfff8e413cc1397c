/**
 * The run guard (manager/ansible/run-guard.py) on real processes, no Ansible: what it runs dies
 * with the guard's parent (the agent), also a process in a session of its own (as
 * ansible-playbook is under pexpect); otherwise it passes its command's exit status through.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { execa } from 'execa'
import { GUARD_PYTHON, RUN_GUARD_FILE } from '../../../../manager/ansible/constants.js'
import { packageRoot } from '../../../../manager/roles/shipped.js'
import { waitFor } from '../../../harness/poll.js'
import { processesWhere } from '../../../harness/proc.js'

const GUARD = join(packageRoot(), RUN_GUARD_FILE)

describe('run guard', () => {
  it('kills everything it started, also a process in its own session, when its parent is killed', async () => {
    const tag = String(3000 + Math.floor(Math.random() * 900))
    // The "agent": a process that starts the guard and is then killed with -9.
    const script = `require('node:child_process').spawn(${JSON.stringify(GUARD_PYTHON)}, ${JSON.stringify([GUARD, '/bin/sh', '-c', `setsid sleep ${tag}1 & exec sleep ${tag}2`])}, { stdio: 'ignore' }); setInterval(() => {}, 1000)`
    const agent = spawn(process.execPath, ['-e', script], { stdio: 'ignore' })
    const sleeps = (): number[] => processesWhere(cmd => cmd === `sleep ${tag}1` || cmd === `sleep ${tag}2`)
    try {
      await waitFor(async () => sleeps().length === 2 ? true : undefined, { timeoutMs: 10_000, intervalMs: 50, message: 'both sleeps started' })
      agent.kill('SIGKILL')
      await waitFor(async () => sleeps().length === 0 ? true : undefined, { timeoutMs: 5000, intervalMs: 50, message: 'the run outlived its agent' })
    } finally {
      agent.kill('SIGKILL')
      for (const pid of sleeps()) process.kill(pid, 'SIGKILL')
    }
  })

  it('passes its command\'s exit status and output through', async () => {
    const r = await execa(GUARD_PYTHON, [GUARD, '/bin/sh', '-c', 'echo out; echo err >&2; exit 7'], { reject: false })
    assert.equal(r.exitCode, 7)
    assert.equal(r.stdout, 'out')
    assert.equal(r.stderr, 'err')
  })

  it('says why when its command cannot run, and when it has none', async () => {
    const missing = await execa(GUARD_PYTHON, [GUARD, '/nonexistent/ansible-runner'], { reject: false })
    assert.equal(missing.exitCode, 127)
    assert.match(missing.stderr, /cannot run \/nonexistent\/ansible-runner/)
    const none = await execa(GUARD_PYTHON, [GUARD], { reject: false })
    assert.equal(none.exitCode, 2)
    assert.match(none.stderr, /usage/)
  })
})
