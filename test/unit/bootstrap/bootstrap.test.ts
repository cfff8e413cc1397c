/**
 * bootstrap.sh as a real process, with every path pointed into a temporary directory:
 * usage errors, secret handling, key authorization, and a real supervised agent that is
 * elected manager, survives a re-run and a crash, is joined by a second node, and stops
 * with a graceful leave.
 */

import { existsSync, readFileSync } from 'node:fs'
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Member } from '../../../protocol/members.js'
import { SCRIPT, bootstrap, freePort, readPid, type Run } from './bootstrap-run.js'

const SECRET_NAMES = ['secret', 'ssh-ca', 'ssh-ca.pub', 'api-ca.key', 'api-ca.crt', 'api-token']

/** Alive = /proc/PID exists and is not a zombie (PID 1 here reaps orphans late). */
function alive (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

async function poll<T> (what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await fn().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

/** GET an agent API route over its unix socket; the parsed body, or undefined if not 200. */
async function apiGet (socketPath: string, path: string): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: 5000 }, res => {
      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => { body += d }).on('end', () => {
        resolve(res.statusCode === 200 ? JSON.parse(body) : undefined)
      })
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

async function members (dir: string): Promise<Member[]> {
  return await apiGet(join(dir, 'run', 'clusterd.sock'), '/v1/members') as Member[]
}

async function mode (path: string): Promise<number> {
  return (await stat(path)).mode & 0o777
}

/** Kill what a bootstrap in `dir` left running (a failed test must not leave agents behind). */
function killLeftovers (dir: string): void {
  for (const file of ['supervisor.pid', 'agent.pid']) {
    const pid = readPid(join(dir, 'run', file))
    if (pid !== null && alive(pid)) process.kill(pid, 'SIGKILL')
  }
}

describe('bootstrap.sh command line', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'clusterd-bs-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('--help exits 0 and documents the commands, flags and path overrides', async () => {
    const run = await bootstrap(dir, ['--help'])
    assert.equal(run.code, 0, run.stderr)
    for (const word of ['join HOST:PORT', 'status', 'stop', '--node-name', '--advertise', '--listen', '--label',
      '--data-dir', '--no-install', '--manager-eligible', 'CLUSTERD_ETC', 'CLUSTERD_RUN', 'CLUSTERD_LOG_DIR', 'CLUSTERD_SSHD_DROP_IN_DIR', 'CLUSTERD_SSHD_CONFIG', 'TrustedUserCAKeys']) {
      assert.ok(run.stdout.includes(word), `--help mentions ${word}`)
    }
  })

  it('bad usage exits 2 with a message naming the problem, before touching anything', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--bogus'], /unknown flag: --bogus/],
      [['--label', 'rack'], /--label: expected KEY=VALUE/],
      [['--label', 'rack=r 1'], /--label: value "r 1" for key "rack" is invalid/],
      [['--label', 'a=1', '--label', 'a=2'], /--label: key "a" given more than once/],
      [['--manager-eligible', 'maybe'], /--manager-eligible: expected true or false; got "maybe"/],
      [['--listen', '1.2.3.4'], /--listen: expected IP:PORT/],
      [['--listen', '1.2.3.4:0'], /--listen: expected IP:PORT with a port from 1 to 65535/],
      [['--advertise', '0.0.0.0'], /--advertise: 0\.0\.0\.0 cannot be dialled/],
      [['--node-name', 'a;rm -rf x'], /--node-name: expected 1-63 letters/],
      [['--node-name'], /--node-name needs a value/],
      [['--data-dir', ''], /--data-dir: expected a path/],
      [['--node-name', 'a', '--node-name', 'b'], /--node-name given more than once/],
      [['join'], /join needs at least one seed member/],
      [['join', 'nohost'], /join: expected seed addresses HOST:PORT/],
      [['10.0.0.1:7946'], /unknown command: "10\.0\.0\.1:7946" \(to join a cluster: \.\/bootstrap\.sh join 10\.0\.0\.1:7946\)/],
      [['status', '--no-install'], /status takes no flags/]
    ]
    for (const [args, message] of cases) {
      const run = await bootstrap(dir, args)
      assert.equal(run.code, 2, `${args.join(' ')}: exit code (stderr: ${run.stderr})`)
      assert.match(run.stderr, message, args.join(' '))
    }
    assert.equal(existsSync(join(dir, 'etc')), false, 'no bad invocation created the config directory')
  })

  it('join without the copied secrets fails naming the missing file and how to get it', async () => {
    const run = await bootstrap(dir, ['join', '127.0.0.1:7946', '--no-install', '--node-name', 'n2'])
    assert.equal(run.code, 1)
    assert.match(run.stderr, new RegExp(`missing cluster secret ${join(dir, 'etc', 'secret')}`))
    assert.match(run.stderr, new RegExp(`a manager-eligible node needs secret ssh-ca ssh-ca\\.pub api-ca\\.key api-ca\\.crt api-token from /etc/clusterd on a member in ${join(dir, 'etc')} here, mode 0600`))
    const worker = await bootstrap(dir, ['join', '127.0.0.1:7946', '--no-install', '--node-name', 'n2', '--manager-eligible', 'false'])
    assert.equal(worker.code, 1)
    assert.match(worker.stderr, /a worker node needs secret ssh-ca\.pub api-ca\.crt from/)
    assert.equal(existsSync(join(dir, 'run', 'supervisor.pid')), false, 'no agent was started')
  })

  it('join refuses a secret readable by group or others, naming it and the fix', async () => {
    const etc = join(dir, 'etc')
    await mkdir(etc, { recursive: true, mode: 0o700 })
    for (const name of SECRET_NAMES) await writeFile(join(etc, name), 'x\n', { mode: 0o600 })
    await chmod(join(etc, 'ssh-ca'), 0o640)
    const run = await bootstrap(dir, ['join', '127.0.0.1:7946', '--no-install', '--node-name', 'n2'])
    assert.equal(run.code, 1)
    assert.match(run.stderr, new RegExp(`${join(etc, 'ssh-ca')} has mode 640: .*chmod 600`))
    assert.equal(existsSync(join(dir, 'run', 'supervisor.pid')), false, 'no agent was started')
  })
})

