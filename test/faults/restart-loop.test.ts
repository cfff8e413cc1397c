// Fault injection: an agent restart loop. Four manager-eligible agents and a writer going all
// along; a non-manager agent is killed (-9) and started again several times in a row without
// waiting for the cluster to notice, then the manager's agent the same way. Afterwards the
// cluster converges: every agent sees every member alive, all agree on one manager, every
// replica catches up, and no acknowledged write is lost.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { AgentProcess } from '../harness/agent-process.js'
import { waitFor } from '../harness/poll.js'
import { AckedWriter } from './acked-writes.js'
import { FaultCluster } from './cluster.js'
import { RESULTS_DIR, faultRounds, writeResult } from './results.js'

const HOSTS = 4

describe('fault injection: agent restart loop', () => {
  const started = Date.now()
  const loops = Math.min(faultRounds(), 5)
  let c: FaultCluster
  const result: Record<string, unknown> = {}

  before(async () => {
    c = await FaultCluster.create({ prefix: 'ftr', count: HOSTS })
    await c.waitForNodes(HOSTS)
  })

  after(async () => {
    await c?.saveLogs(join(RESULTS_DIR, 'logs', 'restart-loop')).catch(() => {})
    await writeResult('restart-loop', started, result)
    await c?.destroy()
  })

  /** kill -9 and start `name` again `times` times, each restart as soon as its API answers. */
  const loop = async (name: string, times: number): Promise<void> => {
    for (let i = 0; i < times; i++) {
      await c.kill(name)
      const a = await c.startAgent(c.host(name))
      await waitFor(async () => await a.members(), { timeoutMs: 30_000, intervalMs: 50, message: `${name} answering after restart ${i + 1}` })
    }
  }

  /** Every agent lists every member alive and all agree on a manager; returns the time it took. */
  const converge = async (): Promise<number> => {
    const t0 = Date.now()
    let last: unknown
    await waitFor(async () => {
      const views = await Promise.all(c.running().map(async a => await a.members()))
      last = views.map(v => v?.map(m => `${m.name}:${m.status}`).join(','))
      return views.every(v => v !== null && v.length === HOSTS && v.every(m => m.status === 'alive')) ? true : undefined
    }, { timeoutMs: 60_000, intervalMs: 250 }).catch(err => { throw new Error(`membership did not converge: ${JSON.stringify(last)}: ${(err as Error).message}`) })
    const m = await c.waitForManager({ timeoutMs: 60_000 })
    for (const a of c.running()) if (a.host.name !== m.name) await c.waitForReplica(a.host.name, m, 60_000, 50)
    return Date.now() - t0
  }

  it('the cluster converges after a non-manager agent and then the manager agent restart in a loop, losing no acknowledged write', async () => {
    const m0 = await c.waitForStable()
    const other = c.hosts.find(h => h.name !== m0.name)?.name as string
    const writer = new AckedWriter(() => c.running().find(a => a.host.name !== other && a.host.name !== m0.name) as AgentProcess | undefined, undefined, 1, 100)
    writer.start()
    try {
      await loop(other, loops)
      const afterWorker = await converge()
      const mBefore = await c.waitForManager()
      await loop(mBefore.name, loops)
      const afterManager = await converge()
      await writer.stop()
      const m = await c.waitForStable()
      const reader = c.agent(m.name)
      const check = await writer.check(reader)
      Object.assign(result, {
        loops, restartedWorker: other, restartedManager: mBefore.name, convergeAfterWorkerLoopMs: afterWorker, convergeAfterManagerLoopMs: afterManager,
        managerAfter: m.name, epochAfter: m.epoch, acked: writer.acks.length, writeErrors: writer.errors.length, check
      })
      assert.equal(check.lost, 0, `acknowledged writes lost: ${JSON.stringify(check)}`)
      // A write through every agent works.
      for (const a of c.running()) assert.ok(await writer.writeOnce(a, 30_000), `a write through ${a.host.name}: ${writer.errors.at(-1)?.message ?? ''}`)
    } finally {
      await writer.stop()
    }
  })
})
