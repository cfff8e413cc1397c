/**
 * Benchmark: manager failover on real test hosts. N hosts, every agent manager-eligible, a
 * writer setting a config key through a non-manager agent all along. Each round kills the
 * manager (kill -9 of its agent, or a power-off: link down, then every process of the host
 * killed) and measures, from the moment of death:
 *   - elected: a surviving agent names a new manager (higher epoch);
 *   - accepted: a real write (`PUT /v1/config/vars`) sent through another surviving agent right
 *     after the death is acknowledged (the gateway waits for and retries on the new manager).
 * After each failover the writer's key is read back: every write acknowledged before the read
 * must be there. Then the dead agent (or host) comes back and catches up as a replica before
 * the next round.
 *
 *   npm run bench:failover -- [--hosts 5,8] [--rounds 6] [--kinds kill,poweroff]
 *
 * `--rounds` is per kind and host count (default 6: 24 failovers in all). Progress on stderr;
 * stdout gets one JSON line and then the markdown tables of docs/benchmarks.md.
 */
import { ApiClient } from '../../cli/client.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import { AckedWriter } from '../../test/faults/acked-writes.js'
import { FaultCluster } from '../../test/faults/cluster.js'
import type { AgentProcess } from '../../test/harness/agent-process.js'
import { delay } from '../../test/harness/proc.js'
import { machineInfo, progress, summarize, type LatencySummary } from '../commission/stats.js'
import { benchArgs, benchUsageError } from '../bench-args.js'

const { values } = benchArgs({
  options: {
    hosts: { type: 'string', default: '5,8' },
    rounds: { type: 'string', default: '6' },
    kinds: { type: 'string', default: 'kill,poweroff' }
  }
})

type Kind = 'kill' | 'poweroff'
const hostCounts = (values.hosts ?? '').split(',').map(Number)
const rounds = Number(values.rounds)
const kinds = (values.kinds ?? '').split(',') as Kind[]
for (const n of hostCounts) if (!Number.isInteger(n) || n < 3 || n > 30) benchUsageError(`--hosts: ${n} outside 3..30`)
if (!Number.isInteger(rounds) || rounds < 1) benchUsageError('--rounds: a positive integer')
for (const k of kinds) if (k !== 'kill' && k !== 'poweroff') benchUsageError(`--kinds: unknown ${k}`)

/** Target: death → a new manager accepts a command, at most this long. */
const TARGET_MS = 5000
/** A failover that takes longer than this is a failure of the round, not a sample. */
const ROUND_TIMEOUT_MS = 60_000

const say = progress('bench:failover', Date.now())
const machine = machineInfo()

/** One failover. */
interface Failover {
  hosts: number
  kind: Kind
  round: number
  from: string
  to: string | null
  epoch: number | null
  /** Death → a surviving agent names a new manager. */
  electedMs: number | null
  /** Death → a write sent right after it is acknowledged. */
  acceptedMs: number | null
  /** The first write after the death failed with this (then retried). */
  firstError: string | null
  /** Writer: last sequence acknowledged before the death, value read back after, writes lost. */
  ackedBeforeDeath: number
  valueAfter: number | null
  lost: number
}

async function failoverRound (c: FaultCluster, writer: AckedWriter, hosts: number, kind: Kind, round: number, state: { victim: string | null }): Promise<Failover> {
  const m = await c.waitForManager({ timeoutMs: ROUND_TIMEOUT_MS })
  const others = c.running().filter(a => a.host.name !== m.name)
  const probeVia = others[round % others.length] as AgentProcess
  // Some acknowledged writes in this epoch before the death.
  const before = writer.acks.length
  const until = Date.now() + 10_000
  while (writer.acks.length < before + 5 && Date.now() < until) await delay(50)
  state.victim = m.name
  const ackedBeforeDeath = writer.lastAcked
  const t0 = Date.now()
  if (kind === 'kill') await c.kill(m.name)
  else await c.powerOff(m.name)
  say(`${hosts} hosts, ${kind} ${round}: ${m.name} (epoch ${m.epoch}) is dead after ${Date.now() - t0} ms`)

  let electedMs: number | null = null
  const elected = (async () => {
    while (Date.now() - t0 < ROUND_TIMEOUT_MS) {
      const v = await probeVia.manager()
      if (v !== null && v.epoch > m.epoch) { electedMs = Date.now() - t0; return }
      await delay(25)
    }
  })()
  let acceptedMs: number | null = null
  let firstError: string | null = null
  const probe = new ApiClient({ addr: probeVia.socket, timeoutMs: 30_000 })
  while (Date.now() - t0 < ROUND_TIMEOUT_MS) {
    try {
      await probe.request('PUT', '/v1/config/vars', { value: { failover: `${hosts}-${kind}-${round}` } })
      acceptedMs = Date.now() - t0
      break
    } catch (err) {
      firstError ??= (err as Error).message
      await delay(50)
    }
  }
  await elected
  let next: ManagerInfo | null = null
  try {
    next = await c.waitForManager({ after: m, timeoutMs: 30_000 })
  } catch (err) {
    say(`no agreed new manager: ${(err as Error).message}`)
  }
  const check = await writer.check(probeVia)
  const f: Failover = {
    hosts, kind, round, from: m.name, to: next?.name ?? null, epoch: next?.epoch ?? null,
    electedMs, acceptedMs, firstError, ackedBeforeDeath, valueAfter: check.value, lost: check.lost
  }
  say(`${hosts} hosts, ${kind} ${round}: elected ${String(electedMs)} ms, accepted ${String(acceptedMs)} ms, new manager ${String(next?.name)} (epoch ${String(next?.epoch)}), writer acked ${check.lastAcked} read ${String(check.value)} lost ${check.lost}${firstError !== null ? `; first error: ${firstError}` : ''}`)

  // Bring the dead one back and let it catch up before the next round.
  if (kind === 'kill') await c.startAgent(c.host(m.name))
  else await c.powerOn(m.name)
  state.victim = null
  if (next !== null) {
    await c.waitForReplica(m.name, next, 90_000, 50).catch(err => { say(`${m.name} did not catch up: ${(err as Error).message}`) })
  }
  return f
}

