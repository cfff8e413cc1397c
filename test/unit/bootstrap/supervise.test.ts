/**
 * scripts/supervise.sh with small real commands: restart with backoff on failure, no restart
 * after a clean exit, SIGTERM forwarded (and SIGKILL after --stop-timeout), prompt stop
 * during a backoff, a restart at once on SIGUSR1, pid files written and removed, the log rotated by size while the command
 * keeps writing to it, and a stop that lands in a rotation.
 */

import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs'
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

/** Runs supervise.sh; its stdout and stderr go to `logFd` when given (as bootstrap.sh's `>> LOG`), else are collected. */
function supervise (dir: string, extra: string[], command: string[], logFd?: number): Supervised {
  const proc = spawn('bash', [SUPERVISE, '--pid-file', join(dir, 'sup.pid'), '--child-pid-file', join(dir, 'child.pid'), ...extra, '--', ...command], {
    cwd: dir, stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe']
  })
  let out = ''
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => { out += d })
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

/** A process below `pid` (any depth) whose command name is `comm`, or null (/proc/PID/task/PID/children). */
function descendant (pid: number, comm: string): number | null {
  let children: number[]
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(c => c !== '').map(Number)
  } catch {
    return null
  }
  for (const c of children) {
    try { if (readFileSync(`/proc/${c}/comm`, 'utf8').trim() === comm) return c } catch {}
    const below = descendant(c, comm)
    if (below !== null) return below
  }
  return null
}

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

  for (const rotation of [false, true]) {
    it(`restarts the command at once on SIGUSR1, even though it exits cleanly (log rotation ${rotation ? 'on' : 'off'})`, async () => {
      const starts = join(dir, `starts-${String(rotation)}`)
      const log = join(dir, `usr1-${String(rotation)}.log`)
      const fd = openSync(log, 'a')
      // Each run counts itself and exits 0 on SIGTERM: only SIGUSR1 makes that a restart.
      running = supervise(dir, rotation ? ['--log-file', log, '--log-max-bytes', '1000000', '--log-check-seconds', '30'] : [],
        ['bash', '-c', 'trap \'kill $!; exit 0\' TERM; echo run >> "$0"; sleep 30 & wait', starts], fd)
      closeSync(fd)
      await poll('the first run', () => existsSync(starts) && lines(readFileSync(starts, 'utf8')).length === 1)
      const first = readFileSync(join(dir, 'child.pid'), 'utf8').trim()
      const t0 = Date.now()
      running.proc.kill('SIGUSR1')
      await poll('the second run', () => lines(readFileSync(starts, 'utf8')).length === 2)
      assert.ok(Date.now() - t0 < 5000, `restarted in ${Date.now() - t0} ms, without a backoff`)
      await poll('the new child pid', () => existsSync(join(dir, 'child.pid')) && readFileSync(join(dir, 'child.pid'), 'utf8').trim() !== first)
      assert.match(readFileSync(log, 'utf8'), /"the agent exited with status 0 after SIGUSR1; starting it again"/)
      running.proc.kill('SIGTERM')
      assert.equal(await running.exited, 0)
      assert.equal(lines(readFileSync(starts, 'utf8')).length, 2, 'the stop did not start it again')
    })
  }

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

  it('rotates the log by size while the command keeps appending: whole lines in order, no hole, the command not restarted', async () => {
    const log = join(dir, 'rotated.log')
    const fd = openSync(log, 'a')
    // 100-byte numbered lines, each one write(2) with O_APPEND, as the agent's pino lines.
    const writer = 'i=0; while :; do printf "line %05d %s\\n" $i "$(printf "%0.sx" $(seq 88))"; i=$((i+1)); sleep 0.005; done'
    running = supervise(dir, ['--log-file', log, '--log-max-bytes', '4000', '--log-keep', '2', '--log-check-seconds', '1'], ['bash', '-c', writer], fd)
    closeSync(fd)
    const rotations = (): number => [log, `${log}.1`, `${log}.2`].map(f => existsSync(f) ? readFileSync(f, 'utf8').match(/"rotated the log at \d+ bytes/g)?.length ?? 0 : 0).reduce((a, b) => a + b, 0)
    await poll('three rotations', () => existsSync(`${log}.2`) && rotations() >= 3, 20_000)
    running.proc.kill('SIGTERM')
    assert.equal(await running.exited, 0)
    assert.equal(existsSync(`${log}.3`), false, '--log-keep 2 keeps two old logs')
    let last = -1
    for (const f of [`${log}.2`, `${log}.1`, log]) {
      const text = readFileSync(f, 'utf8')
      assert.equal(text.includes('\0'), false, `no hole (NUL bytes) in ${f}`)
      for (const line of lines(text)) {
        if (line.startsWith('{')) { assert.match(line, /"component":"supervisor"/); continue }
        assert.match(line, /^line \d{5} x{88}$/, `a whole line in ${f}`)
        const n = Number(line.slice(5, 10))
        assert.ok(n > last, `${f}: line ${n} after ${last}`)
        last = n
      }
    }
    const all = [`${log}.2`, `${log}.1`, log].map(f => readFileSync(f, 'utf8')).join('')
    assert.doesNotMatch(all, /restarting in/, 'the command was never restarted')
  })

  it('a stop that lands while the log is being copied aside ends the supervisor at once, not a check interval later', async () => {
    // Before, the supervisor went from a rotation straight into `wait -n CHILD SLEEPER`: bash 5.2
    // drops a job killed by a signal outside a wait from its job table, so that `wait -n` said "no
    // such job" (into the log, until its stderr was silenced) and slept the whole check interval
    // before the stop went on. The "no such job" check below guards that silencing.
    const log = join(dir, 'big.log')
    writeFileSync(log, Buffer.alloc(32 * 2 ** 20, 'x'))
    const fd = openSync(log, 'a')
    running = supervise(dir, ['--log-file', log, '--log-max-bytes', '1000', '--log-check-seconds', '60'], ['sleep', '600'], fd)
    closeSync(fd)
    const sup = running.proc.pid as number
    // The copy of the oversized log (the first look, at start), held still so the stop lands in it.
    let copy: number | null = null
    const deadline = Date.now() + 20_000
    while ((copy = descendant(sup, 'cp')) === null) {
      if (Date.now() > deadline || running.proc.exitCode !== null) throw new Error('the rotation\'s copy was never seen')
      await new Promise(resolve => setImmediate(resolve))
    }
    process.kill(copy, 'SIGSTOP')
    await poll('the child pid file', () => existsSync(join(dir, 'child.pid')))
    const child = Number(readFileSync(join(dir, 'child.pid'), 'utf8'))
    running.proc.kill('SIGTERM')
    process.kill(copy, 'SIGCONT')
    const stoppedAt = Date.now()
    assert.equal(await running.exited, 0)
    assert.ok(Date.now() - stoppedAt < 30_000, 'stopped well within the 60 s check interval')
    const text = [`${log}.1`, log].map(f => existsSync(f) ? readFileSync(f, 'utf8') : '').join('')
    assert.doesNotMatch(text, /no such job/)
    assert.equal(existsSync(`${log}.1`), true, 'the rotation finished: the stop did not split it')
    assert.equal(existsSync(`/proc/${child}`), false, 'the command was stopped and reaped')
  })

  it('with log rotation on, a command that fails is restarted at once, not after the check interval', async () => {
    const log = join(dir, 'fail.log')
    const fd = openSync(log, 'a')
    running = supervise(dir, ['--log-file', log, '--log-max-bytes', '1000000', '--log-check-seconds', '60'], ['sh', '-c', 'sleep 0.3; exit 3'], fd)
    closeSync(fd)
    const t0 = Date.now()
    await poll('the second start', () => (readFileSync(log, 'utf8').match(/"started the agent/g)?.length ?? 0) >= 2, 10_000)
    assert.ok(Date.now() - t0 < 10_000, 'well before the 60 s check interval')
    assert.match(readFileSync(log, 'utf8'), /"the agent exited with status 3 after \d+s; restarting in 1s"/)
    running.proc.kill('SIGTERM')
    assert.equal(await running.exited, 0)
  })

  it('rejects bad arguments with exit 2', async () => {
    for (const args of [['--', 'true'], ['--pid-file', join(dir, 'p')], ['--pid-file', join(dir, 'p'), '--max-backoff', 'x', '--', 'true'],
      ['--pid-file', join(dir, 'p'), '--log-max-bytes', '100', '--', 'true'], ['--pid-file', join(dir, 'p'), '--log-file', join(dir, 'l'), '--log-keep', '0', '--', 'true']]) {
      const run = spawn('bash', [SUPERVISE, ...args], { stdio: 'ignore' })
      const code = await new Promise(resolve => run.on('close', resolve))
      assert.equal(code, 2, args.join(' '))
    }
  })
})
