// GET /v1/diagnostics and /v1/logs: which member answers (this agent for its own name or none,
// else the live member of that name, alive before suspect), an unknown or dead name refused,
// bad query values refused before anything is asked, a member that does not answer an error
// naming why; and no path shared with another route table.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { memberToAsk, registerDiagnosticsRoutes } from '../../../../agent/diagnostics/diagnostics-routes.js'
import type { ApiHandler } from '../../../../protocol/api-handler.js'
import { LOCAL_ROUTES, MANAGER_ROUTES } from '../../../../protocol/api-routes.js'
import { DIAGNOSTICS_ROUTES, type AgentDiagnostics, type DiagnosticsRequest, type LogsReply } from '../../../../protocol/diagnostics.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import type { Member } from '../../../../protocol/members.js'
import { OPS_ROUTES } from '../../../../protocol/ops-routes.js'

function member (name: string, peerId: string, status: Member['status']): Member {
  return { name, peerId, addresses: ['/ip4/10.0.0.1/tcp/7946'], status, incarnation: 1, labels: {}, facts: null, boot: null, managerEligible: true, lastSeen: 'x' }
}

const MEMBERS = [member('self', 'P0', 'alive'), member('a', 'P1', 'suspect'), member('a', 'P2', 'alive'), member('b', 'P3', 'suspect'), member('gone', 'P4', 'failed')]
const LOGS: LogsReply = { node: 'self', peerId: 'P0', lines: [], oldest: 0, newest: 0 }

describe('diagnostics routes', () => {
  it('memberToAsk: none or its own name is this agent; else the alive member of that name, then a suspect one', () => {
    assert.equal(memberToAsk(MEMBERS, undefined, 'P0'), null)
    assert.equal(memberToAsk(MEMBERS, 'self', 'P0'), null)
    assert.equal(memberToAsk(MEMBERS, 'a', 'P0')?.peerId, 'P2')
    assert.equal(memberToAsk(MEMBERS, 'b', 'P0')?.peerId, 'P3')
    for (const name of ['gone', 'nosuch']) {
      assert.throws(() => memberToAsk(MEMBERS, name, 'P0'), (err: ClusterdError) => err.code === 'CLUSTERD_ERR_MEMBER_NOT_FOUND')
    }
  })

  it('answers locally or through the stream, validates the query first, and names a member that did not answer', async () => {
    const routes = new Map<string, ApiHandler>()
    const asked: Array<{ peerId: string, req: DiagnosticsRequest }> = []
    const localCalls: Array<[number, number]> = []
    registerDiagnosticsRoutes({ route: (method, pattern, handler) => { routes.set(`${method} ${pattern}`, handler) } }, {
      source: { diagnostics: async () => ({ node: 'self' }) as unknown as AgentDiagnostics, logs: async (after, lines) => { localCalls.push([after ?? -1, lines ?? -1]); return LOGS } },
      stream: {
        fetch: async (peerId, _addr, req) => {
          asked.push({ peerId, req })
          return peerId === 'P3' ? { ok: false, reason: 'no answer within 10 s' } : { ok: true, value: { ok: true, logs: { ...LOGS, node: 'a', peerId } } }
        }
      },
      members: () => MEMBERS,
      selfPeerId: 'P0'
    })
    assert.deepEqual([...routes.keys()].sort(), Object.values(DIAGNOSTICS_ROUTES).map(r => `${r.method} ${r.pattern}`).sort())
    const logs = routes.get('GET /v1/logs') as ApiHandler
    const call = async (query: Record<string, string>): Promise<unknown> => await logs({ params: {}, query, body: undefined, signal: new AbortController().signal })
    assert.deepEqual(await call({}), LOGS)
    assert.deepEqual(localCalls, [[0, 1000]])
    assert.equal(((await call({ node: 'a', after: '5', lines: '20' })) as LogsReply).peerId, 'P2')
    assert.deepEqual(asked, [{ peerId: 'P2', req: { want: 'logs', after: 5, lines: 20 } }])
    await assert.rejects(call({ node: 'b' }), (err: ClusterdError) => err.code === 'CLUSTERD_ERR_UNAVAILABLE' && /member b did not answer: no answer within 10 s/.test(err.message))
    const bads: Array<Record<string, string>> = [{ lines: '1001' }, { lines: '-1' }, { after: 'x' }, { after: '1e3' }]
    for (const bad of bads) {
      await assert.rejects(call(bad), (err: ClusterdError) => err.code === 'CLUSTERD_ERR_INVALID_ARGUMENT', JSON.stringify(bad))
    }
    assert.equal(asked.length, 2, 'nothing asked for a refused query')
  })

  it('shares no path with the local, manager or operations routes', () => {
    const others = new Set<string>([...Object.values(LOCAL_ROUTES), ...Object.values(MANAGER_ROUTES), ...Object.values(OPS_ROUTES)].map(r => r.pattern))
    for (const r of Object.values(DIAGNOSTICS_ROUTES)) assert.equal(others.has(r.pattern), false, r.pattern)
  })
})
