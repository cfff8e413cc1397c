import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ApiServer } from '../../../../agent/api/server.js'
import { registerMemberRoutes } from '../../../../agent/routes/member-routes.js'
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