const all: Failover[] = []
const writerStats: Array<{ hosts: number, acked: number, errors: number, finalLost: number }> = []
for (const n of hostCounts) {
  say(`${n} hosts: forming`)
  const c = await FaultCluster.create({ prefix: 'fb', count: n })
  try {
    await c.waitForNodes(n)
    const state: { victim: string | null } = { victim: null }
    let writerIndex = 0
    const writer = new AckedWriter(() => {
      const candidates = c.running().filter(a => a.host.name !== state.victim)
      writerIndex++
      return candidates[writerIndex % Math.max(1, candidates.length)]
    })
    writer.start()
    let round = 0
    for (let r = 0; r < rounds; r++) {
      for (const kind of kinds) all.push(await failoverRound(c, writer, n, kind, ++round, state))
    }
    await writer.stop()
    const reader = c.running()[0] as AgentProcess
    const final = await writer.check(reader)
    writerStats.push({ hosts: n, acked: writer.acks.length, errors: writer.errors.length, finalLost: final.lost })
    say(`${n} hosts: writer acked ${writer.acks.length} writes (${writer.errors.length} errors), final read ${String(final.value)} of ${final.lastAcked}, lost ${final.lost}`)
  } finally {
    await c.destroy()
  }
}

interface Row { hosts: number, kind: Kind, failovers: number, completed: number, accepted: LatencySummary, elected: LatencySummary, overTarget: number, lost: number }
const rows: Row[] = []
for (const n of hostCounts) {
  for (const kind of kinds) {
    const fs = all.filter(f => f.hosts === n && f.kind === kind)
    const acc = fs.map(f => f.acceptedMs).filter((x): x is number => x !== null)
    rows.push({
      hosts: n, kind, failovers: fs.length, completed: acc.length,
      accepted: summarize(acc),
      elected: summarize(fs.map(f => f.electedMs).filter((x): x is number => x !== null)),
      overTarget: acc.filter(x => x > TARGET_MS).length + fs.length - acc.length,
      lost: fs.reduce((s, f) => s + f.lost, 0)
    })
  }
}
const allAcc = all.map(f => f.acceptedMs).filter((x): x is number => x !== null)
const summary = {
  bench: 'failover', targetMs: TARGET_MS, machine, loadavg1AtEnd: machineInfo().loadavg1,
  failovers: all.length, maxAcceptedMs: allAcc.length === 0 ? null : Math.max(...allAcc),
  ackedWrites: writerStats.reduce((s, w) => s + w.acked, 0),
  lostWrites: all.reduce((s, f) => s + f.lost, 0) + writerStats.reduce((s, w) => s + w.finalLost, 0),
  rows, writerStats, all
}
process.stdout.write(JSON.stringify(summary) + '\n\n')
const ms = (x: number | null): string => x === null ? '-' : String(Math.round(x))
process.stdout.write('| hosts | fault | failovers | death → new manager accepts a write, p50 / p95 / max (ms) | death → elected, p50 / max (ms) | over 5 s | acknowledged writes lost |\n|---:|---|---:|---|---|---:|---:|\n')
for (const r of rows) {
  process.stdout.write(`| ${r.hosts} | ${r.kind === 'kill' ? 'kill -9 of the agent' : 'power off'} | ${r.failovers} | ${ms(r.accepted.p50)} / ${ms(r.accepted.p95)} / ${ms(r.accepted.max)} | ${ms(r.elected.p50)} / ${ms(r.elected.max)} | ${r.overTarget} | ${r.lost} |\n`)
}
process.stdout.write(`\nWriter: ${summary.ackedWrites} acknowledged writes over ${all.length} failovers, ${summary.lostWrites} lost.\n`)
