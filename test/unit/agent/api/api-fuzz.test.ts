import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { ApiServer } from '../../../../agent/api/server.js'
import { registerMemberRoutes } from '../../../../agent/api/member-routes.js'
import { JobRunner } from '../../../../manager/jobs/job-runner.js'
import { managerRoutes } from '../../../../manager/api/manager-routes.js'
import { ManagerStore } from '../../../../manager/store/index.js'
import { loadRoleConfig } from '../../../../manager/roles/role-config.js'
import { shippedPlaybookDir } from '../../../../manager/roles/shipped.js'
import type { PlaybookRunner } from '../../../../manager/ansible/playbook-runner.js'
import { MANAGER_ROUTES, type ManagerRouteName } from '../../../../protocol/api-routes.js'
import { ERROR_CODES, isErrorCode } from '../../../../protocol/errors.js'
import { MAX_JSON_DEPTH } from '../../../../protocol/json-limits.js'
import { HOSTILE_STRINGS, Prng, deeplyNested, fuzzSeed, randomJson, randomString } from '../../../harness/fuzz.js'
import { waitFor } from '../../../harness/poll.js'

const SEED = fuzzSeed(4062026)
const CASES = 3000
const TOKEN = 'fuzz-token-0123456789abcdef'

interface Reply { status: number, text: string }
interface Target { socketPath?: string, port?: number }
type Body = { kind: 'none' } | { kind: 'bytes', data: Buffer, chunked?: boolean, declared?: string }

/** One request through node:http; the connection is not reused. */
async function call (target: Target, method: string, path: string, body: Body, headers: Record<string, string> = {}): Promise<Reply> {
  const req = request({
    ...(target.socketPath !== undefined ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port }),
    method,
    path,
    agent: false,
    headers: {
      ...headers,
      ...(body.kind === 'bytes' && body.chunked !== true ? { 'content-length': body.declared ?? String(body.data.length) } : {})
    }
  })
  const response = once(req, 'response') as Promise<[import('node:http').IncomingMessage]>
  req.on('error', () => {}) // the server may refuse a big body and close while we still write
  if (body.kind === 'bytes') req.write(body.data)
  req.end()
  const [res] = await response
  let text = ''
  for await (const chunk of res) text += String(chunk)
  return { status: res.statusCode ?? 0, text }
}

/** Raw bytes on a fresh connection; resolves with everything the server sent before closing. */
async function raw (socketPath: string, data: string | Buffer, timeoutMs = 5000): Promise<string> {
  const socket = connect({ path: socketPath })
  let text = ''
  socket.on('data', chunk => { text += String(chunk) })
  socket.on('error', () => {})
  socket.write(data)
  await Promise.race([once(socket, 'close'), new Promise(resolve => setTimeout(resolve, timeoutMs))])
  socket.destroy()
  return text
}

/** Percent-encode, or keep the raw (possibly lone-surrogate) text's UTF-8 bytes escaped. */
function pct (s: string): string {
  try { return encodeURIComponent(s) } catch { return [...Buffer.from(s)].map(b => '%' + b.toString(16).padStart(2, '0')).join('') }
}

/** Every non-2xx answer is a JSON error whose registered code matches the HTTP status; never 500. */
function assertClearError (reply: Reply, where: string): void {
  if (reply.status >= 200 && reply.status < 300) return
  let body: { error?: { code?: unknown, message?: unknown } }
  try {
    body = JSON.parse(reply.text)
  } catch {
    assert.fail(`${where}: status ${reply.status} without a JSON body: ${JSON.stringify(reply.text.slice(0, 200))} (seed ${SEED})`)
  }
  const code = body.error?.code
  assert.ok(isErrorCode(code), `${where}: unregistered error code ${String(code)} (seed ${SEED})`)
  assert.equal(ERROR_CODES[code].status, reply.status, `${where}: ${code} sent with status ${reply.status} (seed ${SEED})`)
  assert.notEqual(code, 'CLUSTERD_ERR_INTERNAL', `${where}: internal error: ${String(body.error?.message)} (seed ${SEED})`)
  assert.ok(typeof body.error?.message === 'string' && body.error.message.length > 0, `${where}: no message (seed ${SEED})`)
}

