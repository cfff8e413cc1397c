// The manager addresses a node through the peer its name is bound to, never by name: a member
// that claims the name (an impostor) gives no address and no host keys to pin.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { targetOf, targetWithFacts } from '../../../manager/manager.js'
import type { Member } from '../../../protocol/members.js'
import type { NodeRecord } from '../../../protocol/nodes.js'

const AT = '2026-12-06T08:00:00.000Z'
const node: NodeRecord = {
  name: 'db1', peerId: 'peer-real', state: 'commissioned', roles: [], vars: {}, reachable: true, currentJob: null, lastJob: null, reason: null,
  since: AT, discoveredAt: AT, updatedAt: AT, boot: null, drift: null, nameConflicts: [{ peerId: 'peer-impostor', since: AT }], revision: null, agentVersion: null, cordoned: false, labels: {}
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

describe('targetWithFacts', () => {
  const withoutFacts = (m: Member): Member => ({ ...m, facts: null })

  it("fetches the facts a job needs when the bound peer's were not fetched yet, then targets it", async () => {
    let view = [withoutFacts(member('peer-real', '10.0.0.1', 'REALKEY'))]
    let fetches = 0
    const membership = {
      members: () => view,
      onChange: () => () => {},
      memberWithFacts: async (peerId: string, signal: AbortSignal) => {
        assert.equal(signal.aborted, false)
        assert.equal(peerId, 'peer-real')
        fetches++
        view = [member('peer-real', '10.0.0.1', 'REALKEY')]
        return view[0] ?? null
      }
    }
    assert.match((targetOf(view, node) as { unavailable: string }).unavailable, /not been fetched/)
    assert.deepEqual(await targetWithFacts(membership, node, new AbortController().signal), { address: '10.0.0.1', hostKeys: [{ type: 'ssh-ed25519', key: 'REALKEY' }] })
    assert.equal(fetches, 1)
    // Known facts: no fetch.
    await targetWithFacts(membership, node, new AbortController().signal)
    assert.equal(fetches, 1)
  })

  it('does not fetch for a peer that is not a member, and says why when the facts do not come', async () => {
    let fetches = 0
    const never = {
      members: () => [withoutFacts(member('peer-real', '10.0.0.1', 'REALKEY'))],
      onChange: () => () => {},
      memberWithFacts: async (_peerId: string, signal: AbortSignal) => {
        fetches++
        await new Promise(resolve => { signal.addEventListener('abort', resolve, { once: true }) })
        throw new Error('aborted')
      }
    }
    const ac = new AbortController()
    const pending = targetWithFacts(never, node, ac.signal)
    ac.abort()
    const t = await pending
    assert.ok('unavailable' in t)
    assert.match(t.unavailable, /not been fetched/)
    assert.equal(fetches, 1)
    const gone = { ...never, members: () => [] }
    const t2 = await targetWithFacts(gone, node, new AbortController().signal)
    assert.match((t2 as { unavailable: string }).unavailable, /not in the membership view/)
    assert.equal(fetches, 1)
  })
})
