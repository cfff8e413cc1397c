import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { NodeDiscovery } from '../../../../manager/discovery/node-discovery.js'
import { ManagerStore } from '../../../../manager/store/index.js'
import type { Member } from '../../../../protocol/members.js'

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
      await discovery.stop()
      assert.equal((await store.getNode('a'))?.reachable, false)
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
      await discovery.stop()
      assert.equal(watching, 0, 'stopping discovery stops the watch')
      assert.deepEqual(discovered, ['c'])
      assert.deepEqual((await store.getNode('c'))?.boot, { id: 'b1', agentStartedAt: '2026-12-06T07:00:00.000Z' }, 'the boot comes from the signed record')
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
