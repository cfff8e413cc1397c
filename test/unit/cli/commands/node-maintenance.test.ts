import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient } from '../../../../cli/client.js'
import { cordon, labelRequest, markBroken, markFixed, nodeLabel } from '../../../../cli/commands/node-maintenance.js'
import { nodeSetRoles } from '../../../../cli/commands/node-set-roles.js'
import { ExitError } from '../../../../cli/errors.js'
import { collectOutput, startManagerFixture, testContext, type ManagerFixture } from '../manager-fixture.js'

const usage = (pattern: RegExp) => (err: unknown): boolean => err instanceof ExitError && err.exitCode === 2 && pattern.test(err.message)

describe('clusterctl cordon, uncordon, mark-broken, mark-fixed, node label', () => {
  let fx: ManagerFixture
  let client: ApiClient
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('cordon and uncordon post to their routes and say what it means', async () => {
    assert.match(await cordon(client, 'db1', true), /^node db1 cordoned: no new jobs but decommission, no on-return action, skipped by --all and selectors/)
    assert.equal(fx.requestsTo('cordonNode').at(-1)?.params.name, 'db1')
    assert.match(await cordon(client, 'db1', false), /^node db1 uncordoned: it takes jobs again/)
    assert.equal(fx.requestsTo('uncordonNode').length, 1)
  })

  it('mark-broken needs a reason and sends it; mark-fixed names the state it returned to', async () => {
    await assert.rejects(markBroken(client, 'db1', {}), usage(/needs --reason/))
    await assert.rejects(markBroken(client, 'db1', { reason: '  ' }), usage(/needs --reason/))
    assert.match(await markBroken(client, 'db1', { reason: 'PSU failed' }), /^node db1 marked broken \(was commissioned\): PSU failed\nclusterctl mark-fixed db1/)
    assert.deepEqual(fx.requestsTo('markBroken').at(-1)?.body, { reason: 'PSU failed' })
    assert.match(await markFixed(client, 'db1'), /^node db1 marked fixed: back to commissioned\n$/)
  })

  it('node label parses K=V and K- and prints the labels after', async () => {
    assert.deepEqual(labelRequest(['zone=a', 'rack-', 'tier=']), { set: { zone: 'a', tier: '' }, remove: ['rack'] })
    assert.throws(() => labelRequest([]), usage(/at least one label change/))
    assert.throws(() => labelRequest(['zone']), usage(/expected K=V to set a label or K- to remove one/))
    assert.throws(() => labelRequest(['zone=a', 'zone-']), usage(/changed twice/))
    assert.throws(() => labelRequest(['bad key=x']), usage(/label key "bad key" is invalid/))
    assert.equal(await nodeLabel(client, 'db1', ['zone=a']),
      'node db1 labels: zone=a\njob reconfigure-ok queued: reconfigure of db1\nfollow it with: clusterctl job logs reconfigure-ok --follow\n')
    assert.deepEqual(fx.requestsTo('labelNode').at(-1)?.body, { set: { zone: 'a' } })
    assert.equal(await nodeLabel(client, 'web2', ['zone=b', 'rack-']),
      'node web2 labels: zone=b\nnot re-applied: the node is commission-failed; run clusterctl reconfigure web2 later to apply them\n')
    const waited = await collectOutput(await nodeLabel(client, 'db1', ['zone=a'], { wait: true, waitOptions: { firstDelayMs: 10 } }, testContext()))
    assert.match(waited, /^node db1 labels: zone=a\njob reconfigure-ok queued: reconfigure of db1\n[\s\S]*NODE +OUTCOME/)
  })

  it('refuses a bad node name before any request', async () => {
    const before = fx.requests.length
    await assert.rejects(cordon(client, '../etc', true), usage(/not a valid node name/))
    assert.equal(fx.requests.length, before)
  })
})

describe('clusterctl node set-roles', () => {
  let fx: ManagerFixture
  let client: ApiClient
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('posts the whole new role set and the request vars, and prints the reconfigure job', async () => {
    const out = await nodeSetRoles(client, 'db1', { role: ['storage'], var: ['storage_path=/srv/x'] }, testContext())
    assert.match(out as string, /^job reconfigure-ok queued: reconfigure of db1 \(roles: storage\)\n/)
    assert.deepEqual(fx.requestsTo('setNodeRoles').at(-1)?.params, { name: 'db1' })
    assert.deepEqual(fx.requestsTo('setNodeRoles').at(-1)?.body, { roles: ['storage'], vars: { storage_path: '/srv/x' } })
    await assert.rejects(nodeSetRoles(client, 'db1', {}, testContext()), usage(/at least one --role/))
  })
})
