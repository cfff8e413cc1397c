/**
 * clusterd under the benchmark: real agent processes (bin/clusterd.js on the project's Node 22)
 * on the test hosts, started by the shared harness with the default membership timing. Views
 * come from each agent's unix-socket API; "listening" is the agent's `agent started` log line
 * (its gossip listener, membership and API are all up by then).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { makeSecret, PORT, REPO, startAgentOn } from '../../test/harness/agent-process.js'
import type { TestHost } from '../../test/harness/hosts.js'
import { scrapeMetrics } from '../../test/harness/metrics-text.js'
import { AgentOutput, type BenchAgent, type BenchSystem, type View } from './system.js'

/** Reads a pino JSON line; null when it is not one. */
function json (line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    return null
  }
}

/** Creates the clusterd system: one cluster secret and one socket dir for the run. */
export async function clusterdSystem (env: Record<string, string> = {}, extraArgs: string[] = []): Promise<BenchSystem> {
  await mkdir(join(REPO, '.tmp'), { recursive: true })
  const dir = await mkdtemp(join(REPO, '.tmp', 'bench-membership-'))
  const secretFile = await makeSecret(dir)
  const socketDir = join(dir, 'sock')
  return {
    id: 'clusterd',
    async start (host: TestHost, seed: TestHost | null): Promise<BenchAgent> {
      const spawnedAt = performance.now()
      const agent = await startAgentOn(host, {
        secretFile,
        socketDir,
        join: seed === null ? [] : [`${seed.address}:${PORT}`],
        env,
        extraArgs
      })
      const pid = agent.proc.pid
      if (pid === undefined) throw new Error(`clusterd on ${host.name} did not start: ${agent.output}`)
      const out = new AgentOutput(agent.proc, {
        ready: line => json(line)?.msg === 'agent started',
        change: line => {
          const j = json(line)
          if (j?.msg !== 'member status changed') return null
          const to = String(j.to)
          return { member: String(j.member), to: to === 'dead' ? 'failed' : to, inView: true }
        }
      })
      return {
        name: host.name,
        host,
        pid,
        spawnedAt,
        get readyAt () { return out.readyAt },
        changes: out.changes,
        watch: l => out.watch(l),
        async view (): Promise<View | null> {
          const members = await agent.members()
          return members === null ? null : new Map(members.map(m => [m.name, m.status]))
        },
        async kill (): Promise<void> { await agent.stop('SIGKILL') },
        async health (): Promise<number | null> {
          return (await scrapeMetrics(agent.socket))?.get('clusterd_swim_health_score') ?? null
        },
        tail: () => out.tail()
      }
    },
    async close (): Promise<void> {
      await rm(dir, { recursive: true, force: true })
    }
  }
}
