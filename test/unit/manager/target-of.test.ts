// The manager addresses a node through the peer its name is bound to, never by name: a member
// that claims the name (an impostor) gives no address and no host keys to pin.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { targetOf } from '../../../manager/manager.js'
import type { Member } from '../../../protocol/members.js'
import type { NodeRecord } from '../../../protocol/nodes.js'

const AT = '2026-12-06T08:00:00.000Z'
const node: NodeRecord = {
  name: 'db1', peerId: 'peer-real', state: 'commissioned', roles: [], vars: {}, reachable: true, currentJob: null, lastJob: null, reason: null,
  since: AT, discoveredAt: AT, updatedAt: AT, boot: null, drift: null, nameConflicts: [{ peerId: 'peer-impostor', since: AT }]
}

function member (peerId: string, ip: string, key: string): Member {
  return {
    name: 'db1', peerId, addresses: [`/ip4/${ip}/tcp/7946`], status: 'alive', incarnation: 1, labels: {}, managerEligible: false, lastSeen: AT, boot: null,
    facts: { hostname: 'db1', addresses: [ip], os: { platform: 'linux', release: '6', distro: 'Debian' }, kernel: '6', arch: 'x64', cpus: 1, memoryBytes: 1, disks: [], agentVersion: '0', sshHostKeys: [{ type: 'ssh-ed25519', key }] }
  }
}

describe('targetOf', () => {
  it("takes the bound peer's address and host keys, whatever else claims the name", () => {
    const impostor = member('peer-impostor', '10.0.0.66', 'IMPOSTORKEY')
    const real = member('peer-real', '10.0.0.1', 'REALKEY')
    assert.deepEqual(targetOf([impostor, real], node), { address: '10.0.0.1', hostKeys: [{ type: 'ssh-ed25519', key: 'REALKEY' }] })
  })

  it('with the bound peer gone, the node is unavailable: the impostor is not a fallback', () => {
    const t = targetOf([member('peer-impostor', '10.0.0.66', 'IMPOSTORKEY')], node)
    assert.ok('unavailable' in t)
    assert.match(t.unavailable, /peer-real is not in the membership view/)
  })
})
