import { once } from 'node:events'
import { link, lstat, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { createServer as createNetServer, type Server as NetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino, type Logger } from 'pino'
import { ClusterdError } from '../../../../protocol/errors.js'
import { ApiServer } from '../../../../agent/api/server.js'
import { ApiReply } from '../../../../protocol/api-handler.js'

const TOKEN = 'test-token-0123456789abcdef'

interface Reply { status: number, headers: Record<string, string | string[] | undefined>, text: string }
interface Target { socketPath?: string, port?: number }

/** One HTTP request; `declaredLength` sends a Content-Length without a matching body. */
async function call (target: Target, method: string, path: string, opts: { body?: string, headers?: Record<string, string>, chunks?: Buffer[] } = {}): Promise<Reply> {
  const req = request({
    ...(target.socketPath !== undefined ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port }),
    method,
    path,
    headers: opts.headers,
    agent: false
  })
  const response = once(req, 'response') as Promise<[import('node:http').IncomingMessage]>
  // A server that refuses a large body closes the connection: ignore our own write errors.
  req.on('error', () => {})
  if (opts.chunks !== undefined) {
    for (const chunk of opts.chunks) {
      if (!req.write(chunk)) await Promise.race([once(req, 'drain'), response])
    }
  }
  req.end(opts.body)
  const [res] = await response
  let text = ''
  for await (const chunk of res) text += String(chunk)
  return { status: res.statusCode ?? 0, headers: res.headers, text }
}

function capturingLogger (): { logger: Logger, lines: () => Array<Record<string, unknown>> } {
  const out: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { out.push(String(chunk)); cb() } })
  return { logger: pino({ level: 'debug' }, stream), lines: () => out.map(l => JSON.parse(l) as Record<string, unknown>) }
}

