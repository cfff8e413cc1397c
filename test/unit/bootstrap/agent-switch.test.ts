/**
 * scripts/agent-switch.sh against a small stand-in agent (a real process answering
 * GET /v1/diagnostics on a unix socket with its pid and its tree's version) run by the real
 * scripts/supervise.sh from PREFIX/current: the switch points current at the new tree and
 * previous at the old one, restarts the agent through the supervisor and returns once the new
 * process reports the version; a tree whose agent reports another version is rolled back and
 * the old agent runs again; a second run of an attempt returns its recorded result.
 */

import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readlinkSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '../../harness/poll.js'

function findRepo (): string {
  let dir = fileURLToPath(new URL('.', import.meta.url))
  while (!existsSync(join(dir, 'scripts', 'agent-switch.sh'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error('scripts/agent-switch.sh not found')
    dir = up
  }
  return dir
}
const REPO = findRepo()

// The stand-in agent: its version is the VERSION file of the tree it was started from.
const FAKE_AGENT = `
const { readFileSync, rmSync } = require('node:fs')
const version = readFileSync(require('node:path').join(__dirname, 'VERSION'), 'utf8').trim()
const sock = process.argv[2]
rmSync(sock, { force: true })
const server = require('node:http').createServer((req, res) => {
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ pid: process.pid, version }))
}).listen(sock)
process.on('SIGTERM', () => { server.close(); process.exit(0) })
`

interface Run { code: number | null, out: string }

async function runSwitch (prefix: string, tree: string, args: string[]): Promise<Run> {
  return await new Promise(resolve => {
    const p = spawn('bash', [join(prefix, 'versions', tree, 'scripts', 'agent-switch.sh'), '--prefix', prefix, '--tree', tree, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
    p.stderr.setEncoding('utf8').on('data', (d: string) => { out += d })
    p.on('close', code => { resolve({ code, out }) })
  })
}

async function diagnostics (socketPath: string): Promise<{ pid: number, version: string } | null> {
  return await new Promise(resolve => {
    const req = request({ socketPath, path: '/v1/diagnostics', timeout: 2000 }, res => {
      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => { body += d }).on('end', () => { try { resolve(JSON.parse(body)) } catch { resolve(null) } })
    })
    req.on('error', () => { resolve(null) }).on('timeout', () => { req.destroy() }).end()
  })
}

describe('agent-switch.sh', () => {
  let dir: string
  let prefix: string
  let sock: string
  let pidFile: string
  let supervisor: ChildProcess
  const A = '1.0.0-aaaaaaaaaaaa'
  const B = '2.0.0-bbbbbbbbbbbb'
  const C = '3.0.0-cccccccccccc'

  /** A tree with the real switch script, the pinned node and a stand-in agent reporting `version`. */
  const tree = async (id: string, version: string): Promise<void> => {
    const t = join(prefix, 'versions', id)
    await mkdir(join(t, 'scripts'), { recursive: true })
    await mkdir(join(t, 'node_modules', '.bin'), { recursive: true })
    await copyFile(join(REPO, 'scripts', 'agent-switch.sh'), join(t, 'scripts', 'agent-switch.sh'))
    await symlink(process.execPath, join(t, 'node_modules', '.bin', 'node'))
    await writeFile(join(t, 'agent.cjs'), FAKE_AGENT)
    await writeFile(join(t, 'VERSION'), `${version}\n`)
    // A stand-in launcher: `clusterd compile-cache` says which tree it filled the cache for.
    await mkdir(join(t, 'bin'), { recursive: true })
    await writeFile(join(t, 'bin', 'clusterd.js'), `if (process.argv[2] === 'compile-cache') console.log('compile cache filled: ' + ${JSON.stringify(id)})\n`)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterd-switch-'))
    prefix = join(dir, 'opt')
    sock = join(dir, 'agent.sock')
    pidFile = join(dir, 'supervisor.pid')
    await tree(A, '1.0.0')
    await tree(B, '2.0.0')
    // C's agent reports the wrong version: a broken release.
    await tree(C, '2.0.0')
    await symlink(`versions/${A}`, join(prefix, 'current'))
    supervisor = spawn('bash', [join(REPO, 'scripts', 'supervise.sh'), '--pid-file', pidFile, '--', 'sh', '-c', 'exec "$0/current/node_modules/.bin/node" "$0/current/agent.cjs" "$1"', prefix, sock], { stdio: 'ignore' })
    await waitFor(async () => await diagnostics(sock), { timeoutMs: 15_000, message: 'the first agent' })
  })
  after(async () => {
    supervisor.kill('SIGTERM')
    await new Promise(resolve => supervisor.once('exit', resolve))
    await rm(dir, { recursive: true, force: true })
  })

  const common = (attempt: string): string[] => ['--attempt', attempt, '--socket', sock, '--supervisor-pid-file', pidFile, '--unit', 'clusterd-test-no-such-unit', '--deadline', '5']

  it('switches current, keeps previous, restarts through the supervisor and returns once the new agent reports the version', async () => {
    const old = await diagnostics(sock)
    const r = await runSwitch(prefix, B, ['--version', '2.0.0', ...common('job-1')])
    assert.equal(r.code, 0, r.out)
    assert.match(r.out, /^the agent reports 2\.0\.0$/m)
    assert.equal(readlinkSync(join(prefix, 'current')), `versions/${B}`)
    assert.equal(readlinkSync(join(prefix, 'previous')), `versions/${A}`)
    const now = await diagnostics(sock)
    assert.equal(now?.version, '2.0.0')
    assert.notEqual(now?.pid, old?.pid, 'a new agent process')
    assert.equal(supervisor.exitCode, null, 'the supervisor runs on')
    // Before the restart, the new tree's compile cache was filled (its output in the attempt's log).
    assert.match(await readFile(join(prefix, 'agent-switch', 'job-1.log'), 'utf8'), new RegExp(`^compile cache filled: ${B.replace(/[.+]/g, '\\$&')}$`, 'm'))
  })

  it('a second run of the same attempt returns its recorded result and restarts nothing', async () => {
    const before = await diagnostics(sock)
    const r = await runSwitch(prefix, B, ['--version', '2.0.0', ...common('job-1')])
    assert.equal(r.code, 0, r.out)
    assert.equal((await diagnostics(sock))?.pid, before?.pid)
  })

  it('rolls back to the tree it replaced when the new agent does not report the version in time', async () => {
    const r = await runSwitch(prefix, C, ['--version', '3.0.0', ...common('job-2')])
    assert.equal(r.code, 1, r.out)
    assert.match(r.out, /did not report 3\.0\.0 within 5s; rolled .*current back to versions\/2\.0\.0-bbbbbbbbbbbb/)
    assert.equal(readlinkSync(join(prefix, 'current')), `versions/${B}`)
    assert.equal(readlinkSync(join(prefix, 'previous')), `versions/${C}`)
    // The old agent runs again (a new process of tree B).
    await waitFor(async () => {
      const d = await diagnostics(sock)
      return d?.version === '2.0.0' ? d : null
    }, { timeoutMs: 15_000, message: 'the rolled-back agent' })
    assert.match(await readFile(join(prefix, 'agent-switch', 'job-2.result'), 'utf8'), /^failed /)
  })

  it('switches nothing when the supervisor predates restarts on SIGUSR1 (the signal would kill it)', async () => {
    const oldDir = join(dir, 'old')
    await mkdir(oldDir, { recursive: true })
    await writeFile(join(oldDir, 'supervise.sh'), 'sleep 30 & wait\n')
    const old = spawn('bash', [join(oldDir, 'supervise.sh')], { stdio: 'ignore' })
    try {
      await writeFile(join(oldDir, 'supervisor.pid'), `${String(old.pid)}\n`)
      const before = await diagnostics(sock)
      const r = await runSwitch(prefix, C, ['--version', '3.0.0', '--attempt', 'job-3', '--socket', sock, '--supervisor-pid-file', join(oldDir, 'supervisor.pid'), '--unit', 'clusterd-test-no-such-unit', '--deadline', '5'])
      assert.equal(r.code, 1, r.out)
      assert.match(r.out, /predates restarts on SIGUSR1: restart clusterd by hand once .*\(nothing was switched\)/)
      assert.equal(readlinkSync(join(prefix, 'current')), `versions/${B}`)
      assert.equal(old.exitCode, null, 'the old supervisor was not signalled')
      assert.equal((await diagnostics(sock))?.pid, before?.pid)
    } finally {
      old.kill('SIGKILL')
    }
  })

  it('refuses bad arguments with exit 2 before touching anything', async () => {
    const r = await runSwitch(prefix, B, ['--version', '2.0.0', ...common('../escape')])
    assert.equal(r.code, 2)
    assert.match(r.out, /--attempt: expected an id/)
    assert.equal(readlinkSync(join(prefix, 'current')), `versions/${B}`)
  })
})
