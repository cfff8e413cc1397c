import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { NodeDiscovery } from '../../../../manager/discovery/node-discovery.js'
import { ManagerStore } from '../../../../manager/store/index.js'
import type { Member } from '../../../../protocol/members.js'
import { waitFor } from '../../../harness/poll.js'

const logger = pino({ level: 'silent' })
const member = (name: string, status: Member['status']): Member => ({
  name, peerId: `peer-${name}`, addresses: [], status, incarnation: 1, labels: {}, facts: null, boot: null, managerEligible: true, lastSeen: new Date(0).toISOString()
})

describe('NodeDiscovery', () => {
  it('creates discovered records for new members, tracks reachability, and marks restored records of absent nodes unreachable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'discovery-'))
    const store = new ManagerStore({ logger }, { path: join(dir, 'db') })
    await store.start()
    try {
      // A record left by an earlier manager: reachable then, absent from membership now.
      await store.upsertNode({ name: 'gone', peerId: 'peer-gone', reachable: true })
      const discovered: string[] = []
      let listener: ((m: Member) => void) | undefined
      const members = [member('a', 'alive'), member('b', 'suspect'), member('left-early', 'left')]
      const discovery = new NodeDiscovery({
        store,
        logger,
        members: () => members,
        onMemberChange: l => { listener = l; return () => { listener = undefined } },
        onDiscovered: r => { discovered.push(r.name) }
      })
      await discovery.start()
      assert.deepEqual(discovered.sort(), ['a', 'b'], 'a member that left before the manager saw it gets no record')
      assert.equal((await store.getNode('a'))?.state, 'discovered')
      assert.equal((await store.getNode('b'))?.reachable, true, 'suspect still counts as reachable')
      assert.equal((await store.getNode('gone'))?.reachable, false)
      assert.equal(await store.getNode('left-early'), undefined)
      listener?.(member('a', 'failed'))
      await waitFor(async () => (await store.getNode('a'))?.reachable === false, { timeoutMs: 5000 })
      await discovery.stop()
      assert.equal((await store.getNode('a'))?.state, 'discovered', 'reachability is not a lifecycle change')
    } finally {
      await store.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('keeps members\' facts fetched while it runs, and records a new node only once its facts are here', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'discovery-'))
    const store = new ManagerStore({ logger }, { path: join(dir, 'db') })
    await store.start()
    try {
      const discovered: string[] = []
      let listener: ((m: Member) => void) | undefined
      let watching = 0
      const facts = { hostname: 'c', addresses: [], os: { platform: 'linux', release: '6', distro: 'd' }, kernel: 'k', arch: 'x64', cpus: 1, memoryBytes: 1, disks: [], agentVersion: '0', sshHostKeys: [{ type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIGq' }] }
      const discovery = new NodeDiscovery({
        store,
        logger,
        members: () => [member('c', 'alive')],
        onMemberChange: l => { listener = l; return () => { listener = undefined } },
        watchFacts: () => { watching++; return () => { watching-- } },
        onDiscovered: r => { discovered.push(r.name) }
      })
      await discovery.start()
      assert.equal(watching, 1)
      assert.equal(await store.getNode('c'), undefined, 'no record before the facts (an auto-commission could not pin its host keys)')
      listener?.({ ...member('c', 'alive'), facts, boot: { id: 'b1', agentStartedAt: '2026-12-06T07:00:00.000Z' } })
      // stop drops queued updates (a replaced manager must not write on): wait for this one first
      await waitFor(async () => await store.getNode('c'), { timeoutMs: 5000, message: 'c recorded once its facts arrived' })
      await discovery.stop()
      assert.equal(watching, 0, 'stopping discovery stops the watch')
      assert.deepEqual(discovered, ['c'])
      assert.deepEqual((await store.getNode('c'))?.boot, { id: 'b1', agentStartedAt: '2026-12-06T07:00:00.000Z' }, 'the boot comes from the signed record')
    } finally {
      await store.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('stop waits for the update in progress and drops the queued ones (a replaced manager must not write on for minutes)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'discovery-'))
    const store = new ManagerStore({ logger }, { path: join(dir, 'db') })
    await store.start()
    try {
      let listener: ((m: Member) => void) | undefined
      const discovery = new NodeDiscovery({ store, logger, members: () => [], onMemberChange: l => { listener = l; return () => { listener = undefined } }, onDiscovered: () => {} })
      await discovery.start()
      const facts = { hostname: 'n', addresses: [], os: { platform: 'linux', release: '6', distro: 'd' }, kernel: 'k', arch: 'x64', cpus: 1, memoryBytes: 1, disks: [], agentVersion: '0', sshHostKeys: [{ type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIGq' }] }
      // with facts: discovery records a node only once its facts are here
      const queued = Array.from({ length: 200 }, (_, i) => ({ ...member(`n${i}`, 'alive'), facts }))
      for (const m of queued) listener?.(m)
      await discovery.stop()
      const written = (await store.listNodes()).length
      assert.ok(written < queued.length, `stop returned after ${written} of ${queued.length} queued updates were written`)
      listener?.(member('late', 'alive'))
      assert.equal(listener, undefined, 'no longer subscribed')
      // A restart reconciles every member again.
      const again = new NodeDiscovery({ store, logger, members: () => queued, onMemberChange: () => () => {}, onDiscovered: () => {} })
      await again.start()
      assert.equal((await store.listNodes()).length, queued.length)
      await again.stop()
    } finally {
      await store.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("a second peer claiming a bound name is recorded once and moves nothing; after a forget, recheck binds the live claimant", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'discovery-'))
    const store = new ManagerStore({ logger }, { path: join(dir, 'db') })
    await store.start()
    try {
      const discovered: string[] = []
      const returned: string[] = []
      let listener: ((m: Member) => void) | undefined
      const real = { ...member('db1', 'alive'), peerId: 'peer-real', facts: { boot: { id: 'boot-1', agentStartedAt: 't1' } } as Member['facts'] }
      const impostor = { ...member('db1', 'alive'), peerId: 'peer-impostor', facts: { boot: { id: 'boot-9', agentStartedAt: 't9' } } as Member['facts'] }
      const members: Member[] = [real]
      const discovery = new NodeDiscovery({
        store,
        logger,
        members: () => members,
        onMemberChange: l => { listener = l; return () => { listener = undefined } },
        onDiscovered: r => { discovered.push(`${r.name}@${r.peerId}`) },
        onReturned: (r, why) => { returned.push(`${r.name}: ${why}`) }
      })
      await discovery.start()
      await store.applyTransition('db1', { type: 'COMMISSION', jobId: 'j1', roles: ['web'], vars: {} }, { actor: 'operator' })
      await store.applyTransition('db1', { type: 'JOB_SUCCEEDED', jobId: 'j1' }, { actor: 'job-runner' })
      members.push(impostor)
      listener?.(impostor)
      listener?.(impostor)
      // The real node fails while the impostor stays alive: the record follows the real peer only.
      listener?.({ ...real, status: 'failed' })
      // stop drops queued updates (a replaced manager must not write on): wait for these first
      await waitFor(async () => { const r = await store.getNode('db1'); return r?.reachable === false && r.nameConflicts.length === 1 ? r : undefined }, { timeoutMs: 5000, message: 'the conflict and the failure recorded' })
      await discovery.stop()
      let n = await store.getNode('db1')
      assert.equal(n?.peerId, 'peer-real')
      assert.equal(n?.reachable, false, "the impostor's liveness does not make the node reachable")
      assert.deepEqual(n?.boot, { id: 'boot-1', agentStartedAt: 't1' }, "the impostor's boot is not the node's (no return)")
      assert.deepEqual(n?.nameConflicts.map(c => c.peerId), ['peer-impostor'])
      assert.deepEqual(returned, [])
      assert.deepEqual(discovered, ['db1@peer-real'])
      assert.deepEqual((await store.listEvents({ node: 'db1' })).map(e => e.type), ['discovered', 'commission-requested', 'job-succeeded', 'name-conflict'])

      // A restarted manager judges restored records by the bound peer, not by the name.
      members.splice(0, 1)
      await discovery.start()
      n = await store.getNode('db1')
      assert.equal(n?.reachable, false)
      await store.forgetNode('db1', { actor: 'operator' })
      discovery.recheck('db1')
      await waitFor(async () => (await store.getNode('db1'))?.peerId === 'peer-impostor' ? true : undefined, { timeoutMs: 5000, message: 'the forgotten name bound to the live claimant' })
      await discovery.stop()
      n = await store.getNode('db1')
      assert.equal(n?.peerId, 'peer-impostor', 'a forgotten name goes to the live claimant, as a new node')
      assert.equal(n?.state, 'discovered')
      assert.deepEqual(discovered, ['db1@peer-real', 'db1@peer-impostor'])
    } finally {
      await store.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
