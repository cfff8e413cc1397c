/**
 * Benchmark: commissioning N nodes through clusterd (API request to job finished) against a
 * plain `ansible-playbook` run of the same playbooks, forks, inventory and ssh settings, each
 * on its own fresh set of test hosts (first run against first run). Target: clusterd within
 * 1.15x of the baseline.
 *
 *   npm run bench:commission -- [--hosts 5,20] [--rounds 3,1] [--settle-seconds 10]
 *                               [--quiet-busy 0.25] [--quiet-wait-seconds 300] [--sides clusterd,baseline]
 *
 * `--rounds` pairs with `--hosts` (one number applies to all). Rounds alternate which side
 * goes first. Before each measured run it waits (bounded) until other processes use less
 * than --quiet-busy of the CPUs, and records what it saw. Progress goes to stderr; stdout gets one JSON summary line.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO, testDir } from '../../test/harness/agent-process.js'
import { runOk } from '../../test/harness/proc.js'
import { baselineRun, type BaselineRunResult } from './baseline-run.js'
import { clusterdRun, type ClusterdRunResult } from './clusterd-run.js'
import { BASELINE_FORKS, QUIET_BUSY_FRACTION, QUIET_MAX_WAIT_MS, TARGET_RATIO } from './constants.js'
import { machineInfo, median, progress } from './stats.js'
import { benchArgs, benchUsageError } from '../bench-args.js'

const { values } = benchArgs({
  options: {
    hosts: { type: 'string', default: '5,20' },
    rounds: { type: 'string', default: '3,1' },
    'settle-seconds': { type: 'string', default: '10' },
    sides: { type: 'string', default: 'clusterd,baseline' },
    'quiet-busy': { type: 'string', default: String(QUIET_BUSY_FRACTION) },
    'quiet-wait-seconds': { type: 'string', default: String(QUIET_MAX_WAIT_MS / 1000) }
  }
})

const num = (name: string, raw: string, lo: number, hi: number): number => {
  const n = Number(raw)
  if (!Number.isInteger(n) || n < lo || n > hi) benchUsageError(`--${name}: expected an integer in ${lo}..${hi}, got ${JSON.stringify(raw)}`)
  return n
}
const hostCounts = (values.hosts ?? '').split(',').map(h => num('hosts', h, 1, 100))
const roundList = (values.rounds ?? '').split(',').map(r => num('rounds', r, 1, 20))
const settleMs = num('settle-seconds', values['settle-seconds'] ?? '10', 0, 600) * 1000
const quietBusy = Number(values['quiet-busy'])
if (!(quietBusy > 0 && quietBusy <= 1)) benchUsageError('--quiet-busy: expected a fraction in (0, 1]')
const quiet = { threshold: quietBusy, maxWaitMs: num('quiet-wait-seconds', values['quiet-wait-seconds'] ?? '300', 0, 3600) * 1000 }
const sides = new Set((values.sides ?? '').split(','))
for (const s of sides) if (s !== 'clusterd' && s !== 'baseline') benchUsageError(`--sides: unknown side ${s}`)

const machine = machineInfo()
const say = progress('bench:commission', Date.now())
const playbookDir = join(REPO, 'playbooks')
const r0 = (x: number | null): number | null => x === null ? null : Math.round(x)

/** Results for one host count. */
interface HostCountResult {
  hosts: number
  rounds: number
  forks: number
  clusterd: ClusterdRunResult[]
  baseline: BaselineRunResult[]
  medianClusterdMs: number | null
  medianRunnerMs: number | null
  medianBaselineMs: number | null
  /** median clusterd / median baseline. */
  ratio: number | null
  /** median clusterd runner portion / median baseline: what Ansible under ansible-runner costs. */
  runnerRatio: number | null
  meetsTarget: boolean | null
  /** Median CPU seconds of the Ansible tree: clusterd's ansible-runner vs plain ansible-playbook. */
  medianAnsibleCpuS: { clusterd: number | null, baseline: number | null }
}

const dir = await testDir('bench-commission-key')
const results: HostCountResult[] = []
try {
  const sshKey = join(dir, 'manager_ed25519')
  await runOk(['/usr/bin/ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'clusterd-bench-manager', '-f', sshKey])
  say(`machine: ${JSON.stringify(machine)}`)
  for (const [i, n] of hostCounts.entries()) {
    const rounds = roundList[i] ?? roundList[roundList.length - 1] ?? 1
    const cd: ClusterdRunResult[] = []
    const base: BaselineRunResult[] = []
    for (let r = 0; r < rounds; r++) {
      // Alternate the order so drift in the machine's load does not favour one side.
      const order = r % 2 === 0 ? ['clusterd', 'baseline'] : ['baseline', 'clusterd']
      for (const side of order) {
        if (!sides.has(side)) continue
        if (side === 'clusterd') {
          say(`N=${n} round ${r + 1}/${rounds}: clusterd`)
          const res = await clusterdRun({ hosts: n, playbookDir, sshKey, settleMs, quiet, say })
          say(`clusterd: ${res.status} in ${res.requestToFinishedMs} ms (busy before ${res.busyBefore}, POST ${res.postMs} ms, runner ${String(res.runnerMs)} ms, precheck ${String(res.precheckMs)} ms, finish ${String(res.finishMs)} ms (cleanup ${String(res.runnerCleanupMs)}, record ${String(res.recordMs)}), configured ${res.configured}/${n}, agents CPU ${JSON.stringify(res.cpu)})`)
          cd.push(res)
        } else {
          say(`N=${n} round ${r + 1}/${rounds}: baseline`)
          const res = await baselineRun({ hosts: n, playbookDir, sshKey, quiet, say })
          say(`baseline: exit ${String(res.exitCode)} in ${Math.round(res.wallMs)} ms (busy before ${res.busyBefore}, ansible CPU ${res.ansibleCpuS} s, configured ${res.configured}/${n})`)
          base.push({ ...res, wallMs: Math.round(res.wallMs) })
        }
      }
    }
    const okCd = cd.filter(c => c.status === 'succeeded' && c.configured === n)
    const okBase = base.filter(b => b.exitCode === 0 && b.configured === n)
    const mc = median(okCd.map(c => c.requestToFinishedMs))
    const mr = median(okCd.map(c => c.runnerMs).filter((x): x is number => x !== null))
    const mb = median(okBase.map(b => b.wallMs))
    const ratio = mc !== null && mb !== null ? Math.round(mc / mb * 1000) / 1000 : null
    const runnerRatio = mr !== null && mb !== null ? Math.round(mr / mb * 1000) / 1000 : null
    results.push({
      hosts: n, rounds, forks: BASELINE_FORKS, clusterd: cd, baseline: base,
      medianClusterdMs: r0(mc), medianRunnerMs: r0(mr), medianBaselineMs: r0(mb),
      ratio, runnerRatio,
      meetsTarget: ratio === null ? null : ratio <= TARGET_RATIO,
      medianAnsibleCpuS: { clusterd: median(okCd.map(c => c.cpu.ansibleS)), baseline: median(okBase.map(b => b.ansibleCpuS)) }
    })
    say(`N=${n}: clusterd median ${String(r0(mc))} ms, baseline median ${String(r0(mb))} ms, ratio ${String(ratio)} (target <= ${TARGET_RATIO})`)
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
process.stdout.write(JSON.stringify({ bench: 'commission', targetRatio: TARGET_RATIO, machine, loadavg1AtEnd: machineInfo().loadavg1, results }) + '\n')