const VALID_BODIES: Record<string, unknown> = {
  commission: { nodes: ['a'], roles: ['worker'], vars: { ntp_server: '10.0.0.1' } },
  decommission: { nodes: ['a'] },
  upgrade: { nodes: ['a'], vars: {} },
  verify: { nodes: ['a'] },
  reconfigure: { all: true },
  setConfigKey: { value: 'worker@zone=a' },
  cancelJob: { reason: 'x' }
}

const QUERY_KEYS = ['limit', 'after', 'status', 'node', 'follow', 'x']
const QUERY_VALUES = ['', '-1', '1e3', ' 5', '0x10', '1.5', '99999999999999999999', '5', 'running', 'a', '$(id)', '%zz', '%00', 'true', 'a&b']

describe(`the API under hostile requests (seed ${SEED}; replay with FUZZ_SEED)`, () => {
  let dir: string
  let store: ManagerStore
  let jobs: JobRunner
  let server: ApiServer
  let port: number
  const logLines: string[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterd-api-fuzz-'))
    const logger = pino({ level: 'warn' }, new Writable({ write (chunk, _enc, cb) { logLines.push(String(chunk)); cb() } }))
    store = new ManagerStore({ logger }, { path: join(dir, 'db') })
    await store.start()
    for (const n of ['a', 'b', 'web-1']) await store.upsertNode({ name: n, peerId: `peer-${n}`, reachable: true })
    const never: PlaybookRunner = { run: async () => { throw new Error('no playbook runs in the API fuzz') } } as unknown as PlaybookRunner
    jobs = new JobRunner({
      store,
      logger,
      playbooks: never,
      // Accepted jobs park in their pre-check until stopped, so they write nothing further.
      precheck: async (_t, signal) => await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }) }),
      roles: async () => await loadRoleConfig(shippedPlaybookDir()),
      target: () => ({ address: '10.0.0.1', hostKeys: [] })
    }, { epoch: 1, cluster: 'fuzz' })
    await jobs.start()
    server = new ApiServer({ logger }, { socketPath: join(dir, 'api.sock'), tcp: { host: '127.0.0.1', port: 0, token: TOKEN } })
    registerMemberRoutes(server, { members: () => [] })
    const handlers = managerRoutes({ store, jobs, members: () => [] })
    for (const [name, r] of Object.entries(MANAGER_ROUTES)) server.route(r.method, r.pattern, handlers[name as ManagerRouteName])
    await server.start()
    port = server.tcpAddress()?.port ?? 0
  })

  after(async () => {
    await server.stop()
    await jobs.stop()
    await store.stop()
    await rm(dir, { recursive: true, force: true })
  })

  /** Wait until background writes of an accepted job have settled. */
  async function quiet (): Promise<void> {
    let last = -1
    await waitFor(async () => {
      const now = store.revision
      const same = now === last
      last = now
      return same
    }, { intervalMs: 30, timeoutMs: 5000, message: 'the store to settle' })
  }

  it(`answers ${CASES} malformed, oversized, deep and random requests with clear errors and changes nothing on refusal`, async () => {
    const r = new Prng(SEED)
    const socketPath = join(dir, 'api.sock')
    const routes = Object.entries(MANAGER_ROUTES)
    const counts: Record<string, number> = {}
    for (let i = 0; i < CASES; i++) {
      const where = `case ${i}`
      const [name, route] = r.pick(routes)
      // path: a route with hostile params, a random path, or a route with a random query
      let path = route.pattern.replace(/:[a-z]+/g, () => r.chance(0.5) ? pct(randomString(r, 30)) || 'x' : r.pick(['a', 'web-1', 'nope', '%zz', '..', '%2F', 'a%00']))
      if (r.chance(0.1)) path = '/' + Array.from({ length: r.int(5) }, () => pct(randomString(r, 8))).join('/')
      if (r.chance(0.4)) {
        const q = new URLSearchParams()
        for (let k = r.int(4); k >= 0; k--) q.append(r.pick(QUERY_KEYS), r.chance(0.7) ? r.pick(QUERY_VALUES) : randomString(r, 12))
        path += '?' + q.toString()
      }
      const method = r.chance(0.85) ? route.method : r.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])
      let body: Body = { kind: 'none' }
      const b = r.int(10)
      const valid = VALID_BODIES[name]
      if (b === 0) body = { kind: 'bytes', data: Buffer.from(randomString(r, 100)) }
      else if (b === 1) body = { kind: 'bytes', data: Buffer.from([0xff, 0xfe, 0x7b, 0x22, 0xc3]) }
      else if (b === 2) body = { kind: 'bytes', data: Buffer.from(deeplyNested(MAX_JSON_DEPTH + 1 + r.int(5000), r.chance(0.5) ? 'array' : 'object')) }
      else if (b === 3 && r.chance(0.1)) body = { kind: 'bytes', data: Buffer.alloc(1024 * 1024 + 1 + r.int(1000), 0x20), chunked: r.chance(0.5) }
      else if (b === 3) body = { kind: 'bytes', data: Buffer.from('{}'), declared: String(2 * 1024 * 1024) }
      else if (b <= 5) body = { kind: 'bytes', data: Buffer.from(JSON.stringify(randomJson(r, 4))) }
      else if (b <= 8 && valid !== undefined) {
        const o = structuredClone(valid) as Record<string, unknown>
        const key = r.pick([...Object.keys(o), 'extra'])
        o[key] = r.chance(0.5) ? randomJson(r, 3) : [r.pick(HOSTILE_STRINGS)]
        body = { kind: 'bytes', data: Buffer.from(JSON.stringify(o)) }
      }
      const before = store.revision
      const reply = await call({ socketPath }, method, path, body, r.chance(0.2) ? { 'content-type': randomString(r, 20).replace(/[^\x20-\x7e]/g, '') } : {})
      assertClearError(reply, `${where} ${method} ${path.slice(0, 80)}`)
      counts[String(reply.status)] = (counts[String(reply.status)] ?? 0) + 1
      if (reply.status >= 400) {
        assert.equal(store.revision, before, `${where}: a refused request (${reply.text.slice(0, 120)}) changed the store (seed ${SEED})`)
      } else if (method !== 'GET') {
        await quiet()
      }
    }
    // The generator must reach both refusals and the handlers behind validation.
    assert.ok((counts['400'] ?? 0) > CASES / 4, JSON.stringify(counts))
    assert.ok((counts['200'] ?? 0) > 0 && (counts['404'] ?? 0) > 0, JSON.stringify(counts))
    assert.ok(!logLines.some(l => l.includes('API handler failed')), 'a handler failed with a bug')
    // still serving
    assert.equal((await call({ socketPath }, 'GET', '/v1/nodes', { kind: 'none' })).status, 200)
  })

  it('answers raw malformed HTTP (bad request line, bad headers, huge headers, bad chunking) with a JSON error', async () => {
    const socketPath = join(dir, 'api.sock')
    const cases = [
      'GARBAGE\r\n\r\n',
      'GET /v1/nodes HTTP/9.9\r\n\r\n',
      'GET /v1/nodes HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
      `GET /v1/nodes HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      'POST /v1/commission HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      'POST /v1/commission HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
      'POST /v1/commission HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}',
      'GET http://evil.example/v1/nodes HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET //evil/v1/nodes HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /v1/nodes/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n'
    ]
    for (const c of cases.map(c => c.replace('Host: x\r\n', 'Host: x\r\nConnection: close\r\n'))) {
      const text = await raw(socketPath, c)
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text)
      assert.ok(m !== null, `no HTTP answer to ${JSON.stringify(c.slice(0, 60))}: ${JSON.stringify(text.slice(0, 100))}`)
      const bodyText = text.slice(text.indexOf('\r\n\r\n') + 4)
      assertClearError({ status: Number(m[1]), text: bodyText.trim() === '' ? '' : bodyText.split('\r\n').find(l => l.startsWith('{')) ?? bodyText }, JSON.stringify(c.slice(0, 40)))
    }
  })

  it('refuses TCP requests without the right bearer token before routing or reading the body', async () => {
    const r = new Prng(SEED + 1)
    const before = store.revision
    for (let i = 0; i < 200; i++) {
      const auth = r.pick([undefined, '', 'Bearer', `Bearer ${TOKEN}x`, `bearer  ${TOKEN.slice(1)}`, `Basic ${TOKEN}`, `Bearer ${randomString(r, 30).replace(/[^\x21-\x7e]/g, 'a')}`, `Bearer ${TOKEN} ${TOKEN}`])
      const reply = await call({ port }, 'PUT', '/v1/config/on-return', { kind: 'bytes', data: Buffer.from('{"value":"none"}') }, auth === undefined ? {} : { authorization: auth })
      assert.equal(reply.status, 401, `authorization ${JSON.stringify(auth)} got ${reply.status}`)
      assertClearError(reply, `auth ${JSON.stringify(auth)}`)
    }
    assert.equal(store.revision, before)
    assert.equal(await store.getConfig('on-return'), undefined)
    const ok = await call({ port }, 'PUT', '/v1/config/on-return', { kind: 'bytes', data: Buffer.from('{"value":"none"}') }, { authorization: `Bearer ${TOKEN}` })
    assert.equal(ok.status, 200)
  })

  it('takes integer queries as digits only', async () => {
    const socketPath = join(dir, 'api.sock')
    for (const v of ['', '-1', '1e3', ' 5', '0x10', '1.5', '+5', '5 ', '99999999999999999999']) {
      const reply = await call({ socketPath }, 'GET', `/v1/events?limit=${encodeURIComponent(v)}`, { kind: 'none' })
      assert.equal(reply.status, 400, `limit=${JSON.stringify(v)}`)
      assert.match(reply.text, /digits only/)
    }
    assert.equal((await call({ socketPath }, 'GET', '/v1/events?limit=5', { kind: 'none' })).status, 200)
  })

  it(`refuses a body nested ${MAX_JSON_DEPTH + 1} deep and takes one ${MAX_JSON_DEPTH} deep to the handler`, async () => {
    const socketPath = join(dir, 'api.sock')
    const deep = await call({ socketPath }, 'PUT', '/v1/config/vars', { kind: 'bytes', data: Buffer.from(`{"value":${deeplyNested(MAX_JSON_DEPTH)}}`) })
    assert.equal(deep.status, 400)
    assert.match(deep.text, /nests deeper than 32/)
    const ok = await call({ socketPath }, 'PUT', '/v1/config/vars', { kind: 'bytes', data: Buffer.from(`{"value":${deeplyNested(MAX_JSON_DEPTH - 1)}}`) })
    assert.equal(ok.status, 400)
    assert.match(ok.text, /config vars/) // reached the handler's own validation
  })
})

describe('the API under slow clients', () => {
  let dir: string
  let server: ApiServer

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterd-api-slow-'))
    server = new ApiServer({ logger: pino({ level: 'silent' }) }, { socketPath: join(dir, 'api.sock'), requestTimeoutMs: 1500 })
    server.route('POST', '/v1/echo', async ({ body }) => ({ got: body }))
    server.route('GET', '/v1/ping', async () => ({ ok: true }))
    await server.start()
  })

  after(async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('times out a client that never finishes its body (or headers) with 408 while serving others', async () => {
    const socketPath = join(dir, 'api.sock')
    const started = Date.now()
    // 20 slowloris connections: a body that never completes, and headers that never end
    const slow = Array.from({ length: 20 }, async (_, i) => await raw(socketPath, i % 2 === 0
      ? 'POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":'
      : 'GET /v1/ping HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n', 10_000))
    // Meanwhile the server answers everyone else at once.
    for (let i = 0; i < 20; i++) {
      const t = Date.now()
      const reply = await call({ socketPath }, 'GET', '/v1/ping', { kind: 'none' })
      assert.equal(reply.status, 200)
      assert.ok(Date.now() - t < 1000, 'a normal request waited behind the slow ones')
    }
    const answers = await Promise.all(slow)
    const elapsed = Date.now() - started
    assert.ok(elapsed < 5000, `slow clients were held for ${elapsed} ms`)
    for (const text of answers) {
      assert.match(text, /^HTTP\/1\.1 408 /, JSON.stringify(text.slice(0, 80)))
      assert.match(text, /CLUSTERD_ERR_REQUEST_TIMEOUT/)
    }
  })
})
