// The agent's local routes come from one table (protocol/api-routes.ts LOCAL_ROUTES): the agent
// registers exactly those, none of them shadows a manager route, and clusterctl reaches each
// one through its client: the elected manager (CLUSTERD_ERR_NO_MANAGER while none is), the
// replica status and the lease.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ApiServer } from '../../../../agent/api/server.js'
import { registerLocalRoutes, type LocalRoutesComponents } from '../../../../agent/api/local-routes.js'
import { ApiClient } from '../../../../cli/client.js'
import { LOCAL_ROUTES, MANAGER_ROUTES } from '../../../../protocol/api-routes.js'
import type { LeaseStatus } from '../../../../protocol/fencing-wire.js'
import type { ManagerInfo } from '../../../../protocol/manager-wire.js'
import type { ReplicaStatus } from '../../../../protocol/replication-wire.js'

const MANAGER: ManagerInfo = { name: 'db1', peerId: '12D3KooWA', epoch: 4, since: '2026-11-22T09:00:00.000Z', local: false }
const REPLICA: ReplicaStatus = { role: 'replica', revision: 17, syncedEpoch: 4 }
const LEASE: LeaseStatus = { highestEpoch: 4, lease: null, leaseFile: '/var/lib/clusterd/lease.json' }

describe('local routes', () => {
  it('registers every route of LOCAL_ROUTES and nothing else', () => {
    const registered: string[] = []
    registerLocalRoutes({ route: (method, pattern) => { registered.push(`${method} ${pattern}`) } }, {
      members: () => [], manager: () => null, replicaStatus: () => REPLICA, leaseStatus: () => LEASE
    })
    assert.deepEqual(registered.sort(), Object.values(LOCAL_ROUTES).map(r => `${r.method} ${r.pattern}`).sort())
  })

  it('shares no path with a manager route', () => {
    const manager = new Set<string>(Object.values(MANAGER_ROUTES).map(r => r.pattern))
    for (const r of Object.values(LOCAL_ROUTES)) assert.equal(manager.has(r.pattern), false, r.pattern)
  })

  describe('through clusterctl\'s client', () => {
    let dir: string
    let server: ApiServer
    let client: ApiClient
    let manager: ManagerInfo | null = null

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'local-routes-'))
      server = new ApiServer({ logger: pino({ level: 'silent' }) }, { socketPath: join(dir, 'api.sock') })
      const c: LocalRoutesComponents = { members: () => [], manager: () => manager, replicaStatus: () => REPLICA, leaseStatus: () => LEASE }
      registerLocalRoutes(server, c)
      await server.start()
      client = new ApiClient({ addr: join(dir, 'api.sock') })
    })

    after(async () => {
      await server.stop()
      await rm(dir, { recursive: true, force: true })
    })

    it('answers the elected manager, and CLUSTERD_ERR_NO_MANAGER while none is', async () => {
      await assert.rejects(client.manager(), (err: Error & { code?: string }) => err.code === 'CLUSTERD_ERR_NO_MANAGER')
      manager = MANAGER
      assert.deepEqual(await client.manager(), MANAGER)
    })

    it('answers the replica status and the lease', async () => {
      assert.deepEqual(await client.request<ReplicaStatus>(LOCAL_ROUTES.replica.method, LOCAL_ROUTES.replica.pattern), REPLICA)
      assert.deepEqual(await client.lease(), LEASE)
      assert.deepEqual(await client.members(), [])
    })
  })
})
