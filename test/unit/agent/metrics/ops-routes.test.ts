import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { ApiServer } from '../../../../agent/api/server.js'
import { registerOpsRoutes } from '../../../../agent/metrics/ops-routes.js'
import type { ProbeResponse } from '../../../../protocol/ops-routes.js'

const TOKEN = 'ops-token-0123456789abcdef'

async function get (target: { socketPath: string } | { port: number }, path: string, token?: string): Promise<{ status: number, type: string, text: string }> {
  const req = request({
    ...('socketPath' in target ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port }),
    path,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    agent: false
  })
  req.end()
  const [res] = await once(req, 'response') as [import('node:http').IncomingMessage]
  let text = ''
  for await (const chunk of res) text += String(chunk)
  return { status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }
}

describe('ops routes on the API server', () => {
  let dir: string
  let server: ApiServer
  let port: number
  let ready: ProbeResponse = { ok: false, reason: 'no manager is elected yet' }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterd-ops-'))
    server = new ApiServer({ logger: pino({ level: 'silent' }) }, { socketPath: join(dir, 'api.sock'), tcp: { host: '127.0.0.1', port: 0, token: TOKEN } })
    registerOpsRoutes(server, {
      render: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', text: 'clusterd_members{status="alive"} 3\n' }),
      health: () => ({ ok: true }),
      readiness: () => ready
    })
    server.route('GET', '/v1/secret', async () => ({ secret: true }))
    await server.start()
    port = server.tcpAddress()?.port ?? 0
  })
  after(async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('serves /healthz and /readyz on TCP without the token, and 503 with the reason when not ready', async () => {
    assert.deepEqual(await get({ port }, '/healthz'), { status: 200, type: 'application/json; charset=utf-8', text: '{"ok":true}\n' })
    const notReady = await get({ port }, '/readyz')
    assert.equal(notReady.status, 503)
    assert.deepEqual(JSON.parse(notReady.text), { ok: false, reason: 'no manager is elected yet' })
    ready = { ok: true }
    assert.equal((await get({ port }, '/readyz?verbose=1')).status, 200)
  })

  it('keeps the token on /metrics and every other route over TCP', async () => {
    assert.equal((await get({ port }, '/metrics')).status, 401)
    assert.equal((await get({ port }, '/metrics', 'wrong-token-0123456789abcdef')).status, 401)
    assert.equal((await get({ port }, '/v1/secret')).status, 401)
    // Spellings that resolve elsewhere or are not the literal path do not get through unauthenticated.
    assert.equal((await get({ port }, '/healthz/../v1/secret')).status, 401)
    assert.equal((await get({ port }, '/%68ealthz')).status, 401)
    const m = await get({ port }, '/metrics', TOKEN)
    assert.equal(m.status, 200)
    assert.match(m.type, /^text\/plain; version=0\.0\.4/)
    assert.equal(m.text, 'clusterd_members{status="alive"} 3\n')
  })

  it('serves all three on the unix socket', async () => {
    const socketPath = join(dir, 'api.sock')
    assert.equal((await get({ socketPath }, '/metrics')).status, 200)
    assert.equal((await get({ socketPath }, '/healthz')).status, 200)
  })

  it('refuses a parameterised route without token (a bug)', () => {
    assert.throws(() => { server.route('GET', '/v1/open/:x', async () => null, { withoutToken: true }) }, /literal path/)
  })
})
