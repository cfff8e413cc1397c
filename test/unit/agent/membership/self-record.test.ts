import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { encodeFacts } from '../../../../agent/facts/facts-stream.js'
import { verifyRecord } from '../../../../agent/membership/node-record.js'
import { SelfRecord } from '../../../../agent/membership/self-record.js'
import type { NodeFacts } from '../../../../protocol/members.js'
import { peers, type TestPeer } from '../fake-broadcasts.js'

let A: TestPeer
before(async () => { [A] = await peers(1) as [TestPeer] })

const base: NodeFacts = {
  hostname: 'h', addresses: ['10.0.0.1'], os: { platform: 'linux', release: '6', distro: 'd' }, kernel: 'k', arch: 'x64', cpus: 2, memoryBytes: 1, disks: [],
  agentVersion: '0.1.0', sshHostKeys: [{ type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIGq' }], boot: { id: 'b1', agentStartedAt: '2026-12-06T07:00:00.000Z' }
}

describe('this node\'s record', () => {
  it('signs a small record naming the digest of the facts it serves, with boot and agent version from them', async () => {
    let facts = base
    const self = new SelfRecord({ privateKey: A.key, collectFacts: async () => facts }, { peerId: A.id, nodeName: 'n1', labels: { zone: 'a' }, managerEligible: true, advertise: { host: '10.0.0.1', port: 7946 } })
    assert.equal(self.sign(1, false).record.facts, null, 'no facts collected yet: no digest')
    assert.equal(await self.refresh(), true)
    const { info, record } = self.sign(3, false)
    assert.equal(record.facts, encodeFacts(base).digest)
    assert.equal(self.encoded?.digest, record.facts)
    assert.deepEqual(record.boot, base.boot)
    assert.equal(record.agentVersion, '0.1.0')
    const v = verifyRecord(info.record, A.id)
    assert.deepEqual(v.ok ? v.value : v.reason, record)
    assert.ok(info.record.byteLength < 300, `signed record of ${info.record.byteLength} bytes`)
    assert.equal(await self.refresh(), false, 'the same facts: nothing to re-sign')
    facts = { ...base, disks: [{ mount: '/', sizeBytes: 10, freeBytes: 5 }] }
    assert.equal(await self.refresh(), true, 'changed facts: a new digest')
    assert.notEqual(self.sign(4, false).record.facts, record.facts)
    assert.equal(self.sign(5, true).record.state, 'left')
  })
})
