import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient } from '../../../../cli/client.js'
import { commission } from '../../../../cli/commands/commission.js'
import { decommission } from '../../../../cli/commands/decommission.js'
import { upgrade } from '../../../../cli/commands/upgrade.js'
import { ExitError } from '../../../../cli/errors.js'
import { collectOutput, startManagerFixture, testContext, type ManagerFixture } from '../manager-fixture.js'

function exit (code: number, pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ExitError, `expected ExitError, got ${String(err)}`)
    assert.equal(err.exitCode, code)
    assert.match(err.message, pattern)
    return true
  }
}

describe('clusterctl commission / decommission / upgrade', () => {
  let fx: ManagerFixture
  let client: ApiClient
  let dir: string
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
    dir = await mkdtemp(join(tmpdir(), 'clusterctl-commission-'))
  })
  after(async () => {
    await fx.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('commission posts {nodes, roles, vars, allDiscovered}, --var winning over --vars-file', async () => {
    const file = join(dir, 'vars.json')
    await writeFile(file, '{"ntp": "10.0.0.1", "motd": "from file"}')
    const out = await collectOutput(await commission(client, ['web1', 'web3'], { role: ['worker', 'base'], var: ['motd=from flag'], varsFile: file }, testContext()))
    assert.equal(out, 'job commission-ok queued: commission of web1, web3 (roles: worker, base)\nfollow it with: clusterctl job logs commission-ok --follow\n')
    const req = fx.requestsTo('commission').at(-1)
    assert.equal(req?.method, 'POST')
    assert.deepEqual(req?.body, { nodes: ['web1', 'web3'], roles: ['worker', 'base'], vars: { ntp: '10.0.0.1', motd: 'from flag' }, allDiscovered: false })
  })

  it('commission --all-discovered sends no names', async () => {
    await commission(client, [], { role: ['worker'], allDiscovered: true }, testContext())
    assert.deepEqual(fx.requestsTo('commission').at(-1)?.body, { nodes: [], roles: ['worker'], vars: {}, allDiscovered: true })
  })

  it('refuses bad requests locally, sending nothing', async () => {
    const before = fx.requests.length
    const ctx = testContext()
    await assert.rejects(commission(client, ['web1'], { role: ['worker'], var: ['oops'] }, ctx), exit(2, /^--var: expected NAME=VALUE/))
    await assert.rejects(commission(client, ['web1'], { role: ['worker'], allDiscovered: true }, ctx), exit(2, /only one of: node names, --all-discovered, --selector/))
    await assert.rejects(commission(client, [], { role: ['worker'] }, ctx), exit(2, /name at least one node/))
    await assert.rejects(commission(client, ['web1', 'web1'], { role: ['worker'] }, ctx), exit(2, /node web1 is named twice/))
    await assert.rejects(upgrade(client, ['web1'], { all: true }, ctx), exit(2, /only one of: node names, --all, --selector/))
    await assert.rejects(upgrade(client, [], {}, ctx), exit(2, /name at least one node to upgrade, or pass --all/))
    await assert.rejects(decommission(client, ['web1'], {}, ctx), exit(2, /^refusing to decommission web1 without confirmation: stdin is not a terminal; pass --yes$/))
    assert.equal(fx.requests.length, before)
  })

  it('decommission asks on a terminal: yes sends {nodes}, no changes nothing (exit 1)', async () => {
    const questions: string[] = []
    const yes = testContext({ confirm: async q => { questions.push(q); return true } })
    await collectOutput(await decommission(client, ['web1', 'web3'], {}, yes))
    assert.deepEqual(questions, ['Decommission web1, web3? This runs the decommission playbook and removes their roles. [y/N] '])
    assert.deepEqual(fx.requestsTo('decommission').at(-1)?.body, { nodes: ['web1', 'web3'] })
    const count = fx.requestsTo('decommission').length
    await assert.rejects(decommission(client, ['web1'], {}, testContext({ confirm: async () => false })), exit(1, /^not confirmed; nothing was changed$/))
    assert.equal(fx.requestsTo('decommission').length, count)
  })

  it('upgrade posts {nodes, all, vars}', async () => {
    await upgrade(client, [], { all: true, var: ['channel=stable'] }, testContext())
    assert.deepEqual(fx.requestsTo('upgrade').at(-1)?.body, { nodes: [], all: true, vars: { channel: 'stable' } })
    await upgrade(client, ['db1'], {}, testContext())
    assert.deepEqual(fx.requestsTo('upgrade').at(-1)?.body, { nodes: ['db1'], all: false, vars: {} })
  })

  it('--wait prints the created line, then follows the job to its summary', async () => {
    const out = await collectOutput(await upgrade(client, ['db1'], { wait: true, waitOptions: { firstDelayMs: 10 } }, testContext()))
    assert.match(out, /^job upgrade-ok queued: upgrade of db1\n/)
    assert.doesNotMatch(out, /follow it with/)
    assert.match(out, /\nNODE   OUTCOME   OK   CHANGED   FAILED   MESSAGE\ndb1    ok        3    1         0        -\n$/)
  })
})
