// Hostile input against real agents on real hosts: a peer without the cluster secret never
// joins; the API needs the root-only socket or the bearer token (over TLS); hundreds of malformed requests
// get clear errors and change nothing; shell and Jinja payloads in names, labels and variables
// run nothing anywhere (canary files); and a full disk under the manager's store refuses the
// write with CLUSTERD_ERR_STORE_FULL, keeps serving reads and loses nothing acknowledged.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { stat, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { TestHosts, type TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, CLUSTERD, NODE, PORT, makeManagerKey, makeSecret, saveAgentLogs, startAgentOn, testDir } from '../harness/agent-process.js'
import { makeCa, makeServerCert } from '../harness/tls-certs.js'
import { HOSTILE_STRINGS, Prng, deeplyNested, fuzzSeed, randomJson, randomString } from '../harness/fuzz.js'
import { ERROR_CODES, isErrorCode } from '../../protocol/errors.js'
import { MANAGER_ROUTES } from '../../protocol/api-routes.js'
import type { JobRecord } from '../../protocol/jobs.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import type { ReplicaStatus } from '../../protocol/replication-wire.js'

const SEED = fuzzSeed(7122026)
const API_PORT = 7947
const TOKEN = 'hostile-test-token-0123456789'

interface Reply { status: number, text: string }

/** One request on the agent's unix socket (a fresh connection each time). */
async function call (socketPath: string, method: string, path: string, body?: Buffer): Promise<Reply> {
  const req = request({ socketPath, method, path, agent: false, headers: body === undefined ? {} : { 'content-length': String(body.length) } })
  const response = once(req, 'response') as Promise<[import('node:http').IncomingMessage]>
  req.on('error', () => {})
  req.end(body)
  const [res] = await response
  let text = ''
  for await (const chunk of res) text += String(chunk)
  return { status: res.statusCode ?? 0, text }
}

function assertClearError (reply: Reply, where: string): void {
  if (reply.status < 400) return
  let code: unknown
  try { code = (JSON.parse(reply.text) as { error?: { code?: unknown } }).error?.code } catch {}
  assert.ok(isErrorCode(code), `${where}: status ${reply.status} without a registered error code: ${reply.text.slice(0, 200)} (seed ${SEED})`)
  assert.equal(ERROR_CODES[code].status, reply.status, `${where}: ${String(code)} with status ${reply.status}`)
  assert.notEqual(code, 'CLUSTERD_ERR_INTERNAL', `${where}: ${reply.text.slice(0, 200)} (seed ${SEED})`)
}

const pct = (s: string): string => { try { return encodeURIComponent(s) } catch { return '%ff' } }