describe('bootstrap.sh with a real agent', () => {
  let first: string
  let second: string
  let port: number
  let firstRun: Run
  const supervisorPid = (dir: string): number | null => readPid(join(dir, 'run', 'supervisor.pid'))
  const agentPid = (dir: string): number | null => readPid(join(dir, 'run', 'agent.pid'))

  before(async () => {
    first = await mkdtemp(join(tmpdir(), 'clusterd-bs1-'))
    second = await mkdtemp(join(tmpdir(), 'clusterd-bs2-'))
    port = await freePort()
    firstRun = await bootstrap(first, ['--no-install', '--listen', `127.0.0.1:${port}`, '--node-name', 'First', '--label', 'rack=r1'])
  })
  after(async () => {
    killLeftovers(second)
    killLeftovers(first)
    await rm(first, { recursive: true, force: true })
    await rm(second, { recursive: true, force: true })
  })

  it('the first node starts a supervised agent that is elected manager, then prints how to join', async () => {
    assert.equal(firstRun.code, 0, firstRun.stderr + firstRun.stdout)
    assert.match(firstRun.stdout, new RegExp(`this node \\(first, 127\\.0\\.0\\.1:${port}\\) is the manager`))
    assert.match(firstRun.stdout, new RegExp(`\\./bootstrap\\.sh join 127\\.0\\.0\\.1:${port}`))
    assert.match(firstRun.stdout, /tar -C .* secret ssh-ca\.pub api-ca\.crt \| ssh root@NEW_NODE/)
    assert.match(firstRun.stdout, /tar -C .* secret ssh-ca ssh-ca\.pub api-ca\.key api-ca\.crt api-token \| ssh root@NEW_NODE/)
    assert.match(firstRun.stdout, new RegExp(`\\./bootstrap\\.sh join 127\\.0\\.0\\.1:${port} --manager-eligible false`))
    const manager = await apiGet(join(first, 'run', 'clusterd.sock'), '/v1/manager') as { name: string }
    assert.equal(manager.name, 'first')
    const list = await members(first)
    assert.deepEqual(list.map(m => [m.name, m.status, m.labels]), [['first', 'alive', { rack: 'r1' }]])
    const sup = supervisorPid(first)
    assert.ok(sup !== null && alive(sup), 'the supervisor runs')
    assert.match(readFileSync(`/proc/${sup}/cmdline`, 'utf8'), /supervise\.sh/)
    const agent = agentPid(first)
    assert.ok(agent !== null && alive(agent), 'the agent runs')
  })

  it('creates each secret 0600 in a 0700 directory, makes sshd trust the cluster SSH CA and installs the node gate', async () => {
    const etc = join(first, 'etc')
    assert.equal(await mode(etc), 0o700)
    for (const name of SECRET_NAMES) assert.equal(await mode(join(etc, name)), 0o600, name)
    assert.match(await readFile(join(etc, 'secret'), 'utf8'), /^\/key\/swarm\/psk\/1\.0\.0\/\n/)
    assert.match((await readFile(join(etc, 'ssh-ca.pub'), 'utf8')).trim(), /^ssh-ed25519 \S+ clusterd-ssh-ca$/)
    assert.match(await readFile(join(etc, 'api-ca.crt'), 'utf8'), /^-----BEGIN CERTIFICATE-----\n/)
    assert.equal(existsSync(join(etc, 'manager_ed25519')), false, 'no shared manager key')
    assert.match(await readFile(join(etc, 'ssh-principals', 'root'), 'utf8'), /(^| )clusterd-manager\n$/)
    const dropin = await readFile(join(first, 'sshd', 'sshd_config.d', 'clusterd-ca.conf'), 'utf8')
    assert.match(dropin, new RegExp(`^TrustedUserCAKeys ${join(etc, 'ssh-ca.pub')}$`, 'm'))
    assert.match(dropin, new RegExp(`^AuthorizedPrincipalsFile ${join(etc, 'ssh-principals')}/%u$`, 'm'))
    const gate = join(first, 'gate', 'clusterd-gate')
    const options = `command="${gate}",no-port-forwarding,no-agent-forwarding,no-X11-forwarding`
    assert.equal(await readFile(join(etc, 'ssh-principals', 'root'), 'utf8'), `${options} clusterd-manager\n`)
    assert.equal(await mode(gate), 0o755)
    assert.equal(await readFile(gate, 'utf8'), await readFile(join(dirname(SCRIPT), 'agent', 'fencing', 'clusterd-gate.py'), 'utf8'))
    assert.deepEqual(JSON.parse(await readFile(`${gate}.json`, 'utf8')), { leaseFile: join(first, 'data', 'lease.json'), log: join(first, 'log', 'gate.log') })
    assert.match(await readFile(join(first, 'sshd', 'sshd_config.d', 'clusterd-fence.conf'), 'utf8'), /^AcceptEnv CLUSTERD_LEASE$/m)
    assert.match(firstRun.stderr, /sshd is not running: start it/)
    const config = await readFile(join(etc, 'clusterd.yaml'), 'utf8')
    assert.match(config, new RegExp(`^ssh-ca-key-file: "${join(etc, 'ssh-ca')}"$`, 'm'))
    assert.match(config, new RegExp(`^ssh-ca-pub-file: "${join(etc, 'ssh-ca.pub')}"$`, 'm'))
    assert.doesNotMatch(config, /ssh-key-file/)
  })

  it('re-running keeps the secrets and the sshd drop-in and does not start a second agent', async () => {
    const etc = join(first, 'etc')
    const before = await Promise.all(SECRET_NAMES.map(async name => await readFile(join(etc, name), 'utf8')))
    const sup = supervisorPid(first)
    const agent = agentPid(first)
    const again = await bootstrap(first, ['--no-install', '--listen', `127.0.0.1:${port}`, '--node-name', 'first', '--label', 'rack=r1'])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /clusterd is already running \(supervisor pid \d+\)/)
    assert.deepEqual(await Promise.all(SECRET_NAMES.map(async name => await readFile(join(etc, name), 'utf8'))), before)
    assert.equal(supervisorPid(first), sup)
    assert.equal(agentPid(first), agent)
    assert.match(again.stdout, /sshd already trusts the cluster SSH CA/)
  })

  it('the supervisor restarts an agent that crashed', async () => {
    const crashed = agentPid(first)
    assert.ok(crashed !== null)
    process.kill(crashed, 'SIGKILL')
    const restarted = await poll('a new agent pid', async () => {
      const pid = agentPid(first)
      return pid !== null && pid !== crashed && alive(pid) ? pid : undefined
    })
    await poll('the restarted agent to list itself alive', async () => {
      const list = await members(first)
      return list.some(m => m.name === 'first' && m.status === 'alive') ? true : undefined
    })
    assert.ok(alive(restarted))
    assert.match(await readFile(join(first, 'log', 'clusterd.log'), 'utf8'), /"the agent exited with status 137 after \d+s; restarting in 1s"/)
  })

  it('join: a second node joins through the first with the copied secrets', async () => {
    await mkdir(join(second, 'etc'), { mode: 0o700 })
    for (const name of SECRET_NAMES) await cp(join(first, 'etc', name), join(second, 'etc', name))
    const port2 = await freePort()
    const run = await bootstrap(second, ['join', `127.0.0.1:${port}`, '--no-install', '--listen', `127.0.0.1:${port2}`, '--node-name', 'second'])
    assert.equal(run.code, 0, run.stderr + run.stdout)
    assert.match(run.stdout, new RegExp(`joined the cluster as second \\(127\\.0\\.0\\.1:${port2}\\)`))
    assert.match(await readFile(join(second, 'etc', 'clusterd.yaml'), 'utf8'), new RegExp(`join:\\n  - "127\\.0\\.0\\.1:${port}"`))
    await poll('the first node to see the second alive', async () =>
      (await members(first)).some(m => m.name === 'second' && m.status === 'alive') ? true : undefined)
  })

  it('stop leaves the cluster gracefully and ends the supervisor and the agent', async () => {
    const sup = supervisorPid(second)
    const agent = agentPid(second)
    assert.ok(sup !== null && agent !== null)
    const run = await bootstrap(second, ['stop'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(alive(sup), false, 'supervisor gone')
    assert.equal(alive(agent), false, 'agent gone')
    assert.equal(existsSync(join(second, 'run', 'supervisor.pid')), false, 'pid file removed')
    // Graceful: the other member hears "left", not a failure detected later.
    await poll('the first node to see the second leave', async () =>
      (await members(first)).some(m => m.name === 'second' && m.status === 'left') ? true : undefined, 10_000)
    assert.match(await readFile(join(second, 'log', 'clusterd.log'), 'utf8'), /"the agent exited with status 0 after SIGTERM; supervisor exiting"/)
    const status = await bootstrap(second, ['status'])
    assert.equal(status.code, 6, 'status reports not running')

    const stopFirst = await bootstrap(first, ['stop'])
    assert.equal(stopFirst.code, 0, stopFirst.stderr)
    assert.equal(existsSync(join(first, 'run', 'supervisor.pid')), false)
  })
})