async function pollUntil (what: string, check: () => boolean | Promise<boolean>, deadlineMs = 5000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

describe('ApiServer', () => {
  let dir: string
  let socketPath: string
  let server: ApiServer
  let log: ReturnType<typeof capturingLogger>
  let port: number
  let streamSawAbort = false

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterd-api-'))
    socketPath = join(dir, 'run', 'clusterd', 'api.sock')
    log = capturingLogger()
    server = new ApiServer({ logger: log.logger }, { socketPath, tcp: { host: '127.0.0.1', port: 0, token: TOKEN } })
    server.route('GET', '/v1/nodes/:name', async ({ params, query }) => ({ name: params.name, query }))
    server.route('GET', '/v1/nodes/special', async () => ({ special: true }))
    server.route('POST', '/v1/echo', async ({ body }) => new ApiReply(202, { got: body }))
    server.route('DELETE', '/v1/echo', async () => undefined)
    server.route('GET', '/v1/missing-node', async () => { throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', 'no node called x') })
    server.route('GET', '/v1/bug', async () => { throw new Error('secret internal detail') })
    server.route('GET', '/v1/stream', async () => (async function * () {
      yield { n: 1 }
      yield { n: 2 }
      yield { n: 3 }
    })())
    server.route('GET', '/v1/stream-fails', async () => (async function * () {
      yield { n: 1 }
      throw new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'manager went away')
    })())
    await server.start()
    port = server.tcpAddress()?.port ?? 0
  })
  after(async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('creates the socket with mode 0600 in a new 0700 directory', async () => {
    assert.equal(server.status, 'started')
    const sock = await lstat(socketPath)
    assert.ok(sock.isSocket())
    assert.equal(sock.mode & 0o777, 0o600)
    assert.equal((await stat(join(dir, 'run', 'clusterd'))).mode & 0o777, 0o700)
    assert.equal((await stat(join(dir, 'run'))).mode & 0o777, 0o700)
  })

  it('routes with decoded path params and query over the unix socket without a token', async () => {
    const res = await call({ socketPath }, 'GET', '/v1/nodes/web%201?verbose=1&x=a&x=b')
    assert.equal(res.status, 200)
    assert.match(String(res.headers['content-type']), /^application\/json/)
    assert.deepEqual(JSON.parse(res.text), { name: 'web 1', query: { verbose: '1', x: 'b' } })
  })

  it('prefers a literal segment over a parameter', async () => {
    assert.deepEqual(JSON.parse((await call({ socketPath }, 'GET', '/v1/nodes/special')).text), { special: true })
  })

  it('parses a JSON body and honours an explicit status; undefined answers 204', async () => {
    const res = await call({ socketPath }, 'POST', '/v1/echo', { body: '{"a":[1,2]}', headers: { 'content-type': 'application/json' } })
    assert.equal(res.status, 202)
    assert.deepEqual(JSON.parse(res.text), { got: { a: [1, 2] } })
    const empty = await call({ socketPath }, 'DELETE', '/v1/echo')
    assert.equal(empty.status, 204)
    assert.equal(empty.text, '')
  })

  it('answers an unknown route with 404 CLUSTERD_ERR_NOT_FOUND', async () => {
    const res = await call({ socketPath }, 'GET', '/v1/nope')
    assert.equal(res.status, 404)
    assert.equal(JSON.parse(res.text).error.code, 'CLUSTERD_ERR_NOT_FOUND')
  })

  it('rejects a request target that is not an absolute path', async () => {
    for (const target of ['//v1/nodes/x', 'http://[bad/v1/nodes/x', '*']) {
      const res = await call({ socketPath }, 'GET', target)
      assert.equal(res.status, 400, target)
      assert.equal(JSON.parse(res.text).error.code, 'CLUSTERD_ERR_INVALID_ARGUMENT')
    }
  })

  it('answers a wrong method with 405 and an Allow header', async () => {
    const res = await call({ socketPath }, 'PUT', '/v1/echo')
    assert.equal(res.status, 405)
    assert.equal(res.headers.allow, 'DELETE, POST')
    assert.equal(JSON.parse(res.text).error.code, 'CLUSTERD_ERR_METHOD_NOT_ALLOWED')
  })

  it('sends a ClusterdError with its status, code and message', async () => {
    const res = await call({ socketPath }, 'GET', '/v1/missing-node')
    assert.equal(res.status, 404)
    assert.deepEqual(JSON.parse(res.text), { error: { code: 'CLUSTERD_ERR_NODE_NOT_FOUND', message: 'no node called x' } })
  })

  it('hides other errors behind 500 CLUSTERD_ERR_INTERNAL and logs them', async () => {
    const res = await call({ socketPath }, 'GET', '/v1/bug')
    assert.equal(res.status, 500)
    const body = JSON.parse(res.text)
    assert.equal(body.error.code, 'CLUSTERD_ERR_INTERNAL')
    assert.ok(!res.text.includes('secret internal detail'))
    assert.ok(log.lines().some(l => l.level === 50 && JSON.stringify(l.err).includes('secret internal detail')))
  })

  it('rejects malformed JSON with 400 CLUSTERD_ERR_INVALID_ARGUMENT', async () => {
    const res = await call({ socketPath }, 'POST', '/v1/echo', { body: '{"a":', headers: { 'content-type': 'application/json' } })
    assert.equal(res.status, 400)
    assert.equal(JSON.parse(res.text).error.code, 'CLUSTERD_ERR_INVALID_ARGUMENT')
  })

  it('refuses a body over 1 MiB with 413, by declared length and by counting', async () => {
    const declared = await call({ socketPath }, 'POST', '/v1/echo', { headers: { 'content-length': String(1024 * 1024 + 1) } })
    assert.equal(declared.status, 413)
    assert.equal(JSON.parse(declared.text).error.code, 'CLUSTERD_ERR_PAYLOAD_TOO_LARGE')
    // Chunked: no Content-Length, so the server has to count.
    const chunks = Array.from({ length: 20 }, () => Buffer.alloc(64 * 1024, 0x20))
    const counted = await call({ socketPath }, 'POST', '/v1/echo', { chunks, headers: { 'transfer-encoding': 'chunked' } })
    assert.equal(counted.status, 413)
    assert.equal(JSON.parse(counted.text).error.code, 'CLUSTERD_ERR_PAYLOAD_TOO_LARGE')
    // Exactly at the limit is fine (spaces around a JSON number).
    const limit = Buffer.alloc(1024 * 1024, 0x20)
    limit[0] = 0x31
    const exact = await call({ socketPath }, 'POST', '/v1/echo', { body: limit.toString() })
    assert.equal(exact.status, 202)
  })

  it('requires the bearer token on TCP and compares it exactly', async () => {
    assert.ok(port > 0)
    const none = await call({ port }, 'GET', '/v1/nodes/a')
    assert.equal(none.status, 401)
    assert.equal(none.headers['www-authenticate'], 'Bearer')
    assert.equal(JSON.parse(none.text).error.code, 'CLUSTERD_ERR_UNAUTHORIZED')
    for (const header of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, 'Bearer ']) {
      assert.equal((await call({ port }, 'GET', '/v1/nodes/a', { headers: { authorization: header } })).status, 401, header)
    }
    // Unauthorized requests learn nothing about routes.
    assert.equal((await call({ port }, 'GET', '/v1/nope')).status, 401)
    const ok = await call({ port }, 'GET', '/v1/nodes/a', { headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(ok.status, 200)
    assert.equal(JSON.parse(ok.text).name, 'a')
  })

  it('streams an async iterable as NDJSON', async () => {
    const res = await call({ socketPath }, 'GET', '/v1/stream')
    assert.equal(res.status, 200)
    assert.equal(res.headers['content-type'], 'application/x-ndjson')
    assert.deepEqual(res.text.trimEnd().split('\n').map(l => JSON.parse(l)), [{ n: 1 }, { n: 2 }, { n: 3 }])
  })

  it('ends a failing stream with an error line', async () => {
    const res = await call({ socketPath }, 'GET', '/v1/stream-fails')
    assert.deepEqual(res.text.trimEnd().split('\n').map(l => JSON.parse(l)), [
      { n: 1 },
      { error: { code: 'CLUSTERD_ERR_NO_MANAGER', message: 'manager went away' } }
    ])
  })

  it('refuses to start on a socket another process listens on, and leaves it alone', async () => {
    const other = new ApiServer({ logger: log.logger }, { socketPath })
    await assert.rejects(other.start(), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_ADDRESS_IN_USE')
    assert.equal(other.status, 'stopped')
    assert.equal((await call({ socketPath }, 'GET', '/v1/nodes/still-here')).status, 200)
  })

  it('refuses to remove a path that is not a socket', async () => {
    const path = join(dir, 'plain-file')
    await writeFile(path, 'keep me')
    const other = new ApiServer({ logger: log.logger }, { socketPath: path })
    await assert.rejects(other.start(), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_INVALID_CONFIG' && err.message.includes('not a socket'))
    assert.equal(await readFile(path, 'utf8'), 'keep me')
  })

  it('replaces a stale socket file nobody listens on', async () => {
    // A hard link to a live socket survives the server's close: a genuine stale socket file.
    const livePath = join(dir, 'live.sock')
    const stalePath = join(dir, 'stale.sock')
    const net: NetServer = createNetServer()
    net.listen(livePath)
    await once(net, 'listening')
    await link(livePath, stalePath)
    net.close()
    await once(net, 'close')
    assert.ok((await lstat(stalePath)).isSocket())
    const fresh = new ApiServer({ logger: log.logger }, { socketPath: stalePath })
    fresh.route('GET', '/v1/ping', async () => 'pong')
    await fresh.start()
    try {
      assert.equal(JSON.parse((await call({ socketPath: stalePath }, 'GET', '/v1/ping')).text), 'pong')
    } finally {
      await fresh.stop()
    }
  })

  it('a failed start (TCP port in use) closes the socket it had opened', async () => {
    const path = join(dir, 'partial.sock')
    const other = new ApiServer({ logger: log.logger }, { socketPath: path, tcp: { host: '127.0.0.1', port, token: TOKEN } })
    await assert.rejects(other.start(), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_ADDRESS_IN_USE' && err.message.includes(`127.0.0.1:${port}`))
    assert.equal(other.status, 'stopped')
    await assert.rejects(lstat(path), { code: 'ENOENT' })
  })

  it('stop() ends open streams, closes connections and removes the socket', async () => {
    const path = join(dir, 'stopping.sock')
    const s = new ApiServer({ logger: log.logger }, { socketPath: path })
    s.route('GET', '/v1/forever', async ({ signal }) => (async function * () {
      yield { started: true }
      await new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }))
      streamSawAbort = true
    })())
    await s.start()
    await s.start() // a second start is a no-op
    const req = request({ socketPath: path, path: '/v1/forever', agent: false })
    req.on('error', () => {})
    req.end()
    const [res] = await once(req, 'response') as [import('node:http').IncomingMessage]
    res.on('error', () => {})
    res.resume()
    await s.stop()
    assert.equal(s.status, 'stopped')
    await pollUntil('the stream to see the abort', () => streamSawAbort)
    await assert.rejects(lstat(path), { code: 'ENOENT' })
    await s.stop() // a second stop is a no-op
  })
})
