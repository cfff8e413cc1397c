// Support bundle and logs on real hosts: three agents with the TCP API and a token, one of them
// with the token pasted into a label by mistake, one logging with --log-format pretty; a real
// commission job (ansible-runner over SSH). `clusterctl logs --node` reads another member's
// ring; `clusterctl support-bundle` through a non-manager agent writes a 0600 tar.gz that GNU
// tar unpacks into each agent's own view and logs, the members with facts, the job and its
// logs and a manifest naming who answered; `--max-agents` bounds who is asked and the manifest
// says who was not. Then the grep: no cluster secret, token or SSH private key line anywhere.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, CLUSTERCTL, NODE, agreedManager } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import type { AgentDiagnostics } from '../../protocol/diagnostics.js'
import type { JobRecord } from '../../protocol/jobs.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { Member } from '../../protocol/members.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import type { BundleManifest } from '../../cli/support-bundle.js'

const run = promisify(execFile)
/** Label-safe, so it can be pasted into a label by mistake. */
const TOKEN = 'sb-token-0123456789abcdef0123456789abcdef'
const API_PORT = 7947

describe('support bundle and logs on real hosts', () => {
  let fleet: AgentFleet
  let tokenFile: string
  const h = (i: number): TestHost => fleet.host(i)
  const agent = (i: number): AgentProcess => fleet.agent(i)
  const agreed = async (): Promise<ManagerInfo | undefined> => await agreedManager(fleet.agents)
  const clusterctl = async (via: number, args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await h(via).exec([NODE, CLUSTERCTL, '--addr', agent(via).socket, ...args], { timeoutMs: 180_000 })

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'support-bundle', prefix: 'sb', count: 3, managerKey: true, seeds: 'others' })
    tokenFile = join(fleet.dir, 'api-token')
    await writeFile(tokenFile, TOKEN + '\n', { mode: 0o600 })
    for (let i = 0; i < 3; i++) {
      await fleet.start(i, {
        // The slip: an operator pasted the API token into a label (gossiped to every member).
        ...(i === 1 ? { labels: { oops: TOKEN } } : {}),
        extraArgs: ['--api-listen', `127.0.0.1:${API_PORT}`, '--api-token-file', tokenFile, ...(i === 2 ? ['--log-format', 'pretty'] : [])]
      })
    }
    await fleet.waitForManager()
  })

  after(async () => {
    await fleet?.close()
  })

  it('--log-format pretty prints readable lines while the ring keeps JSON; clusterctl logs --node reads another member\'s ring', async () => {
    const pretty = agent(2)
    await waitFor(async () => /agent started/.test(pretty.output) ? true : undefined, { timeoutMs: 30_000, message: () => `no start line:\n${pretty.output.slice(-2000)}` })
    assert.match(pretty.output, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z INFO  ${h(2).name} agent started peerId=`, 'm'))
    assert.ok(!pretty.output.includes('{"level":'), 'no JSON line on a pretty agent\'s stdout')
    assert.match(agent(0).output, /^\{"level":30,/m, 'JSON stays the default')

    const viaOther = await clusterctl(0, ['logs', '--node', h(2).name, '-o', 'json', '--lines', '1000'])
    assert.equal(viaOther.code, 0, viaOther.stderr)
    const lines = viaOther.stdout.trim().split('\n')
    assert.ok(lines.length > 0 && lines.every(l => l.startsWith('{"level":') && l.includes(`"node":"${h(2).name}"`)), 'every line is the other member\'s, as JSON')
    const readable = await clusterctl(0, ['logs', '--lines', '5'])
    assert.equal(readable.code, 0, readable.stderr)
    assert.match(readable.stdout, new RegExp(`^\\S+Z (INFO |WARN |DEBUG|ERROR) ${h(0).name} `, 'm'))
    const unknown = await clusterctl(0, ['logs', '--node', 'nosuch'])
    assert.equal(unknown.code, 4, unknown.stderr)
    assert.match(unknown.stderr, /CLUSTERD_ERR_MEMBER_NOT_FOUND/)
  })

  it('a bundle through a non-manager agent holds every agent\'s view and logs, the job and its logs, and no secret', async (t) => {
    const m = await waitFor(agreed, { timeoutMs: 30_000, message: 'agreed manager' })
    const mi = fleet.indexOf(m.name)
    const via = mi === 0 ? 1 : 0
    const worker = [0, 1, 2].find(i => i !== mi && i !== via) as number
    await waitFor(async () => (await agent(via).client.request<NodeRecord[]>('GET', '/v1/nodes').catch(() => [])).filter(n => n.boot != null).length === 3 ? true : undefined,
      { timeoutMs: 60_000, message: 'three nodes discovered' })
    const commission = await clusterctl(via, ['commission', h(worker).name, '--role', 'worker', '--wait'])
    assert.equal(commission.code, 0, `commission failed:\n${commission.stdout}\n${commission.stderr}`)

    const file = join(fleet.dir, 'bundle.tar.gz')
    const started = Date.now()
    const made = await clusterctl(via, ['support-bundle', '-o', file])
    t.diagnostic(`support-bundle of 3 agents: ${Date.now() - started} ms (process start included)`)
    assert.equal(made.code, 0, `support-bundle failed:\n${made.stdout}\n${made.stderr}`)
    assert.match(made.stdout, /^support bundle written to .*bundle\.tar\.gz \(\d+ files, \d+ bytes; agents: 3 of 3 answered, 0 not asked, 0 not live\)\n$/)
    assert.match(made.stderr, /support-bundle: agents: 2 of 2 asked \(0 without an answer\)/, 'progress on stderr')
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    t.diagnostic(`bundle: ${(await stat(file)).size} bytes`)

    const out = join(fleet.dir, 'unpacked')
    await mkdir(out)
    await run('tar', ['-xzf', file, '-C', out])
    const [top] = await readdir(out)
    assert.match(top ?? '', new RegExp(`^clusterd-support-${h(via).name}-\\d{8}T\\d{6}Z$`))
    const root = join(out, top ?? '')
    const json = async <T>(p: string): Promise<T> => JSON.parse(await readFile(join(root, p), 'utf8')) as T

    const manifest = await json<BundleManifest>('manifest.json')
    assert.deepEqual(manifest.agents.answered, fleet.hosts.map(x => x.name).sort())
    assert.deepEqual(manifest.agents.failed, [])
    assert.equal(manifest.via, h(via).name)
    assert.deepEqual(manifest.parts.filter(p => !p.ok), [], 'every part collected')
    assert.ok(manifest.redaction.secretFilesRead.includes(tokenFile) && manifest.redaction.secretFilesRead.includes(fleet.secret), JSON.stringify(manifest.redaction))
    for (const host of fleet.hosts) {
      const d = await json<AgentDiagnostics>(`agents/${host.name}/diagnostics.json`)
      assert.equal(d.node, host.name)
      assert.equal(d.manager?.peerId, m.peerId, `${host.name} sees the manager`)
      assert.equal(d.members.total, 3, `${host.name} sees three members`)
      assert.match(d.version, /^\d+\.\d+\.\d+/)
      const log = (await readFile(join(root, `agents/${host.name}/agent.log`), 'utf8')).trim().split('\n')
      // pino's base binding comes first; an event about another node repeats the key after it.
      assert.ok(log.length > 0 && log.every(l => l.startsWith(`{"level":`) && l.includes(`"node":"${host.name}"`)), `${host.name}'s own JSON log lines:\n${log.slice(0, 5).join('\n')}`)
    }
    const members = await json<Member[]>('cluster/members.json')
    assert.equal(members.length, 3)
    assert.ok(members.every(x => x.facts !== null), 'node facts are in')
    assert.equal(members.find(x => x.name === h(1).name)?.labels.oops, '[REDACTED]', 'the token in a label is found by value and kept out')
    const jobs = await json<JobRecord[]>('cluster/jobs.json')
    const job = jobs.find(j => j.kind === 'commission' && j.nodes.includes(h(worker).name))
    assert.equal(job?.status, 'succeeded')
    const jobLog = await json<unknown[]>(`cluster/job-logs/${job?.id ?? ''}.json`)
    assert.ok(jobLog.length > 0, 'the job\'s logs are in')
    assert.ok((await json<NodeRecord[]>('cluster/nodes.json')).some(n => n.name === h(worker).name && n.state === 'commissioned'))

    // The grep: no secret value anywhere in the unpacked bundle.
    const psk = (await readFile(fleet.secret, 'utf8')).trim().split('\n')[2] ?? ''
    const keyLines = (await readFile(fleet.managerKeyFile, 'utf8')).split('\n').map(l => l.trim()).filter(l => l.length >= 12 && !l.startsWith('-----'))
    assert.equal(psk.length, 64)
    assert.ok(keyLines.length >= 3)
    for (const needle of [psk, psk.toUpperCase(), Buffer.from(psk, 'hex').toString('base64'), TOKEN, ...keyLines]) {
      const found = await run('grep', ['-rlF', '--', needle, root]).then(g => g.stdout, (e: { code?: number, stdout?: string }) => e.code === 1 ? '' : `grep failed: ${String(e.stdout)}`)
      assert.equal(found, '', `a secret (${needle.slice(0, 6)}…) is in: ${found}`)
    }

    // Bounded: --max-agents 2 asks the local agent and the manager, and says who was left out.
    const small = join(fleet.dir, 'small.tar.gz')
    const bounded = await clusterctl(via, ['support-bundle', '-o', small, '--max-agents', '2'])
    assert.equal(bounded.code, 0, bounded.stderr)
    const out2 = join(fleet.dir, 'unpacked-small')
    await mkdir(out2)
    await run('tar', ['-xzf', small, '-C', out2])
    const [top2] = await readdir(out2)
    const m2 = JSON.parse(await readFile(join(out2, top2 ?? '', 'manifest.json'), 'utf8')) as BundleManifest
    assert.deepEqual(m2.agents.asked, [h(via).name, m.name])
    assert.deepEqual(m2.agents.notAsked, { count: 1, names: [h(worker).name], why: 'over --max-agents 2' })
  })
})
