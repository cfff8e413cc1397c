// clusterctl logs against a real ApiServer with the diagnostics routes and a real log ring:
// readable lines by default, the agent's JSON lines with -o json, another member's through the
// local agent with --node, an unknown member refused (exit 4), and --follow printing new lines
// as they are written and saying when the ring moved past lines it had not shown.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino, type Logger } from 'pino'
import { ApiClient } from '../../../../cli/client.js'
import { linesLost, logs } from '../../../../cli/commands/logs.js'
import { AgentDiagnosticsSource } from '../../../../agent/diagnostics/agent-diagnostics.js'
import { registerDiagnosticsRoutes } from '../../../../agent/diagnostics/diagnostics-routes.js'
import { LogRing } from '../../../../agent/diagnostics/log-ring.js'
import type { AgentConfig } from '../../../../agent/config/agent-config.js'
import type { DiagnosticsRequest } from '../../../../protocol/diagnostics.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import { MEMBERS, startFixture, type Fixture } from '../fixtures.js'
import { LEASE, testContext } from '../manager-fixture.js'

describe('clusterctl logs', () => {
  let fx: Fixture
  let client: ApiClient
  let ring: LogRing
  let logger: Logger
  const asked: DiagnosticsRequest[] = []

  before(async () => {
    fx = await startFixture()
    ring = new LogRing(() => {}, { capacity: 5 })
    logger = pino({ base: { node: 'db1' } }, ring)
    const source = new AgentDiagnosticsSource({
      logs: ring, members: () => MEMBERS, manager: () => null, epoch: () => 0,
      replicaStatus: () => ({ role: 'closed', revision: 0, syncedEpoch: 0 }), leaseStatus: () => LEASE, secretsInMemory: () => []
    }, { config: { nodeName: 'db1', secretFile: '/nonexistent', sshKeyFile: '/nonexistent', sshCaKeyFile: null, apiTcp: null } as unknown as AgentConfig, peerId: '12D3KooWA', version: '0.1.0', startedAt: new Date() })
    registerDiagnosticsRoutes(fx.server, {
      source,
      stream: {
        fetch: async (peerId, _addr, req) => {
          asked.push(req)
          return peerId === '12D3KooWB' && req.want === 'logs'
            ? { ok: true, value: { ok: true, logs: { node: 'web2', peerId, lines: [{ seq: 9, line: '{"level":40,"time":0,"node":"web2","msg":"from web2"}' }], oldest: 1, newest: 9 } } }
            : { ok: false, reason: 'unexpected' }
        }
      },
      members: () => MEMBERS,
      selfPeerId: '12D3KooWA'
    })
    client = new ApiClient({ addr: fx.socketPath })
    logger.info({ component: 'membership', peer: 'p1' }, 'member joined')
    logger.warn('second')
  })
  after(async () => { await fx.close() })

  it('prints the local agent\'s lines readable by default, and as its JSON lines with -o json', async () => {
    const table = await logs(client, { output: 'table' }, testContext()) as string
    assert.match(table, /^\S+Z INFO  db1 membership: member joined peer=p1\n\S+Z WARN  db1 second\n$/)
    const json = await logs(client, { output: 'json', lines: '1' }, testContext()) as string
    assert.equal((JSON.parse(json) as { msg: string }).msg, 'second')
  })

  it('--node asks the member through the local agent; an unknown member is CLUSTERD_ERR_MEMBER_NOT_FOUND', async () => {
    const out = await logs(client, { output: 'table', node: 'web2', lines: '7' }, testContext()) as string
    assert.equal(out, '1970-01-01T00:00:00.000Z WARN  web2 from web2\n')
    assert.deepEqual(asked.at(-1), { want: 'logs', after: 0, lines: 7 })
    await assert.rejects(logs(client, { output: 'table', node: 'nosuch' }, testContext()), (err: ClusterdError) => err.code === 'CLUSTERD_ERR_MEMBER_NOT_FOUND')
    await assert.rejects(logs(client, { output: 'table', lines: '0' }, testContext()), /--lines: expected a whole number from 1 to 1000/)
  })

  it('--follow prints new lines as they come and says when lines were lost', async () => {
    const stop = new AbortController()
    const ctx = testContext()
    const result = await logs(client, { output: 'table', follow: true, lines: '1', followIntervalMs: 10, signal: stop.signal }, ctx) as AsyncIterable<string>
    const it = result[Symbol.asyncIterator]()
    assert.match(String((await it.next()).value), /WARN  db1 second/)
    logger.info('third')
    assert.match(String((await it.next()).value), /INFO  db1 third/)
    // Eight lines into a ring of five: three are gone before the next ask.
    for (let i = 1; i <= 8; i++) logger.info(`burst ${i}`)
    assert.match(String((await it.next()).value), /burst 4\n$/)
    assert.deepEqual(ctx.warnings, ['3 log lines were written faster than followed and are not shown'])
    stop.abort()
    await it.return?.()
  })

  it('linesLost counts the gap between the last line seen and the first one returned', () => {
    assert.equal(linesLost(0, { oldest: 50, lines: [] }), 0)
    assert.equal(linesLost(10, { oldest: 5, lines: [{ seq: 11, line: '' }] }), 0)
    assert.equal(linesLost(10, { oldest: 15, lines: [{ seq: 15, line: '' }] }), 4)
  })
})
