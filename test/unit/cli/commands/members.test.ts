import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parse as parseYaml } from 'yaml'
import { ApiClient } from '../../../../cli/client.js'
import { members, shortAddress } from '../../../../cli/commands/members.js'
import { MEMBERS, startFixture, type Fixture } from '../fixtures.js'

describe('clusterctl members', () => {
  let fx: Fixture
  let client: ApiClient
  const now = new Date('2026-11-22T10:05:00.000Z')
  before(async () => {
    fx = await startFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('prints an aligned table sorted by name', async () => {
    const text = await members(client, { output: 'table', now })
    assert.equal(text, [
      'NAME   STATUS    BINDING                                ADDRESS              INCARNATION   LABELS             LAST-SEEN',
      'db1    alive     bound                                  10.0.0.1:7946        3             -                  5s ago',
      'web2   suspect   CONFLICT (name bound to ...sTheName)   10.0.0.2:7946 (+1)   12            rack=r2,tier=web   5m ago',
      ''
    ].join('\n'))
  })

  it('BINDING: a member from an agent that does not mark bindings shows -', async () => {
    const bare = { ...MEMBERS[1] } as Partial<typeof MEMBERS[number]>
    delete bare.nameBinding
    delete bare.nameBoundTo
    const { bindingText } = await import('../../../../cli/commands/members.js')
    assert.equal(bindingText(bare as typeof MEMBERS[number]), '-')
    assert.equal(bindingText({ ...MEMBERS[1], nameBinding: 'unknown' } as typeof MEMBERS[number]), 'unknown')
  })

  it('prints the exact API objects as pretty JSON', async () => {
    const text = await members(client, { output: 'json', now })
    assert.deepEqual(JSON.parse(text), MEMBERS)
    assert.equal(text, JSON.stringify(MEMBERS, null, 2) + '\n')
  })

  it('prints the same objects as YAML', async () => {
    assert.deepEqual(parseYaml(await members(client, { output: 'yaml', now })), MEMBERS)
  })

  it('shortens tcp multiaddrs and leaves others alone', () => {
    assert.equal(shortAddress('/ip4/1.2.3.4/tcp/1'), '1.2.3.4:1')
    assert.equal(shortAddress('/ip6/::1/tcp/2/p2p/12D3'), '[::1]:2')
    assert.equal(shortAddress('/dns4/a.example/tcp/3'), 'a.example:3')
    assert.equal(shortAddress('/ip4/1.2.3.4/udp/1/quic'), '/ip4/1.2.3.4/udp/1/quic')
  })
})
