// Returns end to end inside the manager, on a real LevelDB store: discovery noticing a
// commissioned node coming back, the `returned` event, and the record fields that survive
// transitions and restarts. Membership is a plain array here.
import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { NodeDiscovery } from '../../../../manager/discovery/node-discovery.js'
import { RETURN_MIN_OUTAGE_MS } from '../../../../manager/on-return/on-return.js'
import { ManagerStore } from '../../../../manager/store/index.js'
import type { Member, NodeBoot } from '../../../../protocol/members.js'
import type { NodeRecord } from '../../../../protocol/nodes.js'

const logger = pino({ level: 'silent' })
const FACTS = { hostname: 'x', addresses: [], os: { platform: 'linux', release: '6', distro: 'd' }, kernel: 'k', arch: 'x64', cpus: 1, memoryBytes: 1, disks: [], agentVersion: '0.1.0', sshHostKeys: [] }
const boot = (start: string, id = 'boot-1'): NodeBoot => ({ id, agentStartedAt: start })
const member = (name: string, status: Member['status'], b?: NodeBoot): Member => ({
  name, peerId: `peer-${name}`, addresses: [], status, incarnation: 1, labels: {}, managerEligible: false, lastSeen: new Date(0).toISOString(),
  boot: b ?? null,
  facts: b === undefined ? null : { ...FACTS, boot: b }
})

