/**
 * The edge runners against real test hosts (network namespaces with their own sshd): the
 * shipped playbooks through AnsibleRunner, and precheck / RemoteShell through SshConnector.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { execa } from 'execa'
import { pino } from 'pino'
import type { HostKey } from '../../protocol/members.js'
import { AnsibleRunner } from '../../manager/ansible/playbook-runner.js'
import type { PlaybookResult } from '../../manager/ansible/playbook-runner.js'
import { planFor } from '../../manager/roles/plan.js'
import type { PlanKind, PlanTarget } from '../../manager/roles/plan.js'
import { loadRoleConfig } from '../../manager/roles/role-config.js'
import type { RoleConfig } from '../../manager/roles/role-config.js'
import { precheck } from '../../manager/ssh/precheck.js'
import { SshConnector } from '../../manager/ssh/remote-shell.js'
import { shippedPlaybookDir } from '../../manager/roles/shipped.js'
import { TestHosts } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { processesWhere } from '../harness/proc.js'

const logger = pino({ level: 'silent' })

function pinned (publicKeyLine: string): HostKey {
  const [type, key] = publicKeyLine.trim().split(/\s+/)
  return { type: type ?? '', key: key ?? '' }
}

describe('edge runners on real test hosts', { timeout: 10 * 60_000 }, () => {
  let hosts: TestHosts
  let config: RoleConfig
  let runner: AnsibleRunner
  let workDir: string
  let h: TestHosts['hosts']

  const target = (i: number, roles: string[], vars?: PlanTarget['vars'], key?: HostKey): PlanTarget => {
    const host = h[i]!
    return { name: host.name, address: host.address, hostKeys: [key ?? pinned(host.hostKeyPublic)], roles, ...(vars !== undefined ? { vars } : {}) }
  }
  const run = async (kind: PlanKind, targets: PlanTarget[], opts: Parameters<AnsibleRunner['run']>[1] = {}, request?: Record<string, string>): Promise<PlaybookResult> => {
    const plan = planFor(config, kind, targets, { cluster: 'itest', ...(request !== undefined ? { vars: { request } } : {}) })
    const result = await runner.run(plan, opts)
    // Timings for the report: per host, per run.
    console.error(`# ${kind}${opts.check === true ? ' --check' : ''}: ${result.durationMs} ms total; ` +
      result.hosts.map(x => `${x.name}=${x.outcome}/${x.reason ?? '-'} changed=${x.changed} ${x.durationMs ?? '-'}ms`).join(', '))
    return result
  }
  const byName = (r: PlaybookResult, i: number): PlaybookResult['hosts'][number] => {
    const found = r.hosts.find(x => x.name === h[i]!.name)
    assert.ok(found, `no result for ${h[i]!.name}`)
    return found
  }
  const read = async (i: number, path: string): Promise<string> => {
    const text = await h[i]!.readFile(path)
    assert.ok(text !== null, `${path} is missing on ${h[i]!.name}`)
    return text
  }
  const exists = async (i: number, path: string): Promise<boolean> => (await h[i]!.exec(['test', '-e', path])).code === 0

  before(async () => {
    hosts = await TestHosts.create({ count: 3, prefix: 'rn' })
    h = hosts.hosts
    config = await loadRoleConfig(shippedPlaybookDir())
    workDir = await mkdtemp(join(tmpdir(), 'rn-it-'))
    runner = new AnsibleRunner({ logger }, { privateKeyPath: hosts.clientKeyPath, workDir, connectTimeoutS: 3 })
  })

  after(async () => {
    await hosts?.destroy()
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true })
  })

  it('a worker+storage run applies each role to exactly its hosts', async () => {
    const r = await run('commission', [
      target(0, ['worker']),
      target(1, ['worker', 'storage'], { storage_path: '/srv/clusterd/store', storage_exports: [{ name: 'media', clients: '10.0.0.0/8', writable: true }] })
    ])
    assert.equal(r.status, 'completed')
    assert.deepEqual(r.hosts.map(x => x.outcome), ['ok', 'ok'])
    assert.ok(byName(r, 0).changed > 0 && byName(r, 1).changed > byName(r, 0).changed)

    const node1 = JSON.parse(await read(1, '/etc/clusterd/node.json'))
    assert.deepEqual(node1, { name: h[1]!.name, cluster: 'itest', roles: ['base', 'worker', 'storage'], labels: {} })
    assert.match(await read(0, '/etc/clusterd-worker/worker.conf'), /^slots = 4$/m)
    assert.equal((await h[0]!.exec(['id', '-u', 'clusterd-worker'])).code, 0)
    assert.equal((await h[0]!.exec(['stat', '-c', '%U %a', '/var/lib/clusterd-worker'])).stdout.trim(), 'clusterd-worker 750')
    assert.match(await read(1, '/etc/clusterd-storage/exports.conf'), /^\/srv\/clusterd\/store\/data\/media 10\.0\.0\.0\/8\(rw\)$/m)
    assert.equal((await h[1]!.exec(['stat', '-c', '%a', '/srv/clusterd/store/meta'])).stdout.trim(), '700')
    assert.equal(await exists(0, '/etc/clusterd-storage'), false, 'storage only where asked')
    assert.equal(await exists(2, '/etc/clusterd'), false, 'a host outside the plan is untouched')
  })

  it('re-running the same plan changes nothing', async () => {
    const r = await run('commission', [
      target(0, ['worker']),
      target(1, ['worker', 'storage'], { storage_path: '/srv/clusterd/store', storage_exports: [{ name: 'media', clients: '10.0.0.0/8', writable: true }] })
    ])
    assert.deepEqual(r.hosts.map(x => [x.outcome, x.changed]), [['ok', 0], ['ok', 0]])
  })

  it('check mode reports a hand-made edit with its diff and leaves it in place', async () => {
    await h[0]!.exec(['sed', '-i', 's/^slots = 4$/slots = 64/', '/etc/clusterd-worker/worker.conf'])
    const r = await run('commission', [target(0, ['worker'])], { check: true })
    const h0 = byName(r, 0)
    assert.equal(r.check, true)
    assert.equal(h0.changed, 1)
    assert.equal(h0.changes[0]?.task, 'Worker config is rendered')
    assert.match(JSON.stringify(h0.changes[0]?.diff), /slots = 64.*slots = 4|slots = 4.*slots = 64/s)
    assert.match(await read(0, '/etc/clusterd-worker/worker.conf'), /^slots = 64$/m, 'check mode wrote nothing')
  })

  it('a task failing on one host fails that host only', async () => {
    const r = await run('commission', [target(0, ['worker'], { worker_slots: 0 }), target(1, ['worker'])])
    assert.deepEqual([byName(r, 0).outcome, byName(r, 0).reason, byName(r, 0).failedTask], ['failed', 'task-failed', 'Worker settings are valid'])
    assert.match(byName(r, 0).message ?? '', /worker_slots must be an integer/)
    assert.equal(byName(r, 1).outcome, 'ok')
    assert.equal(r.exitCode, 2)
  })

  it('a wrong pinned host key fails that host with a host-key reason and nothing runs there', async () => {
    const wrong = pinned(h[0]!.hostKeyPublic)
    const r = await run('commission', [target(2, ['worker'], undefined, wrong), target(1, ['worker'])])
    // The message says what SSH reported when the reason is not the expected one (CI saw
    // 'unreachable' once, under a unit suite run beside it; the message was not kept then).
    assert.deepEqual([byName(r, 2).outcome, byName(r, 2).reason], ['failed', 'host-key-mismatch'], byName(r, 2).message)
    assert.match(byName(r, 2).message ?? '', /does not match the key pinned/)
    assert.equal(byName(r, 2).changed, 0)
    assert.equal(await exists(2, '/etc/clusterd'), false, 'the playbook never ran there')
    assert.equal(byName(r, 1).outcome, 'ok')
  })

  it('a host whose link is cut is unreachable while the others proceed', async () => {
    await h[2]!.cutLink()
    try {
      const r = await run('commission', [target(2, ['worker']), target(0, ['worker'])])
      assert.deepEqual([byName(r, 2).outcome, byName(r, 2).reason], ['unreachable', 'unreachable'])
      assert.equal(byName(r, 0).outcome, 'ok')
      assert.equal(byName(r, 0).changed, 1, 'the hand-made edit is reverted by a real run')
    } finally {
      await h[2]!.restoreLink()
    }
  })

  it('upgrade records the version once and decommission removes what the roles made', async () => {
    const up1 = await run('upgrade', [target(0, ['worker'])], {}, { agent_version: '0.2.0' })
    const up2 = await run('upgrade', [target(0, ['worker'])], {}, { agent_version: '0.2.0' })
    assert.deepEqual([byName(up1, 0).changed, byName(up2, 0).changed], [1, 0])
    assert.deepEqual(JSON.parse(await read(0, '/etc/clusterd/version.json')), { agent_version: '0.2.0', config_version: 1 })

    const d1 = await run('decommission', [target(1, ['worker', 'storage'])])
    const d2 = await run('decommission', [target(1, ['worker', 'storage'])])
    assert.deepEqual([byName(d1, 1).outcome, byName(d2, 1).outcome, byName(d2, 1).changed], ['ok', 'ok', 0])
    for (const p of ['/srv/clusterd/store', '/etc/clusterd-storage', '/etc/clusterd-worker', '/var/lib/clusterd-worker', '/etc/sysctl.d/60-clusterd-worker.conf', '/etc/clusterd/node.json']) {
      assert.equal(await exists(1, p), false, p)
    }
    assert.notEqual((await h[1]!.exec(['id', 'clusterd-worker'])).code, 0)
    assert.equal(JSON.parse(await read(1, '/etc/clusterd/decommissioned.json')).name, h[1]!.name)
  })

  it('cancelling a run kills its whole process tree and reports cancelled', async () => {
    const ac = new AbortController()
    let abortedAt = 0
    const r = await run('commission', [target(0, ['worker']), target(1, ['worker'])], {
      signal: ac.signal,
      onEvent: e => { if (e.type === 'host-start' && abortedAt === 0) { abortedAt = Date.now(); ac.abort() } }
    })
    const latency = Date.now() - abortedAt
    assert.equal(r.status, 'cancelled')
    assert.ok(r.hosts.every(x => x.outcome !== 'ok'))
    assert.ok(latency < 5000, `resolved ${latency} ms after abort`)
    // No process may still reference the run's private dir (runner, ansible-playbook, ssh masters).
    await waitFor(async () => processesWhere(cmd => cmd.includes(workDir)).length === 0, { timeoutMs: 5000, message: 'run processes left behind' })
    assert.deepEqual(await readdir(workDir), [], 'the private data dir is removed')
  })

  it('a run outlives no manager: when its process is killed (kill -9), the playbook stops', async () => {
    // Task one runs for a while and reports every second (async polls: output on the runner's
    // stdout, which is what breaks ansible-runner once the manager's end of the pipe is gone);
    // task two would mark the host. The manager dies during task one.
    const project = await mkdtemp(join(tmpdir(), 'rn-orphan-'))
    const playbook = join(project, 'orphan.yml')
    const marker = `/tmp/clusterd-orphan-${Date.now()}`
    await writeFile(playbook, [
      '- hosts: all',
      '  gather_facts: false',
      '  tasks:',
      '    - ansible.builtin.command: sleep 8',
      '      async: 30',
      '      poll: 1',
      `    - ansible.builtin.file: { path: ${marker}, state: touch }`
    ].join('\n') + '\n')
    const plan = { ...planFor(config, 'commission', [target(0, ['worker'])], { cluster: 'itest' }), playbooks: [playbook] }
    const child = execa(process.execPath, [join(import.meta.dirname, 'orphan-run-child.js'), JSON.stringify({ privateKeyPath: hosts.clientKeyPath, workDir, plan })], { reject: false, buffer: false })
    try {
      const started = new Promise<void>((resolve, reject) => {
        child.stdout?.setEncoding('utf8')
        child.stdout?.on('data', (s: string) => { if (s.includes('started')) resolve() })
        void child.then(r => { reject(new Error(`the child ended before the playbook started: ${String(r.exitCode)}`)) })
      })
      await started
      assert.ok(processesWhere(cmd => cmd.includes(workDir)).length > 0, 'the run is under way')
      child.kill('SIGKILL')
      await child
      // The runner is orphaned now; it must cancel its playbook, not finish it.
      await waitFor(async () => processesWhere(cmd => cmd.includes(workDir)).length === 0 ? true : undefined,
        { timeoutMs: 6000, intervalMs: 100, message: 'the orphaned run still has processes' })
      assert.equal(await exists(0, marker), false, 'the orphaned playbook went on to its next task')
    } finally {
      child.kill('SIGKILL')
      await rm(project, { recursive: true, force: true })
      // The dead child could not remove its run dir.
      for (const d of await readdir(workDir)) await rm(join(workDir, d), { recursive: true, force: true })
    }
  })

  it('a run past its deadline is killed and reports timeout', async () => {
    const started = Date.now()
    const r = await run('commission', [target(0, ['worker'])], { timeoutMs: 300 })
    assert.equal(r.status, 'timeout')
    assert.deepEqual(r.hosts.map(x => [x.outcome, x.reason]), [['failed', 'timeout']])
    assert.ok(Date.now() - started < 5000)
    await waitFor(async () => processesWhere(cmd => cmd.includes(workDir)).length === 0, { timeoutMs: 5000, message: 'run processes left behind' })
  })

  describe('precheck and RemoteShell', () => {
    let connector: SshConnector
    let otherKey: string

    before(async () => {
      connector = new SshConnector({ logger }, { privateKeyPath: hosts.clientKeyPath, connectTimeoutMs: 2000 })
      otherKey = join(workDir, 'other-key')
      await execa('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey])
    })

    const sshTarget = (i: number, extra: { key?: HostKey, username?: string } = {}) => ({
      name: h[i]!.name, address: h[i]!.address, hostKeys: [extra.key ?? pinned(h[i]!.hostKeyPublic)], ...(extra.username !== undefined ? { username: extra.username } : {})
    })

    it('passes on a healthy host', async () => {
      assert.deepEqual(await precheck(connector, sshTarget(0)), { ok: true })
    })

    it('reports host-key-mismatch for a wrong pinned key', async () => {
      const r = await precheck(connector, sshTarget(0, { key: pinned(h[1]!.hostKeyPublic) }))
      assert.equal(r.ok ? 'ok' : r.reason, 'host-key-mismatch')
    })

    it('reports auth-failed for a key the host does not authorize', async () => {
      const other = new SshConnector({ logger }, { privateKeyPath: otherKey, connectTimeoutMs: 2000 })
      const r = await precheck(other, sshTarget(0))
      assert.equal(r.ok ? 'ok' : r.reason, 'auth-failed')
    })

    it('reports not-root for a login that is not root', async () => {
      const pub = (await readFile(`${hosts.clientKeyPath}.pub`, 'utf8')).trim()
      // '*' rather than useradd's locked '!': sshd without PAM refuses locked accounts.
      const steps = [
        ['useradd', '-m', '-p', '*', '-s', '/bin/sh', 'rnuser'],
        ['install', '-d', '-m', '700', '-o', 'rnuser', '-g', 'rnuser', '/home/rnuser/.ssh'],
        ['sh', '-c', 'cat > /home/rnuser/.ssh/authorized_keys && chown rnuser:rnuser /home/rnuser/.ssh/authorized_keys && chmod 600 /home/rnuser/.ssh/authorized_keys']
      ]
      // Only the last step reads the key.
      for (const [i, argv] of steps.entries()) assert.equal((await h[0]!.exec(argv, i === steps.length - 1 ? { stdin: pub + '\n' } : {})).code, 0, argv.join(' '))
      const r = await precheck(connector, sshTarget(0, { username: 'rnuser' }))
      assert.equal(r.ok ? 'ok' : r.reason, 'not-root')
    })

    it('reports no-python when the interpreter is missing', async () => {
      const r = await precheck(connector, sshTarget(0), { pythonPath: '/usr/bin/python3-missing' })
      assert.equal(r.ok ? 'ok' : r.reason, 'no-python')
    })

    it('reports unreachable for a host whose link is cut', async () => {
      await h[2]!.cutLink()
      try {
        const r = await precheck(connector, sshTarget(2))
        assert.equal(r.ok ? 'ok' : r.reason, 'unreachable')
      } finally {
        await h[2]!.restoreLink()
      }
    })

    it('runs argv without shell interpretation and copies files', async () => {
      const c = await connector.connect(sshTarget(1))
      assert.ok(c.ok)
      try {
        const words = ['a;touch /tmp/rn-pwned', '$(id)', "it's", '`id`', '*']
        const r = await c.shell.exec(['printf', '%s\\n', ...words])
        assert.deepEqual(r.stdout.trimEnd().split('\n'), words)
        assert.equal((await c.shell.exec(['test', '-e', '/tmp/rn-pwned'])).code, 1)
        const local = join(workDir, 'payload.txt')
        await writeFile(local, 'payload\n')
        await c.shell.put(local, '/root/payload.txt')
        assert.equal(await read(1, '/root/payload.txt'), 'payload\n')
        const ac = new AbortController()
        const pending = c.shell.exec(['sleep', '37.25'], { signal: ac.signal })
        setTimeout(() => ac.abort(), 200)
        const started = Date.now()
        const slept = await pending
        assert.equal(slept.cancelled, true)
        assert.ok(Date.now() - started < 5000, `cancel took ${Date.now() - started} ms`)
        assert.equal((await h[1]!.exec(['pgrep', '-x', '-f', 'sleep 37.25'])).code, 1, 'the remote command was killed')
      } finally {
        await c.shell.close()
      }
    })
  })
})
