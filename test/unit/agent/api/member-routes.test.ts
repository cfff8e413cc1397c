// `GET /v1/members` fetches members' facts on demand (`?facts=cached`: at once), marks each
// member's name binding from the manager's records with `?bindings=1` (still answering, marked
// `unknown`, when no manager answers in time), and takes both parameters together.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { ApiHandler } from '../../../../protocol/api-handler.js'
import { ApiServer } from '../../../../agent/api/server.js'
import { BINDINGS_TIMEOUT_MS, bindingsByName, registerMemberRoutes } from '../../../../agent/api/member-routes.js'
import { ApiClient } from '../../../../cli/client.js'
import type { Member } from '../../../../protocol/members.js'

const member: Member = { name: 'n1', peerId: 'p1', addresses: [], status: 'alive', incarnation: 1, labels: {}, facts: null, boot: null, managerEligible: true, lastSeen: new Date(0).toISOString() }

describe('GET /v1/members and facts on demand', () => {
  let dir: string
  let server: ApiServer
  let client: ApiClient
  const fetched: AbortSignal[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'member-routes-'))
    server = new ApiServer({ logger: pino({ level: 'silent' }) }, { socketPath: join(dir, 'api.sock') })
    registerMemberRoutes(server, {
      members: () => [member],
      membersWithFacts: async signal => { fetched.push(signal); return [{ ...member, facts: { hostname: 'h', addresses: [], os: { platform: 'linux', release: '6', distro: 'd' }, kernel: 'k', arch: 'x64', cpus: 1, memoryBytes: 1, disks: [], agentVersion: '0', sshHostKeys: [] } }] }
    })
    await server.start()
    client = new ApiClient({ addr: join(dir, 'api.sock') })
  })

  after(async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('fetches the members\' facts by default, with a deadline, and not with facts=cached', async () => {
    assert.equal((await client.members())[0]?.facts?.hostname, 'h')
    assert.equal(fetched.length, 1)
    assert.equal(fetched[0]?.aborted, false, 'the fetch runs under a live deadline signal')
    assert.equal((await client.members({ facts: 'fetch' }))[0]?.facts?.hostname, 'h')
    assert.equal(fetched.length, 2)
    assert.equal((await client.members({ facts: 'cached' }))[0]?.facts, null)
    assert.equal(fetched.length, 2, 'cached answers from what the agent holds')
  })

  it('refuses any other facts= value with CLUSTERD_ERR_INVALID_ARGUMENT', async () => {
    await assert.rejects(client.request('GET', '/v1/members?facts=all'), (err: Error & { code?: string }) => err.code === 'CLUSTERD_ERR_INVALID_ARGUMENT')
  })
})

const memberOf = (name: string, peerId: string): Member => ({
  name, peerId, addresses: [], status: 'alive', incarnation: 1, labels: {}, facts: null, boot: null, managerEligible: false, lastSeen: new Date(0).toISOString()
})
const MEMBERS = [memberOf('db1', 'peer-real'), memberOf('db1', 'peer-impostor'), memberOf('web9', 'peer-new')]

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

describe('GET /v1/members with facts and bindings together', () => {
  let dir: string
  let server: ApiServer
  let client: ApiClient
  const asked: string[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'member-routes-both-'))
    server = new ApiServer({ logger: pino({ level: 'silent' }) }, { socketPath: join(dir, 'api.sock') })
    registerMemberRoutes(server, {
      members: () => { asked.push('cached'); return [member] },
      membersWithFacts: async () => { asked.push('facts'); return [{ ...member, facts: { hostname: 'h', addresses: [], os: { platform: 'linux', release: '6', distro: 'd' }, kernel: 'k', arch: 'x64', cpus: 1, memoryBytes: 1, disks: [], agentVersion: '0', sshHostKeys: [] } }] },
      bindings: async () => { asked.push('bindings'); return [{ name: 'n1', peerId: 'p1', conflicts: [] }] }
    })
    await server.start()
    client = new ApiClient({ addr: join(dir, 'api.sock') })
  })

  after(async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('?facts=cached&bindings=1 answers from the cached view, marked with the bindings', async () => {
    asked.length = 0
    const list = await client.members({ facts: 'cached', bindings: true })
    assert.deepEqual(asked.sort(), ['bindings', 'cached'])
    assert.equal(list[0]?.facts, null)
    assert.equal(list[0]?.nameBinding, 'bound')
  })

  it('?bindings=1 alone fetches the facts and marks the bindings', async () => {
    asked.length = 0
    const list = await client.members({ bindings: true })
    assert.deepEqual(asked.sort(), ['bindings', 'facts'])
    assert.equal(list[0]?.facts?.hostname, 'h')
    assert.equal(list[0]?.nameBinding, 'bound')
  })

  it('validates each parameter: a bad bindings= or facts= value is CLUSTERD_ERR_INVALID_ARGUMENT, before anything is asked', async () => {
    asked.length = 0
    for (const q of ['bindings=yes', 'facts=cached&bindings=2', 'facts=all&bindings=1']) {
      await assert.rejects(client.request('GET', `/v1/members?${q}`), (err: Error & { code?: string }) => err.code === 'CLUSTERD_ERR_INVALID_ARGUMENT', q)
    }
    assert.deepEqual(asked, [])
    assert.equal((await client.request<Member[]>('GET', '/v1/members?facts=cached&bindings=0'))[0]?.nameBinding, undefined, 'bindings=0: no marking')
  })
})