describe('nodes that return (discovery + store)', () => {
  let dir: string
  let store: ManagerStore
  let discovery: NodeDiscovery
  let listener: ((m: Member) => void) | undefined
  let returned: Array<[string, string]>
  /** Discovery's clock (ms): outages are timed with it. */
  let clock = 0
  const see = async (m: Member): Promise<void> => {
    listener?.(m)
    // Discovery applies changes one by one on its own chain: waiting for the chain makes the
    // "nothing happened" checks below meaningful.
    await new Promise(resolve => setImmediate(resolve))
    await (discovery as unknown as { chain: Promise<void> }).chain
  }
  const commission = async (name: string): Promise<void> => {
    await store.applyTransition(name, { type: 'COMMISSION', jobId: `j-${name}`, roles: ['worker'], vars: {} }, { actor: 'operator' })
    await store.applyTransition(name, { type: 'JOB_SUCCEEDED', jobId: `j-${name}` }, { actor: 'job-runner' })
  }
  const returns = async (name: string): Promise<number> => (await store.listEvents({ node: name })).filter(e => e.type === 'returned').length

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'returns-'))
    store = new ManagerStore({ logger }, { path: join(dir, 'db') })
    await store.start()
    returned = []
    clock = 0
    discovery = new NodeDiscovery({
      store,
      logger,
      now: () => clock,
      members: () => [member('a', 'alive', boot('t0')), member('d', 'alive', boot('t0'))],
      onMemberChange: l => { listener = l; return () => { listener = undefined } },
      onDiscovered: () => {},
      onReturned: (r, why) => { returned.push([r.name, why]) }
    })
    await discovery.start()
    await commission('a')
  })

  afterEach(async () => {
    await discovery.stop()
    await store.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('an agent restart with no failure in between is one return; the node stays commissioned', async () => {
    assert.deepEqual((await store.getNode('a'))?.boot, boot('t0'))
    await see(member('a', 'alive', boot('t1')))
    assert.deepEqual(returned, [['a', 'the agent restarted (started t1)']])
    const node = await store.getNode('a') as NodeRecord
    assert.equal(node.state, 'commissioned')
    assert.deepEqual(node.boot, boot('t1'))
    const last = (await store.listEvents({ node: 'a' })).at(-1)
    assert.deepEqual([last?.type, last?.from, last?.to, last?.actor], ['returned', 'commissioned', 'commissioned', 'membership'])
    await see(member('a', 'alive', boot('t1')))
    await see(member('a', 'suspect', boot('t1')))
    assert.equal(await returns('a'), 1, 'the same boot seen again is not another return')
  })

  it('failed then alive again is a return, and only once', async () => {
    await see(member('a', 'failed', boot('t0')))
    assert.equal((await store.getNode('a'))?.reachable, false)
    assert.equal(await returns('a'), 0)
    clock += RETURN_MIN_OUTAGE_MS
    await see(member('a', 'alive', boot('t0')))
    await see(member('a', 'alive', boot('t0')))
    assert.equal(await returns('a'), 1)
    assert.match(returned[0]?.[1] ?? '', /reachable again/)
  })

  it('a failed verdict refuted within seconds is a flap: reachable again, no return, no job (CI: NODE_BUSY)', async () => {
    // SWIM under load declares live members failed and they refute at once; each used to start
    // an on-return verify job, and the node was busy for the operator's next request.
    await see(member('a', 'failed', boot('t0')))
    clock += 2_000
    await see(member('a', 'alive', boot('t0')))
    assert.equal((await store.getNode('a'))?.reachable, true)
    assert.equal(await returns('a'), 0)
    assert.deepEqual(returned, [])
    // A restart during a short outage still is a return, by its boot.
    await see(member('a', 'failed', boot('t0')))
    clock += 2_000
    await see(member('a', 'alive', boot('t1')))
    assert.deepEqual(returned, [['a', 'the agent restarted (started t1)']])
  })

  it('a new manager that does not see a node yet does not make it return; a restart meanwhile does', async () => {
    await discovery.stop()
    // The next manager starts with a view that lacks both nodes (membership still filling in).
    discovery = new NodeDiscovery({
      store,
      logger,
      now: () => clock,
      members: () => [],
      onMemberChange: l => { listener = l; return () => { listener = undefined } },
      onDiscovered: () => {},
      onReturned: (r, why) => { returned.push([r.name, why]) }
    })
    await discovery.start()
    assert.equal((await store.getNode('a'))?.reachable, false)
    await see(member('a', 'alive', boot('t0')))
    assert.equal((await store.getNode('a'))?.reachable, true)
    assert.equal(await returns('a'), 0, 'same boot: it never went away')
    await see(member('a', 'failed', boot('t0')))
    clock += RETURN_MIN_OUTAGE_MS
    await see(member('a', 'alive', boot('t0')))
    assert.equal(await returns('a'), 1, 'a failure seen by membership then alive is a return')
  })

  it('a node that is not commissioned records its new boot but does not return', async () => {
    await see(member('d', 'alive', boot('t5', 'boot-2')))
    assert.deepEqual((await store.getNode('d'))?.boot, boot('t5', 'boot-2'))
    assert.equal(await returns('d'), 0)
    assert.deepEqual(returned, [])
  })

  it('a member without facts keeps the recorded boot (no return, no baseline loss)', async () => {
    await see(member('a', 'alive'))
    assert.deepEqual((await store.getNode('a'))?.boot, boot('t0'))
    assert.equal(await returns('a'), 0)
  })

  it('drift and boot survive transitions and a store restart', async () => {
    const drift = { checkedAt: '2026-11-22T10:00:00.000Z', jobId: 'j-v', changed: 1, tasks: ['Worker config is rendered'] }
    await store.noteNode('a', { type: 'drift-checked', actor: 'job-runner', jobId: 'j-v', reason: 'drift', drift })
    const ev = (await store.listEvents({ node: 'a' })).at(-1)
    assert.deepEqual([ev?.type, ev?.to, ev?.jobId, ev?.drift], ['drift-checked', 'commissioned', 'j-v', drift])
    await store.applyTransition('a', { type: 'UPGRADE', jobId: 'j-u' }, { actor: 'operator' })
    assert.deepEqual((await store.getNode('a'))?.drift, drift, 'a transition keeps the fields beside the machine')
    await discovery.stop()
    await store.stop()
    await store.start()
    assert.deepEqual((await store.getNode('a'))?.drift, drift)
    assert.deepEqual((await store.getNode('a'))?.boot, boot('t0'))
    await store.noteNode('a', { type: 'reconfigured', actor: 'job-runner', jobId: 'j-r', drift: null })
    assert.equal((await store.getNode('a'))?.drift, null)
    assert.equal(await store.noteNode('nobody', { type: 'returned', actor: 'membership' }), undefined)
  })
})
