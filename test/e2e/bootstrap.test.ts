// The operator's path, end to end, on real hosts: `./bootstrap.sh` creates a cluster on the
// first host, the secrets are copied the way its printed instructions say, `./bootstrap.sh
// join` adds four more hosts, and the real clusterctl inside the hosts lists members and
// nodes, commissions two workers (real ansible-runner over real SSH with the manager key that
// bootstrap.sh authorized) and reads the audit trail. Then a re-run of bootstrap.sh, a stop
// and a status behave as its --help promises.
//
// Each host runs bootstrap.sh with its default paths (/etc/clusterd, /run/clusterd,
// /var/log/clusterd, /root/.ssh), all private to that host, in the supervised background mode
// (no systemd here). --no-install: the machine already has every dependency.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { TestHosts, type HostExecResult, type TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { CLUSTERCTL, NODE, PORT, REPO } from '../harness/agent-process.js'
import { netnsInode, pidsInNetns } from '../harness/proc.js'
import type { JobRecord } from '../../protocol/jobs.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { Member } from '../../protocol/members.js'
import type { LifecycleEvent, NodeRecord } from '../../protocol/nodes.js'

const BOOTSTRAP = join(REPO, 'bootstrap.sh')
const ETC = '/etc/clusterd'
const SECRET_NAMES = ['secret', 'manager_ed25519', 'manager_ed25519.pub', 'api-token']
const LOG_FILE = '/var/log/clusterd/clusterd.log'
const SUPERVISOR_PID_FILE = '/run/clusterd/supervisor.pid'
const WORKER_CONF = '/etc/clusterd-worker/worker.conf'
/** One bootstrap.sh run may wait up to its default 60 s for the cluster, plus Node start-ups. */
const BOOTSTRAP_TIMEOUT_MS = 150_000
const CTL_TIMEOUT_MS = 60_000

