/** The agent's start-up deadline: the watch itself, and a real agent process stuck at start. */

import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { STARTUP_DEADLINE_ENV, STARTUP_DEADLINE_MS, StartupWatch, startupDeadlineFromEnv } from '../../../agent/startup-watch.js'
import { runOk } from '../../harness/proc.js'

const MAIN = fileURLToPath(new URL('../../../agent/main.js', import.meta.url))
const silent = pino({ level: 'silent' })

describe('StartupWatch', () => {
  it('at the deadline names the step start-up is stuck in and how long', async () => {
    let t = 0
    const messages: string[] = []
    const watch = new StartupWatch({ logger: silent, now: () => t, onTimeout: m => { messages.push(m) } }, { deadlineMs: 20 })
    watch.begin('secret and identity')
    t = 5
    watch.begin('libp2p listen')
    t = 25
    // The watch's own timer does not keep a process alive (unref): this one does.
    await new Promise(resolve => setTimeout(resolve, 60))
    assert.equal(watch.step, 'libp2p listen')
    assert.deepEqual(messages, ['start-up did not finish within 20 ms: stuck in step "libp2p listen" for 20 ms; exiting'])
  })

  it('is off once start-up is done', async () => {
    let fired = false
    const watch = new StartupWatch({ logger: silent, onTimeout: () => { fired = true } }, { deadlineMs: 10 })
    watch.begin('API socket')
    watch.done()
    await new Promise(resolve => setTimeout(resolve, 40))
    assert.equal(fired, false)
  })

  it('reads its deadline from the environment, falling back on the default', () => {
    assert.equal(startupDeadlineFromEnv({ [STARTUP_DEADLINE_ENV]: '1500' }), 1500)
    assert.equal(startupDeadlineFromEnv({ [STARTUP_DEADLINE_ENV]: 'soon' }), STARTUP_DEADLINE_MS)
    assert.equal(startupDeadlineFromEnv({}), STARTUP_DEADLINE_MS)
  })
})

describe('clusterd agent stuck at start-up', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'clusterd-startup-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('fails loudly at the deadline, naming the step, instead of hanging silently', async () => {
    // A FIFO without a writer as the secret file: opening it blocks a thread-pool thread for
    // good, as a hung file system would. An ordinary process.exit() would hang on that thread.
    const fifo = join(dir, 'secret')
    await runOk(['mkfifo', '-m', '600', fifo])
    const started = Date.now()
    const run = await new Promise<{ err: NodeJS.ErrnoException & { signal?: string } | null, stdout: string, stderr: string }>(resolve => {
      execFile(process.execPath, [MAIN, 'agent', '--data-dir', join(dir, 'data'), '--secret-file', fifo, '--listen', '127.0.0.1:0',
        '--api-socket', join(dir, 'api.sock'), '--node-name', 'stuck', '--log-level', 'debug'],
      { env: { PATH: process.env.PATH ?? '', [STARTUP_DEADLINE_ENV]: '1500' }, timeout: 30_000 },
      (err, stdout, stderr) => { resolve({ err: err as any, stdout, stderr }) })
    })
    const tookMs = Date.now() - started
    assert.ok(run.err !== null, 'the agent did not exit with an error')
    assert.equal(run.err.signal, 'SIGKILL')
    assert.ok(tookMs < 20_000, `took ${tookMs} ms: the 30 s test timeout killed it, not its own deadline`)
    assert.match(run.stderr, /^clusterd: start-up did not finish within 1500 ms: stuck in step "secret and identity" for \d+ ms; exiting$/m)
    assert.match(run.stdout, /"msg":"agent starting"/)
    assert.match(run.stdout, /"step":"secret and identity".*"msg":"start-up step"/)
  })
})
