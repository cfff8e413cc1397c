// clusterctl support-bundle. The collector: who is asked (the local agent, then the manager,
// the eligible, the rest by name, up to --max-agents), at most --concurrency at once, each
// within its timeout; who did not answer and why, and who was not asked, in the manifest; a
// manager that cannot be reached is recorded, not fatal; secret-named fields and the client's
// token never reach a file. The command: a real ApiServer with the diagnostics routes and a fake
// manager, the bundle unpacked by GNU tar: its layout, modes, and a grep for every secret.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { pino } from 'pino'
import { ApiClient } from '../../../cli/client.js'
import { fileTime, writeSupportBundle } from '../../../cli/commands/support-bundle.js'
import { COLLECT_DEFAULTS, agentsToAsk, collectSupportBundle, type BundleClient, type BundleFile, type BundleManifest } from '../../../cli/support-bundle.js'
import { AgentDiagnosticsSource, secretValuesInMemory } from '../../../agent/diagnostics/agent-diagnostics.js'
import { registerDiagnosticsRoutes } from '../../../agent/diagnostics/diagnostics-routes.js'
import { LogRing } from '../../../agent/diagnostics/log-ring.js'
import type { AgentConfig } from '../../../agent/config/agent-config.js'
import type { AgentDiagnostics } from '../../../protocol/diagnostics.js'
import { ClusterdError } from '../../../protocol/errors.js'
import type { Member } from '../../../protocol/members.js'
import { TOKEN } from './fixtures.js'
import { LEASE, MANAGER, NODES, startManagerFixture, testContext, type ManagerFixture } from './manager-fixture.js'
import type { NodeRecord } from '../../../protocol/nodes.js'

const run = promisify(execFile)

function member (name: string, extra: Partial<Member> = {}): Member {
  return { name, peerId: `peer-${name}`, addresses: [`/ip4/10.0.0.1/tcp/7946`], status: 'alive', incarnation: 1, labels: {}, facts: null, boot: null, managerEligible: false, lastSeen: '2026-12-06T13:00:00.000Z', ...extra }
}

function diagnosticsOf (node: string, lines: string[] = []): AgentDiagnostics {
  return {
    node, peerId: `peer-${node}`, version: '0.1.0', runtime: 'v22', pid: 1, startedAt: 'x', collectedAt: 'y', config: { nodeName: node },
    manager: null, epoch: 1, replica: { role: 'closed', revision: 0, syncedEpoch: 0 }, lease: LEASE,
    members: { total: 0, byStatus: {}, list: [], truncated: 0 },
    logs: { node, peerId: `peer-${node}`, lines: lines.map((line, i) => ({ seq: i + 1, line })), oldest: lines.length > 0 ? 1 : 0, newest: lines.length }
  }
}

