// Fault injection: a worker agent killed (-9) and started again, many times, each time waiting
// for the new process to say it started, for the manager to see the worker alive again, and for
// the manager's node record to carry the new agent start (what the on-return policy acts on).
// CI once saw a restarted agent print nothing for 60 s and never rejoin (issue 11, item 7);
// when a round hangs, this records where the process is (its threads' kernel wait channels,
// its open files and a Node diagnostic report) before failing.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import { waitFor } from '../harness/poll.js'
import type { AgentProcess } from '../harness/agent-process.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { FaultCluster } from './cluster.js'
import { RESULTS_DIR, faultRounds, writeResult } from './results.js'

/** Where a stuck process is: per thread its name, state and kernel wait channel; its open files. */
async function whereIs (pid: number): Promise<string> {
  const lines: string[] = []
  try {
    for (const tid of await readdir(`/proc/${pid}/task`)) {
      const comm = (await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8').catch(() => '?')).trim()
      const wchan = (await readFile(`/proc/${pid}/task/${tid}/wchan`, 'utf8').catch(() => '?')).trim()
      const state = /State:\s+(.*)/.exec(await readFile(`/proc/${pid}/task/${tid}/status`, 'utf8').catch(() => ''))?.[1] ?? '?'
      const stack = (await readFile(`/proc/${pid}/task/${tid}/stack`, 'utf8').catch(() => '')).trim().split('\n').slice(0, 4).join(' | ')
      lines.push(`thread ${tid} ${comm}: ${state} wchan=${wchan} ${stack}`)
    }
    for (const fd of await readdir(`/proc/${pid}/fd`)) lines.push(`fd ${fd} -> ${await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '?')}`)
  } catch (err) {
    lines.push(`(process ${pid} gone: ${(err as Error).message})`)
  }
  return lines.join('\n')
}

describe('fault injection: worker agent kill -9 and restart', () => {
  const started = Date.now()
  const rounds = faultRounds(20)
  let c: FaultCluster
  const result: { rounds: number, startMs: number[], rejoinMs: number[], noticedMs: number[], hung?: string } = { rounds: 0, startMs: [], rejoinMs: [], noticedMs: [] }

  before(async () => {
    c = await FaultCluster.create({
      prefix: 'fwr',
      count: 2,
      eligible: i => i === 0,
      // A report on SIGUSR2 shows the JavaScript stack of a process that hangs.
      env: { NODE_OPTIONS: `--report-on-signal --report-signal=SIGUSR2 --report-directory=${join(RESULTS_DIR, 'reports')}` }
    })
    await c.waitForNodes(2)
  })

  after(async () => {
    await c?.saveLogs(join(RESULTS_DIR, 'logs', 'worker-restart')).catch(() => {})
    await writeResult('worker-restart', started, result)
    await c?.destroy()
  })

  it(`a worker agent killed with -9 starts again and rejoins, ${rounds} times in a row`, async () => {
    const manager = c.hosts[0]?.name as string
    const worker = c.hosts[1]?.name as string
    for (let i = 0; i < rounds; i++) {
      await c.kill(worker)
      const t0 = Date.now()
      const a: AgentProcess = await c.startAgent(c.host(worker))
      const fail = async (what: string): Promise<never> => {
        const pid = a.proc.pid ?? 0
        a.proc.kill('SIGUSR2')
        await new Promise(resolve => setTimeout(resolve, 1000))
        result.hung = `round ${i + 1}: ${what}\n${await whereIs(pid)}`
        assert.fail(`${result.hung}\noutput:\n${a.output.slice(-4000)}`)
      }
      await waitFor(async () => /"agent started"/.test(a.output) ? true : undefined, { timeoutMs: 30_000, intervalMs: 50 })
        .catch(async () => await fail(`no "agent started" within 30 s (exit ${String(a.proc.exitCode)}, signal ${String(a.proc.signalCode)})`))
      result.startMs.push(Date.now() - t0)
      await waitFor(async () => (await c.agent(manager).members())?.find(m => m.name === worker && m.status === 'alive' && m.peerId !== '') !== undefined &&
        (await a.members())?.find(m => m.name === manager)?.status === 'alive' ? true : undefined, { timeoutMs: 30_000, intervalMs: 100 })
        .catch(async () => await fail('did not rejoin within 30 s'))
      result.rejoinMs.push(Date.now() - t0)
      // The manager's record of the node must learn the new agent start (what the on-return
      // policy acts on), also when the restart was quicker than the failure detector.
      const started = (await a.members())?.find(m => m.name === worker)?.boot?.agentStartedAt
      let recorded: unknown
      await waitFor(async () => {
        const nodes = await c.agent(manager).client.request<NodeRecord[]>('GET', '/v1/nodes')
        recorded = nodes.find(n => n.name === worker)?.boot?.agentStartedAt
        return started !== undefined && recorded === started ? true : undefined
      }, { timeoutMs: 30_000, intervalMs: 100 })
        .catch(async () => await fail(`the manager's record kept agent start ${String(recorded)}, the new agent started ${String(started)}`))
      result.noticedMs.push(Date.now() - t0)
      result.rounds = i + 1
    }
  })
})
