// Backup and restore on real hosts: three manager-eligible agents, a node commissioned by a
// real job (ansible-runner over SSH), a config write. `clusterctl backup` through a
// non-manager agent (the stream is forwarded to the manager) writes a 0600 file; every agent
// is stopped and every store wiped; a damaged copy is refused by `clusterd store restore`
// (exit 65, nothing created); the good file is restored on one node, whose agent starts first
// and becomes manager; the others join with empty stores. Every node, job, event and config
// value the backup held is served again, and the other agents replicate the restored state.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, CLUSTERCTL, CLUSTERD, NODE, agreedManager } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import { decodeBackup } from '../../protocol/backup-format.js'
import type { JobRecord } from '../../protocol/jobs.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { LifecycleEvent, NodeRecord } from '../../protocol/nodes.js'
import type { ReplicaStatus } from '../../protocol/replication-wire.js'

const DATA_DIR = '/var/lib/clusterd'

describe('backup and restore of the manager store on real hosts', () => {
  let fleet: AgentFleet
  const h = (i: number): TestHost => fleet.host(i)
  const agent = (i: number): AgentProcess => fleet.agent(i)
  const agreed = async (): Promise<ManagerInfo | undefined> => await agreedManager(fleet.agents)
  const clusterctl = async (via: number, args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await h(via).exec([NODE, CLUSTERCTL, '--addr', agent(via).socket, ...args], { timeoutMs: 180_000 })
  const restore = async (i: number, file: string): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await h(i).exec([NODE, CLUSTERD, 'store', 'restore', file, '--data-dir', DATA_DIR], { timeoutMs: 60_000 })
  const nodes = async (a: AgentProcess): Promise<NodeRecord[]> => await a.client.request<NodeRecord[]>('GET', '/v1/nodes')
  const jobs = async (a: AgentProcess): Promise<JobRecord[]> => await a.client.request<JobRecord[]>('GET', '/v1/jobs?limit=10000')
  const events = async (a: AgentProcess): Promise<LifecycleEvent[]> => await a.client.request<LifecycleEvent[]>('GET', '/v1/events?limit=100000')

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'backup', prefix: 'bk', count: 3, managerKey: true, seeds: 'others' })
    await fleet.startAll()
    await fleet.waitForManager()
  })

  after(async () => {
    await fleet?.close()
  })

  it('a cluster restored from a backup on one node comes back with every node, job, event and config value; a damaged backup is refused', async (t) => {
    const m = await waitFor(agreed, { timeoutMs: 30_000, message: 'agreed manager' })
    const mi = fleet.indexOf(m.name)
    const via = mi === 0 ? 1 : 0 // a non-manager agent: the backup stream is forwarded
    const worker = fleet.hosts.findIndex((_x, i) => i !== mi && i !== via)
    await waitFor(async () => (await nodes(agent(via))).filter(n => n.boot != null).length === 3 ? true : undefined,
      { timeoutMs: 60_000, message: 'three nodes discovered with their boot facts' })
    const commission = await clusterctl(via, ['commission', h(worker).name, '--role', 'worker', '--wait'])
    assert.equal(commission.code, 0, `commission failed:\n${commission.stdout}\n${commission.stderr}`)
    const setVar = await clusterctl(via, ['config', 'set', 'vars', '{"backup_marker":"before"}'])
    assert.equal(setVar.code, 0, setVar.stderr)
    // No verify job when the restarted agents come back: the node states compare exactly.
    const onReturn = await clusterctl(via, ['config', 'set', 'on-return', 'none'])
    assert.equal(onReturn.code, 0, onReturn.stderr)

    const file = join(fleet.dir, 'cluster.backup')
    const saved = await clusterctl(via, ['backup', file])
    assert.equal(saved.code, 0, `clusterctl backup failed:\n${saved.stdout}\n${saved.stderr}`)
    assert.match(saved.stdout, /backup of manager store revision \d+ \(\d+ entries, \d+ bytes\) written to /)
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'the backup holds the cluster records: mode 0600')
    const data = await readFile(file)
    const decoded = decodeBackup(data)
    assert.ok(decoded.ok, JSON.stringify(decoded))
    assert.equal(decoded.header.source.peerId, m.peerId, 'taken from the elected manager')
    t.diagnostic(`backup: revision ${decoded.header.revision}, ${decoded.entries.length} entries, ${data.length} bytes`)

    // What the cluster held, as the API shows it (read after the backup; nothing wrote in between
    // but reachability, which the restored manager re-derives anyway).
    const before = { nodes: await nodes(agent(via)), jobs: await jobs(agent(via)), events: await events(agent(via)) }
    assert.equal(before.nodes.find(n => n.name === h(worker).name)?.state, 'commissioned')
    const commissionJob = before.jobs.find(j => j.kind === 'commission' && j.nodes.includes(h(worker).name))
    assert.equal(commissionJob?.status, 'succeeded')
    assert.ok(before.events.length >= 4, `events before: ${before.events.length}`)

    // The whole cluster goes down and loses its stores.
    for (const a of fleet.running()) await a.stop('SIGTERM')
    for (let i = 0; i < 3; i++) {
      const wiped = await h(i).exec(['rm', '-rf', join(DATA_DIR, 'manager')])
      assert.equal(wiped.code, 0, wiped.stderr)
    }
    const target = (mi + 1) % 3 // restore on a node that was not the manager: any node can hold it

    // A damaged copy (one changed byte) is refused: exit 65, nothing created.
    const damaged = join(fleet.dir, 'damaged.backup')
    const copy = Buffer.from(data)
    const at = copy.indexOf('"commissioned"') + 2
    copy[at] = copy[at] === 0x43 ? 0x44 : 0x43
    await writeFile(damaged, copy, { mode: 0o600 })
    const refused = await restore(target, damaged)
    assert.equal(refused.code, 65, `damaged backup: ${refused.stdout}\n${refused.stderr}`)
    assert.match(refused.stderr, /checksum mismatch.*nothing was changed \(CLUSTERD_ERR_BACKUP_DAMAGED\)/)
    const listing = await h(target).exec(['ls', '-A', DATA_DIR])
    assert.ok(!/^manager$/m.test(listing.stdout), `the refused restore created a store: ${listing.stdout}`)
    const truncated = join(fleet.dir, 'truncated.backup')
    await writeFile(truncated, data.subarray(0, Math.floor(data.length / 2)), { mode: 0o600 })
    const cut = await restore(target, truncated)
    assert.equal(cut.code, 65, cut.stderr)
    assert.match(cut.stderr, /truncated.*\(CLUSTERD_ERR_BACKUP_DAMAGED\)/)

    const ok = await restore(target, file)
    assert.equal(ok.code, 0, `restore failed:\n${ok.stdout}\n${ok.stderr}`)
    assert.match(ok.stdout, new RegExp(`revision ${decoded.header.revision}, ${decoded.entries.length} entries`))

    // The restored node starts first and becomes manager; the others join with empty stores.
    await fleet.start(target)
    const restoredManager = await waitFor(async () => (await agent(target).manager())?.name === h(target).name ? await agent(target).manager() : undefined,
      { timeoutMs: 60_000, message: () => `the restored node did not become manager:\n${agent(target).output.slice(-3000)}` })
    for (let i = 0; i < 3; i++) if (i !== target) await fleet.start(i)
    await waitFor(async () => (await agreed())?.peerId === restoredManager?.peerId ? true : undefined,
      { timeoutMs: 60_000, message: 'every agent follows the restored manager' })

    const reader = agent((target + 1) % 3)
    const afterNodes = await waitFor(async () => { const n = await nodes(reader).catch(() => []); return n.length >= before.nodes.length ? n : undefined },
      { timeoutMs: 30_000, message: 'nodes from the restored manager' })
    for (const n of before.nodes) {
      const back = afterNodes.find(x => x.name === n.name)
      assert.ok(back !== undefined, `node ${n.name} is back`)
      assert.deepEqual({ state: back.state, peerId: back.peerId, roles: back.roles }, { state: n.state, peerId: n.peerId, roles: n.roles }, `node ${n.name}`)
    }
    const afterJobs = await jobs(reader)
    for (const j of before.jobs) {
      assert.deepEqual(afterJobs.find(x => x.id === j.id), j, `job ${j.id} is back as it was`)
    }
    const afterEvents = await events(reader)
    for (const e of before.events) {
      assert.deepEqual(afterEvents.find(x => x.gseq === e.gseq), e, `event ${e.gseq} is back as it was`)
    }
    const vars = await reader.client.request<{ value: unknown }>('GET', '/v1/config/vars')
    assert.deepEqual(vars.value, { backup_marker: 'before' })
    assert.equal((await reader.client.request<{ value: unknown }>('GET', '/v1/config/on-return')).value, 'none')
    const revisions = await waitFor(async () => {
      const st = await Promise.all([0, 1, 2].map(async i => await agent(i).client.request<ReplicaStatus>('GET', '/v1/replica')))
      const mgr = st[target]
      return mgr !== undefined && st.every(s => s.revision === mgr.revision) && st.filter(s => s.role === 'replica').length === 2 ? st : undefined
    }, { timeoutMs: 60_000, intervalMs: 250, message: 'the other agents replicate the restored store' })
    assert.ok((revisions[target]?.revision ?? 0) >= decoded.header.revision, 'the restored store goes on from the backup\'s revision')
  })
})