describe('support bundle collector', () => {
  it('asks the manager first, then the eligible, then by name, bounded in number and concurrency; records failures, timeouts and who was not asked', async () => {
    const members = [
      member('self'), member('gone', { status: 'failed' }),
      ...['n01', 'n02', 'n03', 'n04', 'n05', 'n06', 'n07', 'n08', 'n09'].map(n => member(n, { managerEligible: n === 'n08' }))
    ]
    let inFlight = 0
    let maxInFlight = 0
    const order: string[] = []
    const client: BundleClient = {
      secretValues: () => ['tok-0123456789abcdef'],
      diagnostics: async (node?: string, options: { signal?: AbortSignal } = {}) => {
        if (node === undefined) return { ...diagnosticsOf('self'), manager: { name: 'n05', peerId: 'peer-n05', epoch: 3, since: 'x', local: false } }
        order.push(node)
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        try {
          if (node === 'n03') {
            // Never answers: only the per-agent timeout ends it.
            await new Promise((_resolve, reject) => { options.signal?.addEventListener('abort', () => { reject(new DOMException('aborted', 'AbortError')) }) })
          }
          if (node === 'n04') throw new ClusterdError('CLUSTERD_ERR_UNAVAILABLE', 'member n04 did not answer: connection refused')
          await new Promise(resolve => setImmediate(resolve))
          return diagnosticsOf(node, [JSON.stringify({ level: 30, msg: 'token tok-0123456789abcdef seen', password: 'hunter2hunter2' })])
        } finally {
          inFlight--
        }
      },
      members: async () => members,
      nodes: async () => { throw new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'no manager is elected yet') },
      events: async () => [],
      jobs: async () => [],
      jobEvents: async () => [],
      config: async () => ({ vars: { db_password: 'hunter2hunter2', ntp: '10.0.0.9' } })
    } as unknown as BundleClient
    const files: BundleFile[] = []
    const progress: string[] = []
    const manifest = await collectSupportBundle(client, async f => { files.push(f) }, { ...COLLECT_DEFAULTS, maxAgents: 7, concurrency: 2, agentTimeoutMs: 300 }, t => { progress.push(t) })

    assert.deepEqual(manifest.agents.asked, ['self', 'n05', 'n08', 'n01', 'n02', 'n03', 'n04'])
    assert.deepEqual(order, ['n05', 'n08', 'n01', 'n02', 'n03', 'n04'])
    assert.equal(maxInFlight, 2, 'at most --concurrency at once, and that many used')
    assert.deepEqual(manifest.agents.answered, ['n01', 'n02', 'n05', 'n08', 'self'])
    assert.deepEqual(manifest.agents.failed, [
      { node: 'n03', reason: 'no answer within 0.3 s' },
      { node: 'n04', reason: 'member n04 did not answer: connection refused (CLUSTERD_ERR_UNAVAILABLE)' }
    ])
    assert.deepEqual(manifest.agents.notAsked, { count: 3, names: ['n06', 'n07', 'n09'], why: 'over --max-agents 7' })
    assert.deepEqual(manifest.agents.notLive, { count: 1, members: [{ node: 'gone', status: 'failed' }] })
    assert.deepEqual(manifest.parts.find(p => p.file === 'cluster/nodes.json'), { file: 'cluster/nodes.json', ok: false, error: 'no manager is elected yet (CLUSTERD_ERR_NO_MANAGER)' })
    assert.equal(files.at(-1)?.path, 'manifest.json', 'the manifest comes last')
    const paths = files.map(f => f.path)
    for (const p of ['agents/self/diagnostics.json', 'agents/self/agent.log', 'agents/n05/agent.log', 'cluster/members.json', 'cluster/config.json', 'cluster/store-summary.json']) assert.ok(paths.includes(p), p)
    assert.ok(!paths.includes('cluster/nodes.json'))
    const all = files.map(f => f.data.toString()).join('\n')
    assert.ok(!all.includes('tok-0123456789abcdef'), 'the client token is redacted')
    assert.ok(!all.includes('hunter2hunter2'), 'secret-named fields are redacted')
    assert.match(all, /"ntp": "10\.0\.0\.9"/)
    assert.ok(progress.some(p => p === 'agents: 6 of 6 asked (2 without an answer)'), progress.join('\n'))
  })

  it('agentsToAsk leaves out the local agent and members that are not live, and names each once', () => {
    const m = [member('b'), member('a', { status: 'suspect' }), member('self'), member('x', { status: 'left' }), member('a', { peerId: 'other' })]
    assert.deepEqual(agentsToAsk(m, 'self', null, 10), { ask: ['a', 'b'], rest: [] })
    assert.deepEqual(agentsToAsk(m, 'self', 'b', 1), { ask: ['b'], rest: ['a'] })
    assert.deepEqual(agentsToAsk(m, 'self', null, 0), { ask: [], rest: ['a', 'b'] })
  })

  it('fileTime is a compact UTC stamp', () => {
    assert.equal(fileTime(new Date('2026-12-06T13:10:01.123Z')), '20261206T131001Z')
  })
})

