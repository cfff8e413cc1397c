// `GET /v1/members` marks each member's name binding from the manager's records, and still
// answers (marked `unknown`) when no manager answers in time.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { ApiHandler } from '../../../../agent/api/router.js'
import type { ApiServer } from '../../../../agent/api/server.js'
import { BINDINGS_TIMEOUT_MS, bindingsByName, registerMemberRoutes } from '../../../../agent/routes/member-routes.js'
import type { Member } from '../../../../protocol/members.js'

const member = (name: string, peerId: string): Member => ({
  name, peerId, addresses: [], status: 'alive', incarnation: 1, labels: {}, facts: null, managerEligible: false, lastSeen: new Date(0).toISOString()
})
const MEMBERS = [member('db1', 'peer-real'), member('db1', 'peer-impostor'), member('web9', 'peer-new')]

function route (bindings?: (signal: AbortSignal) => Promise<unknown>): ApiHandler {
  let handler: ApiHandler | undefined
  const server = { route: (_m: string, _p: string, h: ApiHandler) => { handler = h } } as unknown as ApiServer
  registerMemberRoutes(server, { members: () => MEMBERS, ...(bindings !== undefined ? { bindings } : {}) })
  return handler as ApiHandler
}

const call = async (h: ApiHandler, query: Record<string, string> = { bindings: '1' }): Promise<Member[]> => await h({ params: {}, query, body: undefined, signal: new AbortController().signal }) as Member[]

describe('GET /v1/members name bindings', () => {
  it('marks the bound peer, a conflicting claimant (with the peer the name belongs to) and an unrecorded name', async () => {
    const list = await call(route(async () => [{ name: 'db1', peerId: 'peer-real', conflicts: ['peer-impostor'] }]))
    assert.deepEqual(list.map(m => [m.peerId, m.nameBinding, m.nameBoundTo]), [
      ['peer-real', 'bound', null],
      ['peer-impostor', 'conflict', 'peer-real'],
      ['peer-new', 'unrecorded', null]
    ])
  })

  it('without ?bindings=1 the list stays local: the manager is not asked', async () => {
    let asked = 0
    const list = await call(route(async () => { asked++; return [] }), {})
    assert.equal(asked, 0)
    assert.deepEqual(list, MEMBERS)
  })

  it('answers with `unknown` when there is no manager, it fails, answers garbage, or takes too long', async () => {
    const started = Date.now()
    const answers = await Promise.all([
      call(route(async () => null)),
      call(route(async () => { throw new Error('no manager') })),
      call(route(async () => [{ name: 3 }])),
      call(route(async signal => await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }) })))
    ])
    for (const list of answers) assert.deepEqual(list.map(m => m.nameBinding), ['unknown', 'unknown', 'unknown'])
    assert.ok(Date.now() - started < BINDINGS_TIMEOUT_MS + 1500, 'bounded by the timeout')
    assert.equal(bindingsByName({}), undefined)
  })
})