describe('bootstrap.sh on real hosts: first node, join, commission, re-run, stop', () => {
  let hosts: TestHosts | undefined
  /** Hosts where bootstrap.sh may have started a supervisor: teardown stops each. */
  const started = new Set<TestHost>()
  const h = (i: number): TestHost => {
    const host = hosts?.hosts[i - 1]
    if (host == null) throw new Error(`no host ${i}`)
    return host
  }

  const show = (what: string, r: HostExecResult): string => `${what} exited ${String(r.code)}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`
  /** The end of a host's agent log, for failure messages. */
  const logTail = async (host: TestHost): Promise<string> => {
    const log = await host.readFile(LOG_FILE).catch(() => null)
    return `--- ${host.name}:${LOG_FILE} (last lines) ---\n${(log ?? '(none)').split('\n').slice(-30).join('\n')}`
  }

  /** `./bootstrap.sh ARGS` inside the host, from the checkout, as root, with its defaults. */
  const bootstrap = async (host: TestHost, args: string[]): Promise<HostExecResult> =>
    await host.exec([BOOTSTRAP, ...args], { cwd: REPO, timeoutMs: BOOTSTRAP_TIMEOUT_MS })

  /** The real clusterctl inside the host, against that host's agent (default socket). */
  const ctl = async (host: TestHost, args: string[], timeoutMs = CTL_TIMEOUT_MS): Promise<HostExecResult> =>
    await host.exec([NODE, CLUSTERCTL, ...args], { timeoutMs })

  /** `clusterctl ARGS -o json` parsed; throws (so `waitFor` retries) unless it exits 0. */
  const ctlJson = async <T>(host: TestHost, args: string[]): Promise<T> => {
    const r = await ctl(host, [...args, '-o', 'json'])
    if (r.code !== 0) throw new Error(show(`clusterctl ${args.join(' ')} on ${host.name}`, r))
    return JSON.parse(r.stdout) as T
  }

  /** `stat -c %a` of each path inside the host, e.g. `{ '/etc/clusterd': '700' }`. */
  const modes = async (host: TestHost, paths: string[]): Promise<Record<string, string>> => {
    const r = await host.exec(['stat', '-c', '%n %a', ...paths])
    assert.equal(r.code, 0, show(`stat on ${host.name}`, r))
    return Object.fromEntries(r.stdout.trim().split('\n').map(line => line.split(' ') as [string, string]))
  }
  const secretPaths = [ETC, ...SECRET_NAMES.map(n => `${ETC}/${n}`)]
  const privateModes = Object.fromEntries(secretPaths.map(p => [p, p === ETC ? '700' : '600']))

  const readSecrets = async (host: TestHost): Promise<Record<string, string | null>> =>
    Object.fromEntries(await Promise.all(SECRET_NAMES.map(async n => [n, await host.readFile(`${ETC}/${n}`)] as const)))

  /** Command lines of the processes in the host's network namespace (hosts share one pid namespace). */
  const processesIn = (host: TestHost): Array<{ pid: number, argv: string[] }> => {
    const ino = netnsInode(host.name)
    assert.notEqual(ino, null, `netns of ${host.name}`)
    return pidsInNetns(new Set([ino as number])).flatMap(pid => {
      try {
        return [{ pid, argv: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(a => a !== '') }]
      } catch {
        return []
      }
    })
  }
  const supervisors = (host: TestHost): number[] =>
    processesIn(host).filter(p => p.argv.some(a => a.endsWith('scripts/supervise.sh'))).map(p => p.pid)
  const agents = (host: TestHost): number[] =>
    // `node bin/clusterd.js agent ...` itself, not the supervisor whose argv ends with that command.
    processesIn(host).filter(p => p.argv[1]?.endsWith('bin/clusterd.js') === true && p.argv[2] === 'agent').map(p => p.pid)

  before(async () => {
    hosts = await TestHosts.create({ count: 5, prefix: 'e2e' })
  })

  after(async () => {
    // Every agent leaves through the operator's own command first; destroy then powers the
    // hosts off (and kills whatever a failed stop left).
    const stops = await Promise.all([...started].map(async host => ({ host, r: await bootstrap(host, ['stop']).catch((err: unknown) => ({ code: null, stdout: '', stderr: String(err) })) })))
    await hosts?.destroy()
    const failed = stops.filter(s => s.r.code !== 0)
    assert.deepEqual(failed.map(s => s.host.name), [], failed.map(s => show(`bootstrap.sh stop on ${s.host.name}`, s.r)).join('\n'))
  })

  it('creates the cluster on the first host: exit 0, 0600 secrets in a 0700 dir, itself the manager, join instructions printed', async () => {
    started.add(h(1))
    const r = await bootstrap(h(1), ['--no-install'])
    assert.equal(r.code, 0, show('bootstrap.sh on h1', r) + '\n' + await logTail(h(1)))
    assert.match(r.stdout, new RegExp(`this node \\(${h(1).name}, ${h(1).address.replaceAll('.', '\\.')}:${PORT}\\) is the manager`))
    // The printed instructions: how to copy the four secrets (modes kept) and the join command.
    assert.match(r.stdout, /tar -C \/etc\/clusterd -cf - secret manager_ed25519 manager_ed25519\.pub api-token \| ssh root@NEW_NODE 'umask 077 && mkdir -p \/etc\/clusterd && tar -C \/etc\/clusterd -xpf -'/)
    assert.ok(r.stdout.includes(`./bootstrap.sh join ${h(1).address}:${PORT}`), `join command for ${h(1).address}:${PORT} in:\n${r.stdout}`)
    assert.deepEqual(await modes(h(1), secretPaths), privateModes)
    const m = await ctlJson<ManagerInfo>(h(1), ['manager'])
    assert.equal(m.name, h(1).name)
    assert.equal(m.local, true)
    assert.equal(supervisors(h(1)).length, 1, 'one supervisor on h1')
  })

  it('joins four more hosts after copying the secrets as instructed: each join exits 0 with the secrets private', async () => {
    // host 1: the tar of the printed instruction, carried as base64 text instead of over ssh.
    const packed = await h(1).exec(['bash', '-c', 'set -o pipefail; dir=$1; shift; tar -C "$dir" -cf - "$@" | base64 -w0', 'pack', ETC, ...SECRET_NAMES])
    assert.equal(packed.code, 0, show('tar of the secrets on h1', packed))
    const joiners = [2, 3, 4, 5].map(h)
    await Promise.all(joiners.map(async host => {
      // The receiving half of the printed instruction, on the new node.
      const unpacked = await host.exec(['bash', '-c', 'set -o pipefail; umask 077 && mkdir -p "$1" && base64 -d | tar -C "$1" -xpf -', 'unpack', ETC], { stdin: packed.stdout })
      assert.equal(unpacked.code, 0, show(`untar of the secrets on ${host.name}`, unpacked))
    }))
    const original = await readSecrets(h(1))
    for (const host of joiners) {
      assert.deepEqual(await readSecrets(host), original, `secrets on ${host.name} equal h1's`)
      assert.deepEqual(await modes(host, secretPaths), privateModes, `modes on ${host.name}`)
    }
    for (const host of joiners) started.add(host)
    const results = await Promise.all(joiners.map(async host => ({ host, r: await bootstrap(host, ['join', `${h(1).address}:${PORT}`, '--no-install']) })))
    for (const { host, r } of results) {
      assert.equal(r.code, 0, show(`bootstrap.sh join on ${host.name}`, r) + '\n' + await logTail(host))
      assert.match(r.stdout, new RegExp(`joined the cluster as ${host.name} `))
      assert.deepEqual(await modes(host, secretPaths), privateModes, `modes on ${host.name} after join`)
    }
  })

  it('every host is an alive member and a discovered, reachable node, as seen from host 3', async () => {
    const names = [1, 2, 3, 4, 5].map(i => h(i).name).sort()
    await waitFor(async () => {
      const members = await ctlJson<Member[]>(h(3), ['members'])
      return members.length === 5 && members.every(m => m.status === 'alive') && names.every(n => members.some(m => m.name === n))
    }, { timeoutMs: 60_000, intervalMs: 500, message: 'five alive members on h3' })
    const nodes = await waitFor(async () => {
      const list = await ctlJson<NodeRecord[]>(h(3), ['nodes'])
      return list.length === 5 && list.every(n => n.state === 'discovered' && n.reachable) ? list : undefined
    }, { timeoutMs: 60_000, intervalMs: 500, message: 'five discovered, reachable nodes on h3' })
    assert.deepEqual(nodes.map(n => n.name).sort(), names)
  })

  it('commissions hosts 2 and 3 as workers from host 4 (--wait): the role lands on exactly them, with an audit trail', async () => {
    const r = await ctl(h(4), ['commission', h(2).name, h(3).name, '--role', 'worker', '--wait'], 180_000)
    assert.equal(r.code, 0, show('clusterctl commission --wait on h4', r) + '\n' + await logTail(h(1)))
    const jobId = /^job (\S+) /m.exec(r.stdout)?.[1]
    assert.ok(jobId !== undefined, `a job id in:\n${r.stdout}`)

    for (const i of [1, 2, 3, 4, 5]) {
      const conf = await h(i).readFile(WORKER_CONF)
      if (i === 2 || i === 3) assert.notEqual(conf, null, `${WORKER_CONF} on ${h(i).name}`)
      else assert.equal(conf, null, `no ${WORKER_CONF} on ${h(i).name}`)
    }

    const nodes = await ctlJson<NodeRecord[]>(h(4), ['nodes'])
    for (const i of [2, 3]) {
      const n = nodes.find(x => x.name === h(i).name)
      assert.equal(n?.state, 'commissioned', `${h(i).name} state`)
      assert.deepEqual(n?.roles, ['worker'])
    }
    for (const i of [1, 4, 5]) assert.equal(nodes.find(x => x.name === h(i).name)?.state, 'discovered')

    const events = await ctlJson<LifecycleEvent[]>(h(4), ['events', '--node', h(2).name])
    assert.deepEqual(events.map(e => [e.type, e.from, e.to]), [
      ['discovered', null, 'discovered'],
      ['commission-requested', 'discovered', 'commissioning'],
      ['job-succeeded', 'commissioning', 'commissioned']
    ])
    assert.deepEqual(events.slice(1).map(e => e.jobId), [jobId, jobId])

    const job = await ctlJson<JobRecord>(h(4), ['job', 'show', jobId])
    assert.equal(job.status, 'succeeded')
    assert.deepEqual([...job.nodes].sort(), [h(2).name, h(3).name].sort())
    assert.deepEqual(job.roles, ['worker'])
  })

  it('re-running ./bootstrap.sh on host 1 is safe: exit 0, secrets unchanged, still one supervisor', async () => {
    const secrets = await readSecrets(h(1))
    const pidFile = await h(1).readFile(SUPERVISOR_PID_FILE)
    const supervisor = supervisors(h(1))
    const agent = agents(h(1))
    assert.equal(supervisor.length, 1)
    assert.equal(agent.length, 1)
    assert.equal(pidFile?.trim(), String(supervisor[0]))

    const r = await bootstrap(h(1), ['--no-install'])
    assert.equal(r.code, 0, show('second bootstrap.sh on h1', r))
    assert.match(r.stdout, new RegExp(`clusterd is already running \\(supervisor pid ${String(supervisor[0])}\\)`))
    assert.deepEqual(await readSecrets(h(1)), secrets)
    assert.deepEqual(await modes(h(1), secretPaths), privateModes)
    assert.equal(await h(1).readFile(SUPERVISOR_PID_FILE), pidFile)
    assert.deepEqual(supervisors(h(1)), supervisor, 'the same single supervisor')
    assert.deepEqual(agents(h(1)), agent, 'the same single agent')
    assert.equal((await ctlJson<ManagerInfo>(h(1), ['manager'])).name, h(1).name)
  })

  it('./bootstrap.sh stop on host 5 exits 0, and every other host lists it as left', async () => {
    const r = await bootstrap(h(5), ['stop'])
    assert.equal(r.code, 0, show('bootstrap.sh stop on h5', r))
    assert.deepEqual(supervisors(h(5)), [], 'no supervisor left on h5')
    assert.deepEqual(agents(h(5)), [], 'no agent left on h5')
    const status = await bootstrap(h(5), ['status'])
    assert.equal(status.code, 6, show('bootstrap.sh status on the stopped h5', status))
    for (const i of [1, 2, 3, 4]) {
      await waitFor(async () => (await ctlJson<Member[]>(h(i), ['members'])).find(m => m.name === h(5).name)?.status === 'left',
        { timeoutMs: 30_000, intervalMs: 500, message: `${h(i).name} to list ${h(5).name} as left` })
    }
  })

  it('./bootstrap.sh status on host 1 exits 0 and names the members and the manager', async () => {
    const r = await bootstrap(h(1), ['status'])
    assert.equal(r.code, 0, show('bootstrap.sh status on h1', r))
    assert.match(r.stdout, /clusterd is running \(supervisor pid \d+, agent pid \d+/)
    for (const i of [1, 2, 3, 4, 5]) assert.ok(r.stdout.includes(h(i).name), `${h(i).name} in:\n${r.stdout}`)
    assert.match(r.stdout, new RegExp(`^${h(1).name}\\s.*\\byes\\s*$`, 'm'), 'the manager table names h1 (LOCAL yes)')
  })
})
