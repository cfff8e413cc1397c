// The manager's rebind, forget and bindings routes over a real store (LevelDB) with a fake
// job service and membership: what each refuses (with which code), what it writes, and that
// discovery is asked to judge the name again afterwards.

import { afterEach, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { ApiHandler } from '../../../../protocol/api-handler.js'
import { managerRoutes } from '../../../../manager/api/manager-routes.js'
import type { JobService } from '../../../../manager/jobs/job-service.js'
import type { ManagerStore } from '../../../../manager/store/index.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import type { Member } from '../../../../protocol/members.js'
import type { BindingChangeResponse, LifecycleEvent, NameBinding } from '../../../../protocol/nodes.js'
import { newStore, tempDir } from '../store/fixture.js'

const REAL = '12D3KooWRea1PeerRea1PeerRea1PeerRea1PeerRea1PeerRea1P'
const NEW = '12D3KooWNewMachineAfterReinstaWWWWWWWWWWWWWWWWWWWWWW'
const OTHER = '12D3KooWSomeoneE1seSomeoneE1seSomeoneE1seSomeoneE1se'

function member (peerId: string, name: string, status: Member['status'] = 'alive'): Member {
  return { name, peerId, addresses: [], status, incarnation: 1, labels: {}, facts: null, boot: null, managerEligible: false, lastSeen: new Date(0).toISOString() }
}

describe('manager routes: rebind, forget, bindings (real store)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let store: ManagerStore
  let members: Member[]
  let busy: string | null
  const rechecked: string[] = []
  let routes: Record<string, ApiHandler>

  const call = async <T>(name: string, params: Record<string, string>, body?: unknown, query: Record<string, string> = {}): Promise<T> =>
    await (routes[name] as ApiHandler)({ params, query, body, signal: new AbortController().signal }) as T
  const refusal = async (p: Promise<unknown>): Promise<string> => await p.then(() => 'ok', (err: ClusterdError) => err.code)

  beforeEach(async () => {
    dir = await tempDir()
    store = newStore(dir.path)
    await store.start()
    await store.upsertNode({ name: 'db1', peerId: REAL, reachable: true })
    await store.upsertNode({ name: 'db1', peerId: NEW, reachable: true })
    members = [member(REAL, 'db1'), member(NEW, 'db1'), member(OTHER, 'web1')]
    busy = null
    rechecked.length = 0
    const jobs = { nodeJob: async () => busy } as unknown as JobService
    routes = managerRoutes({ store, jobs, members: () => members, bindingChanged: name => { rechecked.push(name) } })
  })

  afterEach(async () => {
    await store.stop()
    await dir.cleanup()
  })

  it('bindings list each name with its peer and the refused claimants', async () => {
    assert.deepEqual(await call<NameBinding[]>('nameBindings', {}), [{ name: 'db1', peerId: REAL, conflicts: [NEW] }])
  })

  it('rebind refuses a bad body, a peer that does not claim the name, and a node in a job; then moves the name', async () => {
    assert.equal(await refusal(call('rebindNode', { name: 'db1' }, { peerId: 'nope' })), 'CLUSTERD_ERR_INVALID_ARGUMENT')
    assert.equal(await refusal(call('rebindNode', { name: 'db1' }, { peerId: NEW, extra: 1 })), 'CLUSTERD_ERR_INVALID_ARGUMENT')
    assert.equal(await refusal(call('rebindNode', { name: 'db1' }, { peerId: OTHER })), 'CLUSTERD_ERR_PEER_NOT_CLAIMING')
    assert.equal(await refusal(call('rebindNode', { name: 'ghost' }, { peerId: NEW })), 'CLUSTERD_ERR_NODE_NOT_FOUND')
    busy = 'j-verify'
    assert.equal(await refusal(call('rebindNode', { name: 'db1' }, { peerId: NEW })), 'CLUSTERD_ERR_NODE_BUSY')
    busy = null
    assert.deepEqual(rechecked, [], 'nothing changed, nothing to judge again')
    const res = await call<BindingChangeResponse>('rebindNode', { name: 'db1' }, { peerId: NEW })
    assert.equal(res.node.peerId, NEW)
    assert.deepEqual(res.node.nameConflicts, [])
    assert.equal(res.event.type, 'rebound')
    assert.equal(res.event.actor, 'operator')
    assert.deepEqual(rechecked, ['db1'])
  })

  it('forget refuses a reachable node without force and a node in a job even with force; the history stays readable', async () => {
    assert.equal(await refusal(call('forgetNode', { name: 'db1' }, {})), 'CLUSTERD_ERR_NODE_REACHABLE')
    assert.equal(await refusal(call('forgetNode', { name: 'db1' }, { force: 'yes' })), 'CLUSTERD_ERR_INVALID_ARGUMENT')
    busy = 'j1'
    assert.equal(await refusal(call('forgetNode', { name: 'db1' }, { force: true })), 'CLUSTERD_ERR_NODE_BUSY')
    busy = null
    members[0] = member(REAL, 'db1', 'failed')
    const res = await call<BindingChangeResponse>('forgetNode', { name: 'db1' }, undefined)
    assert.equal(res.node.name, 'db1')
    assert.equal(res.event.type, 'forgotten')
    assert.deepEqual(rechecked, ['db1'])
    assert.equal(await refusal(call('showNode', { name: 'db1' })), 'CLUSTERD_ERR_NODE_NOT_FOUND')
    const history = await call<LifecycleEvent[]>('listEvents', {}, undefined, { node: 'db1' })
    assert.deepEqual(history.map(e => e.type), ['discovered', 'name-conflict', 'forgotten'])
    assert.equal(await refusal(call('listEvents', {}, undefined, { node: 'never-was' })), 'CLUSTERD_ERR_NODE_NOT_FOUND')
  })

  it("node show shows the bound peer's member, not another claimant's", async () => {
    members = [member(NEW, 'db1'), member(REAL, 'db1', 'suspect')]
    const shown = await call<{ member: Member | null }>('showNode', { name: 'db1' })
    assert.equal(shown.member?.peerId, REAL)
  })
})
