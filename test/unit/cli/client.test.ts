import { once } from 'node:events'
import { link } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ClusterdError } from '../../../protocol/errors.js'
import { ApiClient, routePath } from '../../../cli/client.js'
import { ExitError } from '../../../cli/errors.js'
import { MEMBERS, TOKEN, startFixture, type Fixture } from './fixtures.js'

function isExit (code: number, pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ExitError, `expected ExitError, got ${String(err)}`)
    assert.equal(err.exitCode, code)
    assert.match(err.message, pattern)
    return true
  }
}

/** A unix socket that accepts connections and never answers. */
async function silentSocket (path: string): Promise<{ close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer(s => { sockets.add(s) })
  server.listen(path)
  await once(server, 'listening')
  return {
    close: async () => {
      for (const s of sockets) s.destroy()
      server.close()
      await once(server, 'close')
    }
  }
}

describe('ApiClient', () => {
  let fx: Fixture
  before(async () => {
    fx = await startFixture()
    fx.server.route('GET', '/v1/nodes/:name', async ({ params }) => { throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node ${params.name ?? ''}`, { name: params.name }) })
    fx.server.route('GET', '/v1/future', async () => { throw Object.assign(new ClusterdError('CLUSTERD_ERR_INTERNAL', 'x'), { toBody: () => ({ error: { code: 'CLUSTERD_ERR_FROM_THE_FUTURE', message: 'newer agent' } }) }) })
    fx.server.route('GET', '/v1/events', async () => (async function * () {
      yield { seq: 1 }
      yield { seq: 2 }
    })())
    fx.server.route('GET', '/v1/events-fail', async () => (async function * () {
      yield { seq: 1 }
      throw new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'manager lost')
    })())
  })
  after(async () => { await fx.close() })

  it('lists members over the unix socket', async () => {
    assert.deepEqual(await new ApiClient({ addr: fx.socketPath }).members(), MEMBERS)
  })

  it('lists members over http with the bearer token, and reports a missing token as CLUSTERD_ERR_UNAUTHORIZED', async () => {
    assert.deepEqual(await new ApiClient({ addr: fx.url, token: TOKEN }).members(), MEMBERS)
    await assert.rejects(new ApiClient({ addr: fx.url + '/' }).members(), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_UNAUTHORIZED' && err.exitCode === 3)
  })

  it('turns an API error body into its ClusterdError with details', async () => {
    await assert.rejects(new ApiClient({ addr: fx.socketPath }).request('GET', '/v1/nodes/db9'), (err: unknown) => {
      assert.ok(err instanceof ClusterdError)
      assert.equal(err.code, 'CLUSTERD_ERR_NODE_NOT_FOUND')
      assert.equal(err.message, 'no node db9')
      assert.deepEqual(err.details, { name: 'db9' })
      return true
    })
  })

  it('keeps the words of an error code it does not know', async () => {
    await assert.rejects(new ApiClient({ addr: fx.socketPath }).request('GET', '/v1/future'), isExit(70, /^newer agent \(CLUSTERD_ERR_FROM_THE_FUTURE\)$/))
  })

  it('streams NDJSON values and throws a final error line', async () => {
    const client = new ApiClient({ addr: fx.socketPath })
    const seen: unknown[] = []
    for await (const v of client.stream('GET', '/v1/events')) seen.push(v)
    assert.deepEqual(seen, [{ seq: 1 }, { seq: 2 }])
    const partial: unknown[] = []
    await assert.rejects((async () => { for await (const v of client.stream('GET', '/v1/events-fail')) partial.push(v) })(),
      (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_NO_MANAGER')
    assert.deepEqual(partial, [{ seq: 1 }])
  })

  it('says the socket is missing', async () => {
    const path = join(fx.dir, 'absent.sock')
    await assert.rejects(new ApiClient({ addr: path }).members(), isExit(6, new RegExp(`^cannot reach the agent at ${path}: no such socket \\(is clusterd running\\?\\)$`)))
  })

  it('says the connection was refused on a stale socket', async () => {
    const live = join(fx.dir, 'live.sock')
    const stale = join(fx.dir, 'refused.sock')
    const s = await silentSocket(live)
    await link(live, stale)
    await s.close()
    await assert.rejects(new ApiClient({ addr: stale }).members(), isExit(6, /: connection refused \(is clusterd running\?\)$/))
  })

  it('never hangs: gives up after the timeout with a clear message', async () => {
    const path = join(fx.dir, 'silent.sock')
    const s = await silentSocket(path)
    try {
      const started = Date.now()
      await assert.rejects(new ApiClient({ addr: path, timeoutMs: 200 }).members(), isExit(6, /^the agent at .* did not answer within 0\.2 s$/))
      assert.ok(Date.now() - started < 2000)
      const stream = new ApiClient({ addr: path, timeoutMs: 200 }).stream('GET', '/v1/events')
      await assert.rejects(stream.next(), isExit(6, /did not answer within 0\.2 s/))
    } finally {
      await s.close()
    }
  })

  it('fills route parameters percent-encoded and leaves out unset query values', () => {
    assert.equal(routePath('/v1/jobs/:id/events', { id: 'a/b c' }, { follow: 1, after: undefined }), '/v1/jobs/a%2Fb%20c/events?follow=1')
    assert.equal(routePath('/v1/jobs', {}, { status: undefined }), '/v1/jobs')
    assert.throws(() => routePath('/v1/nodes/:name'), /no value for :name/)
  })

  it('rejects an address that is neither a path nor an http(s) URL', () => {
    assert.throws(() => new ApiClient({ addr: 'tcp://10.0.0.1:1' }), isExit(2, /expected a unix socket path or an http\(s\):\/\/ URL/))
  })
})
