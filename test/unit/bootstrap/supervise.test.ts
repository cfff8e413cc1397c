/**
 * scripts/supervise.sh with small real commands: restart with backoff on failure, no restart
 * after a clean exit, SIGTERM forwarded (and SIGKILL after --stop-timeout), prompt stop
 * during a backoff, pid files written and removed.
 */

import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'

function findRepo (): string {
  let dir = fileURLToPath(new URL('.', import.meta.url))
  while (!existsSync(join(dir, 'scripts', 'supervise.sh'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error('scripts/supervise.sh not found')
    dir = up
  }
  return dir
}
const SUPERVISE = join(findRepo(), 'scripts', 'supervise.sh')

interface Supervised { proc: ChildProcess, output: () => string, exited: Promise<number | null> }

function supervise (dir: string, extra: string[], command: string[]): Supervised {
  const proc = spawn('bash', [SUPERVISE, '--pid-file', join(dir, 'sup.pid'), '--child-pid-file', join(dir, 'child.pid'), ...extra, '--', ...command], {
    cwd: dir, stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  proc.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  proc.stderr.setEncoding('utf8').on('data', (d: string) => { out += d })
  const exited = new Promise<number | null>(resolve => proc.on('close', code => { resolve(code) }))
  return { proc, output: () => out, exited }
}

async function poll (what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

const lines = (text: string): string[] => text.split('\n').filter(l => l !== '')

describe('supervise.sh', () => {
  let dir: string
  let running: Supervised | undefined
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'clusterd-sup-')) })
  after(async () => {
    if (running !== undefined && running.proc.exitCode === null) running.proc.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })

  it('restarts a failing command with growing backoff, and a SIGTERM in the backoff stops it at once', async () => {
    const runs = join(dir, 'runs')
    running = supervise(dir, [], ['sh', '-c', 'echo run >> "$0"; exit 3', runs])
    await poll('the second failure', () => existsSync(runs) && lines(readFileSync(runs, 'utf8')).length >= 2)
    assert.match(running.output(), /"the agent exited with status 3 after \d+s; restarting in 1s"/)
    await poll('the third failure', () => lines(readFileSync(runs, 'utf8')).length >= 3)
    assert.match(running.output(), /restarting in 2s/)
    // The third backoff is 4 s: long enough that a loaded machine's poll still lands inside it,
    // and a stop well under it shows the SIGTERM did not wait for the backoff to end.
    await poll('the third backoff', () => running?.output().includes('restarting in 4s') === true)
    assert.equal(readFileSync(join(dir, 'sup.pid'), 'utf8').trim(), String(running.proc.pid))
    const t0 = Date.now()
    running.proc.kill('SIGTERM')
    assert.equal(await running.exited, 0)
    assert.ok(Date.now() - t0 < 2000, `stopped during the 4 s backoff in ${Date.now() - t0} ms`)
    assert.match(running.output(), /stopped during the restart backoff/)
    assert.equal(existsSync(join(dir, 'sup.pid')), false, 'pid file removed')
  })

  it('does not restart a command that exits cleanly', async () => {
    running = supervise(dir, [], ['true'])
    assert.equal(await running.exited, 0)
    assert.equal(running.output().match(/started the agent/g)?.length, 1)
    assert.match(running.output(), /exited cleanly \(status 0\); not restarting/)
  })

  it('forwards SIGTERM to the command and reports its own exit status', async () => {
    const marker = join(dir, 'term')
    const ready = join(dir, 'trap-ready')
    // The command says when its trap is set: a SIGTERM before that would kill it untrapped.
    running = supervise(dir, [], ['bash', '-c', 'trap \'kill $!; echo got-term > "$0"; exit 0\' TERM; : > "$1"; sleep 30 & wait', marker, ready])
    await poll('the child pid file', () => existsSync(join(dir, 'child.pid')))
    await poll('the child\'s trap', () => existsSync(ready))
    running.proc.kill('SIGTERM')
    assert.equal(await running.exited, 0)
    assert.equal(await readFile(marker, 'utf8'), 'got-term\n')
    assert.match(running.output(), /"the agent exited with status 0 after SIGTERM; supervisor exiting"/)
    assert.equal(existsSync(join(dir, 'child.pid')), false, 'child pid file removed')
  })

  it('kills a command that ignores SIGTERM after --stop-timeout', async () => {
    running = supervise(dir, ['--stop-timeout', '1'], ['sh', '-c', 'trap "" TERM; exec sleep 30'])
    await poll('the child pid file', () => existsSync(join(dir, 'child.pid')))
    const child = Number(readFileSync(join(dir, 'child.pid'), 'utf8'))
    const t0 = Date.now()
    running.proc.kill('SIGTERM')
    assert.equal(await running.exited, 0)
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`)
    assert.match(running.output(), /did not stop within 1s of SIGTERM; sending SIGKILL/)
    assert.match(running.output(), /exited with status 137 after SIGTERM/)
    assert.equal(existsSync(`/proc/${child}`) && !readFileSync(`/proc/${child}/stat`, 'utf8').includes(') Z'), false, 'the command is gone')
  })

  it('rejects bad arguments with exit 2', async () => {
    for (const args of [['--', 'true'], ['--pid-file', join(dir, 'p')], ['--pid-file', join(dir, 'p'), '--max-backoff', 'x', '--', 'true']]) {
      const run = spawn('bash', [SUPERVISE, ...args], { stdio: 'ignore' })
      const code = await new Promise(resolve => run.on('close', resolve))
      assert.equal(code, 2, args.join(' '))
    }
  })
})
