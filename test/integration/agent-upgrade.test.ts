// The agent upgrades itself, on real hosts: every test host runs clusterd from an installed tree
// (/opt/clusterd/current, the host's private /opt) under scripts/supervise.sh, as a machine
// without systemd does. Release V1 is this checkout (npm run release); V2 is the same checkout
// stamped with another version. `clusterctl upgrade --all --agent-release V2` must restart the
// agents one at a time, the manager's node last (the role moving to another agent), each
// rejoining with V2 before the next; `clusterctl nodes` keeps answering through some agent,
// and every write acknowledged before and during the upgrade is there after it. A no-op and a
// downgrade are refused without --force.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ApiClient } from '../../cli/client.js'
import type { AgentDiagnostics } from '../../protocol/diagnostics.js'
import type { JobEvent, JobRecord } from '../../protocol/jobs.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { TestHosts, type TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { runOk } from '../harness/proc.js'
import { AgentProcess, CLUSTERCTL, NODE, PORT, REPO, agreedManager, makeManagerKey, makeSecret, saveAgentLogs, seedsExcept, testDir } from '../harness/agent-process.js'

const HOSTS = Number(process.env.CLUSTERD_AGENT_UPGRADE_HOSTS ?? 4)
const V2 = '0.1.1-agentup'
const PREFIX = '/opt/clusterd'
/** Per host, in its private /var: the supervisor's pid file and a link to the agent's API socket. */
const HOST_DIR = '/var/lib/clusterd-test'

interface Release { path: string, tree: string }