describe('clusterctl support-bundle (real API server, bundle unpacked by tar)', () => {
  const PSK = Buffer.from('5e'.repeat(32), 'hex')
  const KEY_BODY = 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW'
  let fx: ManagerFixture
  let dir: string
  let client: ApiClient

  before(async () => {
    // A node whose vars hold the API token (an operator's slip): only the local secret files tell.
    fx = await startManagerFixture({ extraNodes: [{ ...(NODES[0] as NodeRecord), name: 'slip1', vars: { note: TOKEN } }] })
    dir = await mkdtemp(join(tmpdir(), 'support-bundle-'))
    const keyFile = join(dir, 'manager_ed25519')
    await writeFile(keyFile, `-----BEGIN OPENSSH PRIVATE KEY-----\n${KEY_BODY}\n-----END OPENSSH PRIVATE KEY-----\n`, { mode: 0o600 })
    const ring = new LogRing(() => {})
    const logger = pino({ base: { node: 'db1' } }, ring)
    // An agent that logged its own secrets by mistake: the bundle must still not hold them.
    logger.info({ psk: 'x' }, `started with ${PSK.toString('hex')} and token ${TOKEN}`)
    logger.warn(`key line ${KEY_BODY}`)
    logger.info({ node: 'web2' }, 'member joined')
    const config = { nodeName: 'db1', secretFile: join(dir, 'missing-secret'), sshKeyFile: keyFile, sshCaKeyFile: null, apiTcp: { tokenFile: fx.tokenFile, tls: null } } as unknown as AgentConfig
    const source = new AgentDiagnosticsSource({
      logs: ring,
      members: () => [member('db1', { peerId: '12D3KooWA' }), member('web2', { peerId: '12D3KooWB', status: 'suspect' })],
      manager: () => MANAGER,
      epoch: () => MANAGER.epoch,
      replicaStatus: () => ({ role: 'manager', revision: 12, syncedEpoch: 4 }),
      leaseStatus: () => LEASE,
      secretsInMemory: () => secretValuesInMemory(PSK, TOKEN)
    }, { config, peerId: '12D3KooWA', version: '0.1.0', startedAt: new Date() })
    registerDiagnosticsRoutes(fx.server, {
      source,
      // web2 answers over the (fake) stream with its own view.
      stream: { fetch: async (peerId, _addr, req) => peerId === '12D3KooWB' && req.want === 'diagnostics' ? { ok: true, value: { ok: true, diagnostics: diagnosticsOf('web2', ['{"level":30,"msg":"web2 here"}']) } } : { ok: false, reason: 'unexpected' } },
      members: () => [member('db1', { peerId: '12D3KooWA' }), member('web2', { peerId: '12D3KooWB', status: 'suspect' })],
      selfPeerId: '12D3KooWA'
    })
    // Over the socket: the client holds no token of its own.
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => {
    await fx.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('writes a 0600 tar.gz with each agent\'s view and logs, the manager\'s records and a manifest; no secret value is in it', async () => {
    const file = join(dir, 'bundle.tar.gz')
    const ctx = testContext()
    const r = await writeSupportBundle(client, { output: file }, ctx)
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    assert.ok(ctx.warnings.some(w => w.startsWith('support-bundle: agents: 1 of 1 asked')), ctx.warnings.join('\n'))
    const out = join(dir, 'x')
    await run('mkdir', [out])
    await run('tar', ['-xzf', file, '-C', out])
    const [top] = await readdir(out)
    assert.match(top ?? '', /^clusterd-support-db1-\d{8}T\d{6}Z$/)
    const root = join(out, top ?? '')
    const read = async (p: string): Promise<string> => await readFile(join(root, p), 'utf8')
    const manifest = JSON.parse(await read('manifest.json')) as BundleManifest
    assert.deepEqual(manifest.agents.answered, ['db1', 'web2'])
    assert.equal(manifest.via, 'db1')
    assert.deepEqual(manifest.parts.filter(p => !p.ok), [], 'every part collected')
    assert.deepEqual(manifest.redaction, { secretFilesRead: [join(dir, 'manager_ed25519'), fx.tokenFile], secretFilesUnreadable: [join(dir, 'missing-secret')] })
    assert.match(await read('cluster/nodes.json'), /"note": "\[REDACTED\]"/, 'the token in a node var, found by value')
    assert.deepEqual(r.manifest, manifest)
    const local = JSON.parse(await read('agents/db1/diagnostics.json')) as AgentDiagnostics
    assert.equal(local.manager?.name, MANAGER.name)
    assert.equal(local.replica.revision, 12)
    assert.match(await read('agents/db1/agent.log'), /started with \[REDACTED\] and token \[REDACTED\]/)
    assert.match(await read('agents/web2/agent.log'), /web2 here/)
    assert.match(await read('agents/db1/agent.log'), /^\{"level":30,"time":\d+,"node":"db1","node":"web2","msg":"member joined"\}$/m, 'a line is kept as written: pino\'s repeated node key survives')
    for (const f of ['cluster/members.json', 'cluster/nodes.json', 'cluster/events.json', 'cluster/jobs.json', 'cluster/config.json', 'cluster/store-summary.json']) {
      JSON.parse(await read(f))
    }
    const jobLogs = await readdir(join(root, 'cluster/job-logs'))
    assert.ok(jobLogs.length >= 1, 'the job\'s logs are in')
    assert.equal((await stat(join(root, 'agents/db1/agent.log'))).mode & 0o777, 0o600)

    // The grep: no secret value anywhere in the unpacked bundle.
    const grep = await run('grep', ['-rlF', '-e', PSK.toString('hex'), '-e', TOKEN, '-e', KEY_BODY, root]).then(g => g.stdout, (e: { code?: number, stdout?: string }) => e.code === 1 ? '' : `grep failed: ${String(e.stdout)}`)
    assert.equal(grep, '', `secrets found in: ${grep}`)
  })

  it('refuses to replace an existing file without --force, and replaces it with --force', async () => {
    const file = join(dir, 'exists.tar.gz')
    await writeFile(file, 'keep me')
    await assert.rejects(writeSupportBundle(client, { output: file }, testContext()), (err: Error & { exitCode?: number }) => err.exitCode === 2 && /exists; use --force/.test(err.message))
    assert.equal(await readFile(file, 'utf8'), 'keep me')
    await writeSupportBundle(client, { output: file, force: true }, testContext())
    assert.notEqual(await readFile(file, 'utf8').catch(() => ''), 'keep me')
    assert.deepEqual((await readdir(dir)).filter(n => n.includes('.tmp-')), [], 'no temporary file left')
  })
})
