import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient } from '../../../../cli/client.js'
import { reconfigure, verify } from '../../../../cli/commands/verify.js'
import { ExitError } from '../../../../cli/errors.js'
import { EXIT_DRIFT } from '../../../../protocol/exit-codes.js'
import { collectOutput, startManagerFixture, testContext, type ManagerFixture } from '../manager-fixture.js'

describe('clusterctl verify / reconfigure', () => {
  let fx: ManagerFixture
  let client: ApiClient
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('post {nodes, all} to their own routes and print the created job', async () => {
    assert.match(await verify(client, ['db1'], {}, testContext()) as string, /^job verify-ok queued: verify of db1\nfollow it with: clusterctl job logs verify-ok --follow\n$/)
    assert.deepEqual(fx.requestsTo('verify').at(-1)?.body, { nodes: ['db1'], all: false })
    await reconfigure(client, [], { all: true }, testContext())
    assert.deepEqual(fx.requestsTo('reconfigure').at(-1)?.body, { nodes: [], all: true })
  })

  it('--wait follows the job to its end', async () => {
    const out = await collectOutput(await reconfigure(client, ['db1'], { wait: true, waitOptions: { firstDelayMs: 10 } }, testContext()))
    assert.match(out, /^job reconfigure-ok queued: reconfigure of db1\n/)
    assert.match(out, /NODE +OUTCOME/)
  })

  it('verify --wait exits 0 without drift and 9 (EXIT_DRIFT) when a checked node has drift', async () => {
    const clean = await collectOutput(await verify(client, ['db1'], { wait: true, waitOptions: { firstDelayMs: 10 } }, testContext()))
    assert.match(clean, /NODE +OUTCOME/)
    await assert.rejects(
      async () => await collectOutput(await verify(client, ['db1', 'drift1'], { wait: true, waitOptions: { firstDelayMs: 10 } }, testContext())),
      (err: unknown) => err instanceof ExitError && err.exitCode === EXIT_DRIFT && /drift found on 1 of 2 node\(s\): drift1/.test(err.message))
  })

  it('sends -l as the selector and refuses a bad one or a selector with names locally', async () => {
    await verify(client, [], { selector: 'role=worker,zone=a' }, testContext())
    assert.deepEqual(fx.requestsTo('verify').at(-1)?.body, { nodes: [], all: false, selector: 'role=worker,zone=a' })
    const before = fx.requests.length
    await assert.rejects(verify(client, [], { selector: 'zone' }, testContext()), (err: unknown) => err instanceof ExitError && err.exitCode === 2 && /--selector: /.test(err.message))
    await assert.rejects(verify(client, ['db1'], { selector: 'zone=a' }, testContext()), /only one of/)
    assert.equal(fx.requests.length, before)
  })

  it('refuses locally with exit 2 and sends nothing: no nodes, or names with --all', async () => {
    const before = fx.requests.length
    const usage = (pattern: RegExp) => (err: unknown): boolean => err instanceof ExitError && err.exitCode === 2 && pattern.test(err.message)
    await assert.rejects(verify(client, [], {}, testContext()), usage(/name at least one node to verify, or pass --all/))
    await assert.rejects(reconfigure(client, ['db1'], { all: true }, testContext()), usage(/only one of: node names, --all, --selector/))
    await assert.rejects(verify(client, ['../x'], {}, testContext()), usage(/not a valid node name/))
    assert.equal(fx.requests.length, before)
  })
})