describe(`agent upgrade of ${HOSTS} nodes, the manager's node included, on real hosts`, () => {
  let hosts: TestHosts
  let dir: string
  let secret: string
  let sshKey: string
  let v1: Release
  let v2: Release
  const agents = new Map<string, AgentProcess>()
  const h = (i: number): TestHost => hosts.hosts[i] as TestHost

  /** Builds a release into dir/releases with scripts/release.sh, as `npm run release` does. */
  const release = async (version?: string): Promise<Release> => {
    const out = await runOk(['bash', join(REPO, 'scripts/release.sh'), '--out', join(dir, 'releases'), ...(version !== undefined ? ['--version', version] : [])], { timeoutMs: 300_000 })
    const m = /wrote (\S+\/clusterd-(\S+)\.tar\.gz) /.exec(out)
    assert.ok(m !== null, `release.sh output: ${out}`)
    return { path: m[1] as string, tree: m[2] as string }
  }

  /** Installs release V1 as the host's /opt/clusterd/current, as install-tree.sh lays it out. */
  const install = async (host: TestHost, sock: string): Promise<void> => {
    for (const argv of [
      ['mkdir', '-p', `${PREFIX}/versions`, HOST_DIR],
      ['tar', '--no-same-owner', '-xzf', v1.path, '-C', `${PREFIX}/versions`],
      ['ln', '-sfn', `versions/${v1.tree}`, `${PREFIX}/current`],
      ['ln', '-sfn', sock, `${HOST_DIR}/api.sock`]
    ]) {
      const r = await host.exec(argv, { timeoutMs: 120_000 })
      assert.equal(r.code, 0, `${argv.join(' ')} on ${host.name}: ${r.stderr}`)
    }
  }

  /** The agent under the supervisor, both run from the installed tree's `current`. */
  const startSupervised = (host: TestHost, sock: string): AgentProcess => {
    const proc = host.spawn([
      'bash', `${PREFIX}/current/scripts/supervise.sh`, '--pid-file', `${HOST_DIR}/supervisor.pid`, '--stop-timeout', '20', '--',
      `${PREFIX}/current/node_modules/.bin/node`, `${PREFIX}/current/bin/clusterd.js`, 'agent',
      '--data-dir', '/var/lib/clusterd',
      '--listen', `${host.address}:${PORT}`,
      '--secret-file', secret,
      '--node-name', host.name,
      '--api-socket', sock,
      '--manager-eligible', 'true',
      '--ssh-key-file', sshKey,
      '--log-level', 'info',
      ...seedsExcept(hosts.hosts, host).flatMap(s => ['--join', s])
    ], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' } })
    return new AgentProcess(host, proc, sock)
  }

  /** The first agent that answers `fn`, trying each in turn (agents restart during the upgrade). */
  const anyAgent = async <T>(fn: (c: ApiClient) => Promise<T>): Promise<T | undefined> => {
    for (const a of agents.values()) {
      try { return await fn(a.client) } catch { /* restarting: try the next */ }
    }
    return undefined
  }
  const nodes = async (): Promise<NodeRecord[] | undefined> =>
    await anyAgent(async c => await c.request<NodeRecord[]>('GET', '/v1/nodes'))
  const job = async (id: string): Promise<JobRecord | undefined> => await anyAgent(async c => await c.request<JobRecord>('GET', `/v1/jobs/${id}`))
  const clusterctl = async (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await h(0).exec([NODE, CLUSTERCTL, '--addr', (agents.get(h(0).name) as AgentProcess).socket, ...args], { timeoutMs: 60_000 })
  const upgradeVars = ['--var', `agent_socket=${HOST_DIR}/api.sock`, '--var', `agent_supervisor_pid_file=${HOST_DIR}/supervisor.pid`, '--var', 'agent_switch_deadline=90']

  before(async () => {
    dir = await testDir('it-agent-upgrade')
    await mkdir(join(dir, 'releases'), { recursive: true })
    v1 = await release()
    v2 = await release(V2)
    hosts = await TestHosts.create({ count: HOSTS, prefix: 'au' })
    secret = await makeSecret(dir)
    sshKey = await makeManagerKey(dir, hosts.hosts)
    await mkdir(join(dir, 'sock'), { recursive: true, mode: 0o700 })
    for (const host of hosts.hosts) {
      const sock = join(dir, 'sock', `${host.name}.sock`)
      await install(host, sock)
      agents.set(host.name, startSupervised(host, sock))
    }
    await waitFor(async () => await agreedManager(agents.values()), { timeoutMs: 90_000, message: () => `no manager agreed:\n${h(0).name}: ${(agents.get(h(0).name) as AgentProcess).output.slice(-2000)}` })
    await waitFor(async () => {
      const ns = await nodes()
      return ns !== undefined && ns.length === HOSTS && ns.every(n => n.reachable && n.agentVersion === '0.1.0') ? ns : undefined
    }, { timeoutMs: 60_000, intervalMs: 250, message: `every node recorded reachable, with agent 0.1.0` })
  })

  after(async () => {
    await Promise.allSettled([...agents.values()].map(async a => await a.stop('SIGTERM', 25_000)))
    await saveAgentLogs('agent-upgrade', agents.values()).catch(() => {})
    await hosts?.destroy()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('refuses to install the version every node already runs, without --force', async () => {
    const r = await clusterctl(['upgrade', '--all', '--agent-release', v1.path, ...upgradeVars])
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`)
    assert.match(r.stderr, /nothing to do: .* already run agent 0\.1\.0; pass --force .*CLUSTERD_ERR_UPGRADE_REFUSED/)
  })

  it('upgrades every agent one at a time, the manager\'s node last, while the cluster keeps answering and loses no acknowledged write', async () => {
    const before = await agreedManager(agents.values())
    assert.ok(before !== undefined)
    const oldManager = before.name

    // Writes: each sets the cluster vars to every key so far plus its own. The last acknowledged
    // one must be whole at the end (a write refused or cut off by the failover was not acknowledged).
    let acked: Record<string, string> = {}
    let stop = false
    let writes = 0
    let answered = 0
    let unanswered = 0
    let longestGapMs = 0
    let lastAnswer = Date.now()
    const writer = (async () => {
      for (let i = 1; !stop && i < 100_000; i++) {
        const value = { ...acked, [`w${i}`]: String(i) }
        const ok = await anyAgent(async c => await c.request('PUT', '/v1/config/vars', { value }))
        if (ok !== undefined) { acked = value; writes++ }
        await new Promise(resolve => setTimeout(resolve, 300))
      }
    })()
    // `clusterctl nodes`' request, through whichever agent answers.
    const poller = (async () => {
      while (!stop) {
        const ns = await nodes()
        const now = Date.now()
        if (ns !== undefined) { answered++; longestGapMs = Math.max(longestGapMs, now - lastAnswer); lastAnswer = now } else unanswered++
        await new Promise(resolve => setTimeout(resolve, 250))
      }
    })()
    await waitFor(() => writes >= 3 ? true : undefined, { timeoutMs: 30_000, message: 'writes acknowledged before the upgrade' })

    const started = Date.now()
    const r = await clusterctl(['upgrade', '--all', '--agent-release', v2.path, ...upgradeVars])
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    const found = /\b(j-[a-z0-9]+-[0-9a-f]{6})\b/.exec(r.stdout)?.[1]
    assert.ok(found !== undefined, r.stdout)
    const id: string = found
    const done = await waitFor(async () => {
      const j = await job(id)
      return j !== undefined && ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined
    }, { timeoutMs: 15 * 60_000, intervalMs: 1000, message: () => `job ${id} did not finish; agents:\n${[...agents.values()].map(a => `--- ${a.host.name}\n${a.output.slice(-1500)}`).join('\n')}` })
    const seconds = (Date.now() - started) / 1000
    // A few writes after the job, through the new manager.
    const after = writes
    await waitFor(() => writes >= after + 3 ? true : undefined, { timeoutMs: 30_000, message: 'writes acknowledged after the upgrade' })
    stop = true
    await Promise.all([writer, poller])

    assert.equal(done.status, 'succeeded', `${done.reason ?? ''}\n${JSON.stringify(done.perNode, null, 1)}`)
    for (const n of hosts.hosts) assert.equal(done.perNode[n.name]?.outcome, 'ok', n.name)

    // One at a time, the old manager's node last: the order the nodes rejoined with V2.
    const list = await anyAgent(async c => await c.request<JobEvent[]>('GET', `/v1/jobs/${id}/events`)) ?? []
    const rejoined = list.filter(e => e.kind === 'status' && /rejoined reporting/.test(e.message ?? '')).map(e => e.node ?? '')
    assert.equal(rejoined.length, HOSTS, JSON.stringify(list.map(e => [e.kind, e.node, e.message])))
    assert.equal(rejoined.at(-1), oldManager, `the manager's node went last: ${rejoined.join(', ')}`)
    const at = (node: string, re: RegExp): number => list.findIndex(e => e.node === node && e.kind === 'status' && re.test(e.message ?? ''))
    for (let i = 1; i < rejoined.length; i++) {
      const node = rejoined[i] ?? ''
      const prev = rejoined[i - 1] ?? ''
      // Each node's install started only after the previous node rejoined.
      assert.ok(at(node, /^installing agent/) > at(prev, /rejoined reporting/), `${node} started before ${prev} rejoined`)
    }

    // The role moved off the restarted manager's node, and every agent runs V2 from the new tree.
    const now = await waitFor(async () => await agreedManager(agents.values()), { timeoutMs: 60_000, message: 'a manager after the upgrade' })
    assert.notEqual(now.epoch, before.epoch, 'a new manager epoch after the manager\'s node restarted')
    const recs = await nodes()
    assert.deepEqual(recs?.map(n => [n.name, n.agentVersion]).sort(), hosts.hosts.map(x => [x.name, V2]).sort())
    for (const a of agents.values()) {
      const d = await a.client.request<AgentDiagnostics>('GET', '/v1/diagnostics')
      assert.equal(d.version, V2, a.host.name)
      const cur = await a.host.exec(['readlink', `${PREFIX}/current`])
      assert.equal(cur.stdout.trim(), `versions/${v2.tree}`, a.host.name)
      const prev = await a.host.exec(['readlink', `${PREFIX}/previous`])
      assert.equal(prev.stdout.trim(), `versions/${v1.tree}`, a.host.name)
      assert.equal(a.proc.exitCode, null, `${a.host.name}'s supervisor still runs (the agent was restarted, not stopped)`)
      // The switch filled Node's compile cache for the new tree before restarting the agent.
      const log = await a.host.exec(['sh', '-c', `cat ${PREFIX}/agent-switch/*.log`])
      assert.match(log.stdout, /compile cache filled: \//, `${a.host.name}'s switch log: ${log.stdout}${log.stderr}`)
    }

    // No acknowledged write lost.
    const stored = (await anyAgent(async c => await c.request<{ key: string, value: Record<string, string> | null }>('GET', '/v1/config/vars')))?.value ?? {}
    const missing = Object.keys(acked).filter(k => stored[k] !== acked[k])
    assert.deepEqual(missing, [], `acknowledged keys missing after the upgrade (of ${Object.keys(acked).length})`)
    assert.ok(answered > 0)
    console.log(`agent upgrade of ${HOSTS} nodes: ${seconds.toFixed(1)} s; ${writes} writes acknowledged; nodes answered ${answered} polls, ${unanswered} rounds with no agent answering, longest gap between answers ${(longestGapMs / 1000).toFixed(1)} s`)
    assert.ok(longestGapMs < 30_000, `clusterctl nodes went unanswered for ${longestGapMs} ms`)
  })

  it('refuses the downgrade back to the old release without --force', async () => {
    const r = await clusterctl(['upgrade', '--all', '--agent-release', v1.path, ...upgradeVars])
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`)
    assert.match(r.stderr, /would downgrade .*\(runs 0\.1\.1-agentup\).*pass --force to downgrade.*CLUSTERD_ERR_UPGRADE_REFUSED/)
  })
})
