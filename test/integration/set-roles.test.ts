// `clusterctl node set-roles` on a real host: a commissioned worker is moved to the storage role
// and back, through the real clusterctl, the manager's real ansible-runner over real SSH and
// the shipped cleanup playbooks. What the removed role created is gone from the host; what the
// new role needs is there; the record and its events say so; a verify afterwards is clean.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, CLUSTERCTL, NODE } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import type { LifecycleEvent, NodeRecord } from '../../protocol/nodes.js'

const STORAGE = '/srv/clusterd-data'

describe('node set-roles on a real host (cleanup playbooks)', () => {
  let fleet: AgentFleet
  const h = (i: number): TestHost => fleet.host(i)
  const api = (): AgentProcess => fleet.agent(0)

  const node = async (name: string): Promise<NodeRecord> => await api().client.request<NodeRecord>('GET', `/v1/nodes/${name}`).then((d: any) => d.node)
  const events = async (name: string): Promise<LifecycleEvent[]> => await api().client.request<LifecycleEvent[]>('GET', `/v1/events?node=${name}&limit=1000`)
  const clusterctl = async (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await h(0).exec([NODE, CLUSTERCTL, '--addr', api().socket, ...args], { timeoutMs: 180_000 })
  const ctlOk = async (args: string[]): Promise<string> => {
    const r = await clusterctl(args)
    assert.equal(r.code, 0, `clusterctl ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`)
    return r.stdout
  }
  /** True when `path` exists on the worker host. */
  const exists = async (path: string): Promise<boolean> => (await h(1).exec(['test', '-e', path])).code === 0
  const hasUser = async (): Promise<boolean> => (await h(1).exec(['getent', 'passwd', 'clusterd-worker'])).code === 0

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'set-roles', prefix: 'sr', count: 2, managerKey: true, eligible: i => i === 0 })
    await fleet.startAll()
    await fleet.waitForManager({ name: h(0).name, among: [fleet.agent(1)] })
    await waitFor(async () => (await node(h(1).name).catch(() => undefined))?.boot != null ? true : undefined,
      { timeoutMs: 30_000, message: 'the worker was discovered with its boot fact' })
    await ctlOk(['commission', h(1).name, '--role', 'worker', '--wait'])
  })

  after(async () => {
    await fleet?.close()
  })

  it('worker -> storage: the worker cleanup really ran (user, config, work dir, sysctl drop-in gone) and the storage tree exists', async () => {
    assert.ok(await exists('/etc/clusterd-worker/worker.conf'), 'commissioned as a worker')
    assert.ok(await hasUser())
    const out = await ctlOk(['node', 'set-roles', h(1).name, '--role', 'storage', '--var', `storage_path=${STORAGE}`, '--wait'])
    assert.match(out, new RegExp(`reconfigure of ${h(1).name} \\(roles: storage\\)`))
    for (const path of ['/etc/clusterd-worker', '/var/lib/clusterd-worker', '/etc/sysctl.d/60-clusterd-worker.conf']) assert.equal(await exists(path), false, `${path} was removed`)
    assert.equal(await hasUser(), false, 'the worker user was removed')
    assert.ok(await exists(`${STORAGE}/data`), 'the storage role was applied')
    assert.ok(await exists('/etc/clusterd-storage/storage.json'))
    const n = await node(h(1).name)
    assert.deepEqual(n.roles, ['storage'])
    assert.equal(n.vars.storage_path, STORAGE)
    assert.equal(n.state, 'commissioned')
    assert.deepEqual((await events(h(1).name)).map(e => e.type).slice(-3), ['reconfigure-requested', 'roles-set', 'reconfigured'])
  })

  it('storage -> worker: the recorded storage tree is removed, the worker is back, and verify finds no drift', async () => {
    await ctlOk(['node', 'set-roles', h(1).name, '--role', 'worker', '--wait'])
    assert.equal(await exists(STORAGE), false, 'the storage tree was removed')
    assert.equal(await exists('/etc/clusterd-storage'), false)
    assert.ok(await exists('/etc/clusterd-worker/worker.conf'))
    assert.ok(await hasUser())
    assert.deepEqual((await node(h(1).name)).roles, ['worker'])
    const verify = await clusterctl(['verify', h(1).name, '--wait'])
    assert.equal(verify.code, 0, `no drift after set-roles:\n${verify.stdout}\n${verify.stderr}`)
    assert.match(verify.stdout, /no drift: the node matches its roles/)
  })

  it('refuses to remove a role that is not there to keep: the same set is an error (exit 2), nothing runs', async () => {
    const same = await clusterctl(['node', 'set-roles', h(1).name, '--role', 'worker'])
    assert.equal(same.code, 2)
    assert.match(same.stderr, /already has roles worker/)
  })
})
