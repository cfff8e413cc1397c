import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pino } from 'pino'
import { MemberViews } from '../../../../agent/membership/member-views.js'
import type { StatusChange } from '../../../../agent/membership/membership-contract.js'
import type { MemberStatus, MemberView } from '../../../../agent/membership/core/types.js'
import type { FactsWanted } from '../../../../agent/membership/member-facts.js'
import type { Member, NodeFacts } from '../../../../protocol/members.js'
import type { NodeRecord } from '../../../../protocol/membership-wire.js'

const logger = pino({ level: 'silent' })
const DIGEST = 'ab'.repeat(16)
const facts = (hostname: string): NodeFacts => ({
  hostname, addresses: [], os: { platform: 'linux', release: '6', distro: 'd' }, kernel: 'k', arch: 'x64', cpus: 1, memoryBytes: 1, disks: [], agentVersion: '0', sshHostKeys: []
})

async function peerId (): Promise<string> { return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString() }

function record (id: string, name: string, eligible: boolean): NodeRecord {
  return { v: 2, name, peerId: id, incarnation: 1, state: 'alive', addrs: ['/ip4/10.0.0.9/tcp/7946'], labels: { rack: 'r1' }, managerEligible: eligible, agentVersion: '0', boot: null, facts: DIGEST }
}

function view (id: string, name: string, status: MemberStatus, lastChange: number): MemberView {
  return { id, name, status, incarnation: 1, lastChange, info: { id, name, incarnation: 1, addr: { host: '10.0.0.9', port: 7946 }, eligible: false, record: new Uint8Array(), left: false } }
}

/** MemberViews over fakes: records, core views and a clock the test sets. */
function setup (selfId: string): {
  mv: MemberViews, records: Map<string, NodeRecord>, views: Map<string, MemberView>, noticed: FactsWanted[], clock: { now: number }
} {
  const records = new Map<string, NodeRecord>()
  const views = new Map<string, MemberView>()
  const noticed: FactsWanted[] = []
  const clock = { now: 5_000 }
  const mv = new MemberViews({
    selfId,
    logger,
    now: () => clock.now,
    records: { get: id => records.get(id) },
    self: { facts: facts('self') },
    memberFacts: { get: (id, digest) => digest === null ? null : facts(`${id}@${digest}`), noticed: w => { noticed.push(w) } },
    eligibility: { eligible: r => r.managerEligible && r.name !== 'refused' },
    view: id => views.get(id)
  })
  return { mv, records, views, noticed, clock }
}

describe('member views (membership in API form)', () => {
  it('shows a member only once its record is verified, in API words, with its facts and eligibility', async () => {
    const self = await peerId()
    const other = await peerId()
    const t = setup(self)
    const v = view(other, 'web1', 'alive', 1_000)
    assert.equal(t.mv.toMember(v), null)
    t.records.set(other, record(other, 'web1', true))
    const m = t.mv.toMember(v) as Member
    assert.equal(m.name, 'web1')
    assert.equal(m.status, 'alive')
    assert.deepEqual(m.addresses, ['/ip4/10.0.0.9/tcp/7946'])
    assert.deepEqual(m.labels, { rack: 'r1' })
    assert.equal(m.facts?.hostname, `${other}@${DIGEST}`)
    assert.equal(m.managerEligible, true)
    t.records.set(other, record(other, 'refused', true))
    assert.equal(t.mv.toMember(v)?.managerEligible, false, 'the eligibility gate decides, not the record alone')
    t.records.set(self, record(self, 'me', false))
    assert.equal(t.mv.toMember(view(self, 'me', 'alive', 1_000))?.facts?.hostname, 'self', 'our own facts come from our record')
  })

  it('dates lastSeen by the last datagram heard, the status change, or now for ourselves', async () => {
    const self = await peerId()
    const other = await peerId()
    const t = setup(self)
    t.records.set(other, record(other, 'web1', false))
    t.records.set(self, record(self, 'me', false))
    const iso = (ms: number): string => new Date(ms).toISOString()
    assert.equal(t.mv.toMember(view(other, 'web1', 'failed', 1_000))?.lastSeen, iso(1_000), 'never heard: the status change')
    t.clock.now = 3_000
    t.mv.heard(other)
    assert.equal(t.mv.toMember(view(other, 'web1', 'failed', 4_000))?.lastSeen, iso(3_000), 'not alive: when it was last heard')
    assert.equal(t.mv.toMember(view(other, 'web1', 'alive', 4_000))?.lastSeen, iso(4_000), 'alive: the later of both')
    t.clock.now = 9_000
    assert.equal(t.mv.toMember(view(self, 'me', 'failed', 1_000))?.lastSeen, iso(9_000))
  })

  it('tells every listener of a change (one that throws stops no other), and notices its facts', async () => {
    const self = await peerId()
    const other = await peerId()
    const t = setup(self)
    const heard: StatusChange[] = []
    t.mv.onChange(() => { throw new Error('a broken listener') })
    const stop = t.mv.onChange(c => { heard.push(c) })
    const v = view(other, 'web1', 'alive', 1_000)
    t.views.set(other, v)
    t.mv.onMemberEvent({ t: 'member', id: other, status: 'alive', previous: null, info: v.info })
    assert.deepEqual(heard, [], 'no verified record yet: nobody is told')
    t.records.set(other, record(other, 'web1', false))
    t.mv.onMemberEvent({ t: 'member', id: other, status: 'alive', previous: null, info: v.info })
    assert.deepEqual(heard, [{ peerId: other, name: 'web1', from: null, to: 'alive', inc: 1 }])
    assert.deepEqual(t.noticed.at(-1), { id: other, addr: '/ip4/10.0.0.9/tcp/7946', digest: DIGEST })
    t.mv.emitChange(other)
    assert.deepEqual(heard.at(-1), { peerId: other, name: 'web1', from: 'alive', to: 'alive', inc: 1 }, 'facts arrived: told again, status unchanged')
    t.mv.emitChange(await peerId())
    assert.equal(heard.length, 2, 'an unknown member is not told about')
    stop()
    t.mv.emitChange(other)
    assert.equal(heard.length, 2, 'an unsubscribed listener hears nothing more')
  })
})
