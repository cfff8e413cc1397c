// The manager gateway across a failover, over real libp2p on loopback: the election is a value
// the test moves. A request that never reached the old manager is retried on the new one; a
// forward in flight is abandoned as soon as the election moves; a POST that may have been
// delivered is not sent again (CLUSTERD_ERR_MANAGER_CHANGED), a PUT is; with no manager the
// request fails with CLUSTERD_ERR_NO_MANAGER instead of hanging.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { pino } from 'pino'
import { createClusterNode, type ClusterNode } from '../../agent/libp2p/create-node.js'
import { ManagerGateway } from '../../agent/manager-role/manager-gateway.js'
import type { ManagerChangeListener } from '../../agent/election/election.js'
import { generateSecret } from '../../agent/transport/secret.js'
import { ClusterdError } from '../../protocol/errors.js'
import { FORWARD_PROTOCOL, type ManagerInfo } from '../../protocol/manager-wire.js'
import type { ApiHandler, ApiRequest } from '../../protocol/api-handler.js'

const silent = pino({ level: 'silent' })

/** An election whose manager the test sets. */
class MovableElection {
  current: ManagerInfo | null = null
  private readonly listeners = new Set<ManagerChangeListener>()
  manager (): ManagerInfo | null { return this.current }
  onChange (l: ManagerChangeListener): () => void { this.listeners.add(l); return () => { this.listeners.delete(l) } }
  set (m: ManagerInfo | null): void {
    const prev = this.current
    this.current = m
    for (const l of this.listeners) l(m, prev)
  }
}

const info = (node: ClusterNode, epoch: number, local = false): ManagerInfo =>
  ({ name: node.peerId.toString().slice(-6), peerId: node.peerId.toString(), epoch, since: new Date().toISOString(), local })
const request = (body: unknown = {}): ApiRequest => ({ params: { key: 'job-timeout' }, query: {}, body, signal: new AbortController().signal })

describe('manager gateway during a failover (real libp2p)', () => {
  const psk = generateSecret()
  let client: ClusterNode // the agent the operator talks to
  let stuck: ClusterNode // an old manager that takes requests and never answers
  let fresh: ClusterNode // the new manager
  let clientElection: MovableElection
  let gateway: ManagerGateway
  let freshGateway: ManagerGateway
  let stuckReceived: string[]
  let freshCalls: string[]

  const newNode = async (): Promise<ClusterNode> => await createClusterNode({ privateKey: await generateKeyPair('Ed25519'), psk, listen: '/ip4/127.0.0.1/tcp/0', announce: [] })

  before(async () => {
    client = await newNode()
    stuck = await newNode()
    fresh = await newNode()
    await client.dial(stuck.getMultiaddrs())
    await client.dial(fresh.getMultiaddrs())
    stuckReceived = []
    await stuck.handle(FORWARD_PROTOCOL, (stream) => {
      void (async () => {
        const lp = lpStream(stream)
        const req = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as { key: string }
        stuckReceived.push(req.key)
        // ... and never answers.
      })().catch(() => {})
    })
    freshCalls = []
    const handler = (key: string): ApiHandler => async (req) => { freshCalls.push(key); return { key: req.params.key, value: req.body } }
    const routes = new Map<string, ApiHandler>([['PUT /v1/config/:key', handler('PUT /v1/config/:key')], ['POST /v1/commission', handler('POST /v1/commission')]])
    const freshElection = new MovableElection()
    freshElection.current = info(fresh, 9, true)
    freshGateway = new ManagerGateway({ libp2p: fresh, election: freshElection, logger: silent, localRoutes: () => routes, isMember: peerId => peerId === client.peerId.toString() })
    await freshGateway.start()
    clientElection = new MovableElection()
    gateway = new ManagerGateway({ libp2p: client, election: clientElection, logger: silent, localRoutes: () => null, isMember: () => false })
  })

  after(async () => {
    await freshGateway.stop()
    await Promise.allSettled([client.stop(), stuck.stop(), fresh.stop()])
  })

  it('a request that could not reach a dead manager is retried on the manager elected next', async () => {
    freshCalls = []
    const dead = await newNode()
    const deadInfo = info(dead, 7)
    await dead.stop()
    clientElection.set(deadInfo)
    const t0 = Date.now()
    setTimeout(() => { clientElection.set(null) }, 300)
    setTimeout(() => { clientElection.set(info(fresh, 8)) }, 1200)
    const out = await gateway.call('POST /v1/commission', request({ nodes: ['n1'] }))
    assert.deepEqual(out, { key: 'job-timeout', value: { nodes: ['n1'] } })
    assert.deepEqual(freshCalls, ['POST /v1/commission'], 'a POST that was never delivered is sent to the new manager once')
    assert.ok(Date.now() - t0 < 5000)
  })

  it('a POST the old manager may have received is abandoned when the election moves, and not sent again', async () => {
    freshCalls = []
    stuckReceived = []
    clientElection.set(info(stuck, 10))
    let movedAt = 0
    setTimeout(() => { movedAt = Date.now(); clientElection.set(info(fresh, 11)) }, 800)
    const err = await gateway.call('POST /v1/commission', request({ nodes: ['n1'] })).then(() => null, (e: unknown) => e)
    assert.ok(err instanceof ClusterdError, String(err))
    assert.equal(err.code, 'CLUSTERD_ERR_MANAGER_CHANGED')
    assert.match(err.message, /may or may not have been applied/)
    assert.ok(movedAt > 0 && Date.now() - movedAt < 1000, 'fails as soon as the election moves, not at the forward deadline')
    assert.deepEqual(stuckReceived, ['POST /v1/commission'])
    assert.deepEqual(freshCalls, [], 'not sent to the new manager')
  })

  it('an idempotent PUT the old manager may have received is retried on the new manager', async () => {
    freshCalls = []
    stuckReceived = []
    clientElection.set(info(stuck, 12))
    setTimeout(() => { clientElection.set(info(fresh, 13)) }, 800)
    const out = await gateway.call('PUT /v1/config/:key', request({ value: '900' }))
    assert.deepEqual(out, { key: 'job-timeout', value: { value: '900' } })
    assert.deepEqual(stuckReceived, ['PUT /v1/config/:key'])
    assert.deepEqual(freshCalls, ['PUT /v1/config/:key'])
  })

  it('with no manager at all the request fails with CLUSTERD_ERR_NO_MANAGER after the bounded wait', async () => {
    clientElection.set(null)
    const t0 = Date.now()
    const err = await gateway.call('PUT /v1/config/:key', request({ value: '1' })).then(() => null, (e: unknown) => e)
    const took = Date.now() - t0
    assert.ok(err instanceof ClusterdError, String(err))
    assert.equal(err.code, 'CLUSTERD_ERR_NO_MANAGER')
    assert.ok(took >= 9_500 && took < 12_000, `waited ${took} ms`)
  })
})