describe('hostile input on real hosts', () => {
  let hosts: TestHosts
  let dir: string
  let secret: string
  let sshKey: string
  let tokenFile: string
  let caCert: string
  const agents: AgentProcess[] = []
  const h = (i: number): TestHost => hosts.hosts[i - 1] as TestHost
  let a1: AgentProcess

  before(async () => {
    hosts = await TestHosts.create({ count: 3, prefix: 'hs' })
    dir = await testDir('it-hostile')
    secret = await makeSecret(dir)
    sshKey = await makeManagerKey(dir, hosts.hosts)
    tokenFile = join(dir, 'api-token')
    await writeFile(tokenFile, TOKEN + '\n', { mode: 0o600 })
    // Off loopback the TCP API is served over TLS only (README.md, "Trust model").
    const ca = await makeCa(dir, 'api-ca')
    caCert = ca.cert
    const tls = await makeServerCert(dir, 'api-h1', ca, `IP:${h(1).address}`)
    a1 = await startAgentOn(h(1), {
      secretFile: secret,
      socketDir: join(dir, 'sock'),
      sshKeyFile: sshKey,
      extraArgs: ['--api-listen', `${h(1).address}:${API_PORT}`, '--api-token-file', tokenFile, '--api-tls-cert', tls.cert, '--api-tls-key', tls.key]
    })
    agents.push(a1)
    await waitFor(async () => (await a1.manager())?.local === true ? true : undefined, {
      timeoutMs: 60_000,
      message: () => `h1 manager (agent exit ${String(a1.proc.exitCode)}): ${a1.output.slice(-2000)}`
    })
    agents.push(await startAgentOn(h(2), { secretFile: secret, socketDir: join(dir, 'sock'), join: [`${h(1).address}:${PORT}`], eligible: false, sshKeyFile: sshKey }))
    await waitFor(async () => (await a1.client.request<NodeRecord[]>('GET', '/v1/nodes')).length === 2 ? true : undefined, { timeoutMs: 60_000, message: 'two nodes discovered' })
  })

  after(async () => {
    await saveAgentLogs('hostile', agents).catch(() => {})
    await Promise.allSettled(agents.map(async a => await a.stop('SIGKILL')))
    await hosts?.destroy()
    await rm(dir, { recursive: true, force: true })
  })

  it('a peer without the cluster secret (or with another one) never becomes a member', async () => {
    const wrong = await makeSecret(dir, 'wrong-secret')
    const stranger = await startAgentOn(h(3), { secretFile: wrong, socketDir: join(dir, 'sock-stranger'), join: [`${h(1).address}:${PORT}`, `${h(2).address}:${PORT}`] })
    agents.push(stranger)
    try {
      await waitFor(async () => (await stranger.members())?.length === 1 ? true : undefined, { timeoutMs: 30_000, message: 'the stranger runs' })
      // For 10 s of its redial loop (every 500 ms), nobody sees it and it sees nobody.
      const deadline = Date.now() + 10_000
      while (Date.now() < deadline) {
        assert.deepEqual((await a1.members())?.map(m => m.name).sort(), [h(1).name, h(2).name])
        assert.deepEqual((await stranger.members())?.map(m => m.name), [h(3).name])
        await new Promise(resolve => setTimeout(resolve, 500))
      }
      assert.equal(stranger.proc.exitCode, null, 'the stranger agent keeps running')
      assert.equal(a1.proc.exitCode, null, 'the member agent keeps running')
    } finally {
      await stranger.stop()
    }
  })

  it('the API socket is 0600 root-only; the TCP listener refuses without the bearer token', async () => {
    const s = await stat(a1.socket)
    assert.ok(s.isSocket())
    assert.equal(s.mode & 0o777, 0o600)
    assert.equal(s.uid, 0)
    // From another host, over the network (TLS, verified against the CA): no token, wrong token, right token.
    const script = `
      const https = require('node:https')
      const ca = require('node:fs').readFileSync(${JSON.stringify(caCert)})
      const get = (auth) => new Promise(resolve => {
        const req = https.request({ host: ${JSON.stringify(h(1).address)}, port: ${API_PORT}, path: '/v1/config', ca, headers: auth ? { authorization: auth } : {} }, res => {
          let body = ''; res.on('data', d => { body += d }); res.on('end', () => resolve(res.statusCode + ' ' + body.trim()))
        })
        req.on('error', err => resolve('error ' + err.message)); req.end()
      })
      ;(async () => { for (const a of [null, 'Bearer nope', 'Bearer ${TOKEN}x', 'Basic ${TOKEN}', 'Bearer ${TOKEN}']) console.log(await get(a)) })()`
    const r = await h(2).exec([NODE, '-e', script], { timeoutMs: 20_000 })
    const lines = r.stdout.trim().split('\n')
    assert.equal(lines.length, 5, r.stdout + r.stderr)
    for (const line of lines.slice(0, 4)) assert.match(line, /^401 .*CLUSTERD_ERR_UNAUTHORIZED/)
    assert.match(lines[4] ?? '', /^200 /)
  })

  it(`a running agent answers hundreds of malformed requests with clear errors, stays up and changes nothing (seed ${SEED})`, async () => {
    const snapshot = async (): Promise<string> => JSON.stringify([
      await a1.client.request('GET', '/v1/config'),
      (await a1.client.request<NodeRecord[]>('GET', '/v1/nodes')).map(n => [n.name, n.state, n.roles, n.vars]),
      (await a1.client.request<JobRecord[]>('GET', '/v1/jobs')).map(j => j.id)
    ])
    const before = await snapshot()
    const r = new Prng(SEED)
    const routes = Object.values(MANAGER_ROUTES)
    let refused = 0
    for (let i = 0; i < 400; i++) {
      const route = r.pick(routes)
      let path = route.pattern.replace(/:[a-z]+/g, () => pct(randomString(r, 20)) || 'x')
      if (r.chance(0.3)) path += `?limit=${pct(r.pick(['-1', '1e3', ' 5', '0x10', '', 'x']))}&after=${pct(r.pick(HOSTILE_STRINGS))}`
      const kind = r.int(5)
      const body = kind === 0
        ? undefined
        : kind === 1
          ? Buffer.from(deeplyNested(33 + r.int(3000), r.chance(0.5) ? 'array' : 'object'))
          : kind === 2
            ? Buffer.from([0xff, 0x7b, 0xc3, 0x28])
            : kind === 3
              ? Buffer.from(JSON.stringify({ nodes: [r.pick(HOSTILE_STRINGS)], roles: [r.pick(HOSTILE_STRINGS)], value: r.pick(HOSTILE_STRINGS), vars: { [randomString(r, 8)]: randomJson(r, 2) } }))
              : Buffer.from(randomString(r, 200))
      const method = r.chance(0.9) ? route.method : r.pick(['DELETE', 'PATCH', 'PUT'])
      const reply = await call(a1.socket, method, path, body)
      assertClearError(reply, `case ${i} ${method} ${path.slice(0, 60)}`)
      // Only a read may pass (a GET ignores a well-formed body; the generator makes no valid write).
      if (reply.status < 400) assert.equal(method, 'GET', `case ${i}: accepted ${method} ${path}: ${reply.text.slice(0, 200)}`)
      else refused++
    }
    assert.ok(refused > 300, `only ${refused} of 400 refused`)
    assert.equal(a1.proc.exitCode, null, 'the agent is still running')
    assert.equal(await snapshot(), before, 'refused requests changed the manager state')
  })

  it('shell and Jinja payloads in names, labels and variables run nothing on the manager or the node', async () => {
    const canary = '/tmp/clusterd-hostile-canary'
    // Names and labels: the agent refuses to start with them (exit 2), before touching anything.
    for (const args of [
      ['--node-name', `$(touch ${canary})`], ['--node-name', `a;touch ${canary}`], ['--node-name', `\`touch ${canary}\``],
      ['--label', `zone=$(touch ${canary})`], ['--label', `$(touch ${canary})=a`], ['--label', `zone=a\ntouch ${canary}`]
    ]) {
      const r = await h(3).exec([NODE, CLUSTERD, 'agent', '--data-dir', '/var/lib/clusterd-hostile', '--secret-file', secret, '--api-socket', '/tmp/hostile.sock', ...args], { timeoutMs: 20_000 })
      assert.equal(r.code, 2, `${JSON.stringify(args)}: exit ${String(r.code)} ${r.stderr}`)
      assert.match(r.stderr, /^clusterd: --(node-name|label): /)
    }
    // Variables are data: a Jinja lookup and a command substitution in storage_path reach the
    // playbook's own validation literally, which fails the job; nothing is evaluated.
    const payload = `{{ lookup('pipe', 'touch ${canary}') }}$(touch ${canary})\`touch ${canary}\``
    const job = await a1.client.request<JobRecord>('POST', '/v1/commission', { nodes: [h(2).name], roles: ['storage'], vars: { storage_path: payload } })
    const done = await waitFor(async () => {
      const j = await a1.client.request<JobRecord>('GET', `/v1/jobs/${job.id}`)
      return j.finishedAt !== null ? j : undefined
    }, { timeoutMs: 180_000, message: 'the hostile commission job to finish' })
    assert.equal(done.status, 'failed', JSON.stringify(done))
    const message = done.perNode[h(2).name]?.message ?? ''
    assert.ok(message.includes("lookup('pipe'") && message.includes('$(touch'), `the payload reached the playbook literally: ${message}`)
    for (const host of [h(1), h(2)]) {
      const r = await host.exec(['test', '-e', canary])
      assert.notEqual(r.code, 0, `${canary} appeared on ${host.name}`)
    }
    // A refused API body with a hostile node name changes nothing either.
    const refused = await call(a1.socket, 'POST', '/v1/decommission', Buffer.from(JSON.stringify({ nodes: [`$(touch ${canary})`] })))
    assert.equal(refused.status, 400)
  })

  it('a full disk under the manager store refuses writes with CLUSTERD_ERR_STORE_FULL, keeps reads and loses nothing acknowledged', async () => {
    // A lone agent (its own cluster) whose data dir is a 2 MiB tmpfs in host 3's mount namespace.
    const lone = await makeSecret(dir, 'lone-secret')
    const mnt = await h(3).exec(['sh', '-c', 'mkdir -p /var/lib/clusterd && mount -t tmpfs -o size=2m tmpfs /var/lib/clusterd'])
    assert.equal(mnt.code, 0, mnt.stderr)
    const start = async (): Promise<AgentProcess> => {
      const a = await startAgentOn(h(3), { secretFile: lone, socketDir: join(dir, 'sock-lone') })
      agents.push(a)
      await waitFor(async () => (await a.manager())?.local === true ? true : undefined, { timeoutMs: 60_000, message: 'the lone agent is manager' })
      await waitFor(async () => { try { await a.client.request('GET', '/v1/config'); return true } catch { return undefined } }, { timeoutMs: 30_000, message: 'the manager role serves' })
      return a
    }
    let lone3 = await start()
    await lone3.client.request('PUT', '/v1/config/job-timeout', { value: '1234' })
    await lone3.client.request('PUT', '/v1/config/on-return', { value: 'none' })
    // Fill the disk (dd stops at ENOSPC), then write until the store's last page is full too.
    await h(3).exec(['dd', 'if=/dev/zero', 'of=/var/lib/clusterd/fill', 'bs=4k'])
    let lastAcked = -1
    let full: Reply | null = null
    for (let i = 0; i < 500 && full === null; i++) {
      const reply = await call(lone3.socket, 'PUT', '/v1/config/vars', Buffer.from(JSON.stringify({ value: { filler: `${i}-${'x'.repeat(3000)}` } })))
      if (reply.status === 200) lastAcked = i
      else full = reply
    }
    assert.ok(full !== null, 'no write failed on a full disk')
    assert.equal(full.status, 507, full.text)
    assert.match(full.text, /CLUSTERD_ERR_STORE_FULL/)
    assert.match(full.text, /disk full/)
    const acked = lastAcked < 0 ? undefined : `${lastAcked}-${'x'.repeat(3000)}`
    // Later writes are refused the same way; reads go on and show only acknowledged state.
    const again = await call(lone3.socket, 'PUT', '/v1/config/max-parallel-jobs', Buffer.from(JSON.stringify({ value: '3' })))
    assert.equal(again.status, 507, again.text)
    const config = await lone3.client.request<Record<string, unknown>>('GET', '/v1/config')
    assert.equal(config['job-timeout'], 1234)
    assert.equal(config['max-parallel-jobs'], undefined)
    assert.equal((config.vars as Record<string, string> | undefined)?.filler, acked, 'reads show the last acknowledged write')
    assert.equal(lone3.proc.exitCode, null, 'the agent keeps running')
    // Free space and restart (the recovery the error names): everything acknowledged is there.
    await h(3).exec(['rm', '-f', '/var/lib/clusterd/fill'])
    assert.equal(await lone3.stop(), 0)
    lone3 = await start()
    const after = await lone3.client.request<Record<string, unknown>>('GET', '/v1/config')
    assert.equal(after['job-timeout'], 1234)
    assert.equal(after['on-return'], 'none')
    assert.equal((after.vars as Record<string, string> | undefined)?.filler, acked, 'the last acknowledged write survived')
    await lone3.client.request('PUT', '/v1/config/max-parallel-jobs', { value: '3' })
    assert.equal((await lone3.client.request<Record<string, unknown>>('GET', '/v1/config'))['max-parallel-jobs'], 3)
    await lone3.stop()
  })

  it('a corrupt replica store is moved aside and refilled from the manager; a lone corrupt node refuses the manager role until store recover --accept-empty', async () => {
    await h(3).exec(['umount', '/var/lib/clusterd'])
    const replicaStatus = async (a: AgentProcess): Promise<ReplicaStatus | undefined> => {
      try { return await a.client.request<ReplicaStatus>('GET', '/v1/replica') } catch { return undefined }
    }
    const managerRevision = async (): Promise<number> => (await a1.client.request<ReplicaStatus>('GET', '/v1/replica')).revision
    const startReplica = async (): Promise<AgentProcess> => {
      const a = await startAgentOn(h(3), { secretFile: secret, socketDir: join(dir, 'sock-replica'), join: [`${h(1).address}:${PORT}`], sshKeyFile: sshKey })
      agents.push(a)
      return a
    }
    const synced = async (a: AgentProcess): Promise<ReplicaStatus | undefined> => {
      const st = await replicaStatus(a)
      return st !== undefined && st.role === 'replica' && st.syncedEpoch > 0 && st.awaitingSnapshot === undefined && st.revision === await managerRevision() ? st : undefined
    }
    let r3 = await startReplica()
    await waitFor(async () => await synced(r3), { timeoutMs: 60_000, message: 'h3 holds a synced replica' })
    await a1.client.request('PUT', '/v1/config/job-timeout', { value: '4321' })
    await waitFor(async () => await synced(r3), { timeoutMs: 30_000, message: 'h3 took the write' })
    const corrupt = async (): Promise<void> => {
      const r = await h(3).exec(['sh', '-c', 'echo MANIFEST-999999 > /var/lib/clusterd/manager/CURRENT'])
      assert.equal(r.code, 0, r.stderr)
    }

    // Damage the replica's store while its agent is down, then start it again.
    assert.equal(await r3.stop(), 0)
    await corrupt()
    r3 = await startReplica()
    await waitFor(async () => /manager store is damaged: moved it aside/.test(r3.output) ? true : undefined, { timeoutMs: 30_000, message: 'the agent reports the damage' })
    const listing = await h(3).exec(['ls', '/var/lib/clusterd'])
    assert.match(listing.stdout, /manager\.damaged-/)
    // The manager's snapshot refills it; the marker goes away.
    await waitFor(async () => await synced(r3), { timeoutMs: 60_000, message: 'the damaged replica is refilled from the manager' })
    assert.doesNotMatch((await h(3).exec(['ls', '/var/lib/clusterd'])).stdout, /awaiting-snapshot/)
    assert.equal((await a1.manager())?.name, h(1).name, 'the manager did not change')

    // A lone node with a damaged store: no replica anywhere, so it must not become manager.
    assert.equal(await r3.stop(), 0)
    await corrupt()
    const lone = await makeSecret(dir, 'lone-secret-2')
    const startLone = async (): Promise<AgentProcess> => {
      const a = await startAgentOn(h(3), { secretFile: lone, socketDir: join(dir, 'sock-lone2') })
      agents.push(a)
      return a
    }
    let l3 = await startLone()
    await waitFor(async () => (await replicaStatus(l3))?.awaitingSnapshot === true ? true : undefined, { timeoutMs: 30_000, message: 'the lone store awaits a snapshot' })
    // Well past the 3 s settle time: still no manager, and the API says why it waits.
    const until = Date.now() + 8000
    while (Date.now() < until) {
      assert.equal(await l3.manager(), null, 'a node whose store awaits a snapshot became manager')
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    assert.equal(await l3.stop(), 0)
    const recover = await h(3).exec([NODE, CLUSTERD, 'store', 'recover', '--data-dir', '/var/lib/clusterd', '--accept-empty'], { timeoutMs: 30_000 })
    assert.equal(recover.code, 0, recover.stderr)
    assert.match(recover.stdout, /no longer awaits a snapshot/)
    l3 = await startLone()
    await waitFor(async () => (await l3.manager())?.local === true ? true : undefined, { timeoutMs: 60_000, message: 'the lone node becomes manager after --accept-empty' })
    assert.equal((await replicaStatus(l3))?.awaitingSnapshot, undefined)
    await l3.stop()
  })
})
