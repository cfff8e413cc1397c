import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient } from '../../../cli/client.js'
import { ExitError } from '../../../cli/errors.js'
import { followJob, type FollowItem } from '../../../cli/job-follow.js'
import { ClusterdError } from '../../../protocol/errors.js'
import { scriptedFeed, scriptedJob, startManagerFixture, type ManagerFixture } from './manager-fixture.js'

async function all (items: AsyncIterable<FollowItem>): Promise<FollowItem[]> {
  const out: FollowItem[] = []
  for await (const item of items) out.push(item)
  return out
}

function seqs (items: FollowItem[]): number[] {
  return items.flatMap(i => (i.type === 'event' ? [i.event.seq] : []))
}

describe('followJob', () => {
  let fx: ManagerFixture
  let client: ApiClient
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('follows a feed to the finished job', async () => {
    const job = await client.commission({ nodes: ['web1'], roles: ['worker'] })
    const items = await all(followJob(client, job.id))
    assert.deepEqual(items, scriptedFeed(job))
  })

  it('after the manager goes away mid-stream, reconnects and resumes after the last event seen', async () => {
    const job = await client.commission({ nodes: ['flaky1'], roles: ['worker'] })
    const items = await all(followJob(client, job.id, { firstDelayMs: 10 }))
    const expected = scriptedFeed(job)
    const total = expected.filter(i => i.type === 'event').length
    assert.deepEqual(seqs(items), Array.from({ length: total }, (_, i) => i + 1), 'every event once, in order')
    const reconnects = items.filter(i => i.type === 'reconnect')
    assert.deepEqual(reconnects, [{ type: 'reconnect', reason: 'the manager went away (CLUSTERD_ERR_NO_MANAGER)', attempt: 1 }])
    assert.deepEqual(items.at(-1), expected.at(-1), 'ends with the finished job')
    const queries = fx.requestsTo('jobEvents').filter(r => r.params.id === job.id).map(r => r.query)
    assert.deepEqual(queries, [{ follow: '1' }, { follow: '1', after: '2' }])
  })

  it('gives up after the reconnect window with one clear unreachable error', async () => {
    const job = await client.commission({ nodes: ['dead1'], roles: ['worker'] })
    const started = Date.now()
    await assert.rejects(all(followJob(client, job.id, { reconnectWindowMs: 300, firstDelayMs: 20 })), (err: unknown) => {
      assert.ok(err instanceof ExitError)
      assert.equal(err.exitCode, 6)
      assert.match(err.message, /^lost the event stream of job commission-dead for 0\.3 s \(no manager is elected yet \(CLUSTERD_ERR_NO_MANAGER\)\); the job may still be running: clusterctl job show commission-dead$/)
      return true
    })
    assert.ok(Date.now() - started < 2000, 'bounded')
    assert.ok(fx.requestsTo('jobEvents').filter(r => r.params.id === job.id).length >= 3, 'kept trying within the window')
  })

  it('does not retry an error about the request itself', async () => {
    const before = fx.requestsTo('jobEvents').length
    await assert.rejects(all(followJob(client, 'nope', { firstDelayMs: 10 })), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_JOB_NOT_FOUND')
    assert.equal(fx.requestsTo('jobEvents').length, before + 1)
  })
})

describe('followJob over a connection that breaks', () => {
  let server: Server
  let path: string
  const afters: string[] = []
  let fx: ManagerFixture
  before(async () => {
    fx = await startManagerFixture()
    path = join(fx.dir, 'breaking.sock')
    const items = scriptedFeed(scriptedJob('commission', ['web1'], ['worker'], {}))
    server = createServer((req, res) => {
      const after = new URL(req.url ?? '/', 'http://x').searchParams.get('after') ?? '0'
      afters.push(after)
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      const rest = items.filter(i => i.type === 'job' || i.event.seq > Number(after))
      if (afters.length === 1) {
        // Two events, then the agent dies: the socket closes with the response unfinished.
        res.write(rest.slice(0, 2).map(i => JSON.stringify(i) + '\n').join(''), () => { res.socket?.destroy() })
        return
      }
      res.end(rest.map(i => JSON.stringify(i) + '\n').join(''))
    })
    server.listen(path)
    await once(server, 'listening')
  })
  after(async () => {
    server.closeAllConnections()
    server.close()
    await fx.close()
  })

  it('reconnects and resumes after the last event it got', async () => {
    const items = await all(followJob(new ApiClient({ addr: path }), 'commission-ok', { firstDelayMs: 10 }))
    assert.deepEqual(afters, ['0', '2'])
    const reconnect = items.find(i => i.type === 'reconnect')
    assert.match(reconnect?.type === 'reconnect' ? reconnect.reason : '', /^the stream from the agent at .* broke: /)
    assert.deepEqual(seqs(items), [1, 2, 3, 4, 5], 'every event once, in order')
    const last = items.at(-1)
    assert.equal(last?.type === 'job' ? last.job.status : undefined, 'succeeded')
  })
})
