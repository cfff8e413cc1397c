/**
 * HashiCorp Serf under the benchmark: the Debian `serf agent` on the same test hosts, LAN
 * profile (Serf's defaults), gossip encrypted with a fresh key like clusterd's PSK, RPC on the
 * host's address so the poller reaches it from the root namespace. "Listening" is its
 * `Starting Serf agent RPC...` line (memberlist has bound its gossip ports by then; the join
 * comes after it).
 */
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { TestHost } from '../../test/harness/hosts.js'
import { SerfRpcClient } from './serf-rpc.js'
import { AgentOutput, type BenchAgent, type BenchSystem, type View } from './system.js'

/** Serf's binary (Debian package `serf`). */
export const SERF = '/usr/bin/serf'
/** Gossip port (TCP + UDP), as clusterd's. */
export const SERF_PORT = 7946
/** RPC port on each host's address. */
export const SERF_RPC_PORT = 7373

// Serf log lines: "serf: EventMemberFailed: bm0-h3 10.213.0.4", "memberlist: Suspect bm0-h3 has failed, no acks received".
const EVENT = /serf: EventMember(Join|Failed|Leave|Reap|Update): (\S+)/
const SUSPECT = /memberlist: Suspect (\S+) has failed/
const EVENT_STATUS: Record<string, string> = { Join: 'alive', Failed: 'failed', Leave: 'left', Reap: 'reaped', Update: 'alive' }

/** Creates the Serf system with one encryption key for the run. */
export function serfSystem (): BenchSystem {
  const key = randomBytes(32).toString('base64')
  return {
    id: 'serf',
    async start (host: TestHost, seed: TestHost | null): Promise<BenchAgent> {
      const argv = [
        SERF, 'agent',
        '-node', host.name,
        '-bind', `${host.address}:${SERF_PORT}`,
        '-rpc-addr', `${host.address}:${SERF_RPC_PORT}`,
        '-profile', 'lan',
        '-encrypt', key,
        '-log-level', 'info',
        ...(seed === null ? [] : ['-join', `${seed.address}:${SERF_PORT}`])
      ]
      const spawnedAt = performance.now()
      const proc = host.spawn(argv)
      const pid = proc.pid
      if (pid === undefined) throw new Error(`serf on ${host.name} did not start`)
      const out = new AgentOutput(proc, {
        ready: line => line.includes('Starting Serf agent RPC'),
        change: line => {
          const e = EVENT.exec(line)
          if (e !== null) return { member: e[2] as string, to: EVENT_STATUS[e[1] as string] ?? 'unknown', inView: true }
          const s = SUSPECT.exec(line)
          // Serf's member list shows a suspect member as alive: the view built from the log must too.
          return s === null ? null : { member: s[1] as string, to: 'suspect', inView: false }
        }
      })
      const rpc = new SerfRpcClient({ host: host.address, port: SERF_RPC_PORT })
      const exited = once(proc, 'exit')
      return {
        name: host.name,
        host,
        pid,
        spawnedAt,
        get readyAt () { return out.readyAt },
        changes: out.changes,
        watch: l => out.watch(l),
        async view (signal?: AbortSignal): Promise<View | null> {
          try {
            return new Map((await rpc.members(signal)).map(m => [m.name, m.status]))
          } catch {
            return null
          }
        },
        async kill (): Promise<void> {
          rpc.close()
          if (proc.exitCode === null && proc.signalCode === null) {
            proc.kill('SIGKILL')
            await exited
          }
        },
        tail: () => out.tail()
      }
    },
    async close (): Promise<void> {}
  }
}
