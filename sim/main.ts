/**
 * `npm run sim -- --nodes 10000 --seed 7 --scenario crash [--loss 0.01] [--delay-ms 1]
 * [--jitter-ms 2] [--duration-s 60] [--json] [--markdown]`: runs simulator scenarios on the
 * real membership core and prints a deterministic report. Wall time and heap go on their own
 * last line (stderr with --json), the only part that differs between two runs of one seed.
 */

import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import { SCENARIOS, runScenario, type ScenarioName, type ScenarioResult, type SimParams } from './scenarios.js'
import { swimFactory } from './swim-factory.js'
import { toJson, toLoadMarkdown, toMarkdown, toText } from './report.js'
import { parseCpu } from './cpu.js'
import { World } from './world.js'
import { SWIM_DEFAULTS } from '../agent/membership/core/constants.js'
import { AGENT_SWIM_TIMING } from '../agent/membership/constants.js'
import type { SwimTiming } from '../agent/membership/core/types.js'

const USAGE = `usage: npm run sim -- --nodes N --seed S --scenario ${[...SCENARIOS, 'all'].join('|')}[,...]
       [--loss 0.01] [--delay-ms 1] [--jitter-ms 2] [--duration-s S] [--record-bytes 600] [--eligible 5] [--timing probeIntervalMs=500,suspicionMult=2,...]
       [--cpu agent | --cpu cores=2,datagramMs=0.3,...]  (a saturated machine: sim/cpu.ts)
       [--sync digest | --sync full]  (push-pull as digest exchanges, the default, or whole states
       both ways as before sync 3.0.0; full also scales the interval above 32 members unless
       --timing sets pushPullScaleMembers)
       [--json | --markdown]`

/** Runs one scenario on real cores (exported for the tests). */
export function simulate (name: ScenarioName, p: SimParams & { recordBytes?: number, timing?: Partial<SwimTiming>, sync?: 'digest' | 'full' }): ScenarioResult {
  return runScenario(name, p, (capacity, booted) => swimFactory({
    seed: p.seed,
    capacity,
    booted,
    eligibleCount: p.eligible ?? 5,
    ...(p.timing !== undefined ? { timing: p.timing } : {}),
    ...(p.sync !== undefined ? { sync: p.sync } : {}),
    endpoint: World.endpointOf,
    ...(p.recordBytes !== undefined ? { recordBytes: p.recordBytes } : {})
  }))
}

/** `key=value,...` over the core's SwimTiming knobs (numbers only). */
function parseTiming (spec: string): Partial<SwimTiming> {
  // `agent` = the agent's own timing (agent/membership/constants.ts), other knobs on top.
  const t: Record<string, number> = {}
  for (const kv of spec.split(',')) {
    if (kv === 'agent') { Object.assign(t, AGENT_SWIM_TIMING); continue }
    const [k, v] = kv.split('=')
    if (k === undefined || v === undefined || !(k in SWIM_DEFAULTS)) throw new Error(`--timing: unknown knob in ${kv} (knobs: ${Object.keys(SWIM_DEFAULTS).join(', ')})`)
    t[k] = num(v, 0, `timing ${k}`)
  }
  return t as Partial<SwimTiming>
}

function num (v: string | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${v}`)
  return n
}

function main (): void {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '7' },
      scenario: { type: 'string', default: 'all' },
      loss: { type: 'string' },
      'delay-ms': { type: 'string' },
      'jitter-ms': { type: 'string' },
      'duration-s': { type: 'string' },
      'record-bytes': { type: 'string' },
      eligible: { type: 'string' },
      timing: { type: 'string' },
      cpu: { type: 'string' },
      sync: { type: 'string' },
      json: { type: 'boolean', default: false },
      markdown: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) { process.stdout.write(USAGE + '\n'); return }
  const scenario = values.scenario!
  const names: ScenarioName[] = []
  for (const s of scenario.split(',')) {
    // `all` keeps the membership tables of docs/benchmarks.md reproducible: `form`, `burst`
    // and the election check `split-claim` run only by name.
    if (s === 'all') names.push(...SCENARIOS.filter(x => x !== 'form' && x !== 'split-claim' && x !== 'burst'))
    else if ((SCENARIOS as readonly string[]).includes(s)) names.push(s as ScenarioName)
    else throw new Error(`unknown scenario ${s}\n${USAGE}`)
  }
  const nodes = Math.floor(num(values.nodes, 1000, 'nodes'))
  if (nodes < 2) throw new Error('--nodes must be at least 2')
  const p: SimParams & { recordBytes?: number, timing?: Partial<SwimTiming>, sync?: 'digest' | 'full' } = {
    nodes,
    seed: Math.floor(num(values.seed, 7, 'seed')) >>> 0,
    loss: num(values.loss, 0.01, 'loss'),
    delayMs: num(values['delay-ms'], 1, 'delay-ms'),
    jitterMs: num(values['jitter-ms'], 2, 'jitter-ms'),
    durationS: values['duration-s'] !== undefined ? num(values['duration-s'], 60, 'duration-s') : undefined,
    eligible: Math.floor(num(values.eligible, 5, 'eligible')),
    ...(values['record-bytes'] !== undefined ? { recordBytes: num(values['record-bytes'], 600, 'record-bytes') } : {})
  }
  if (p.loss > 1) throw new Error('--loss is a probability in [0, 1]')
  if (values.timing !== undefined) p.timing = parseTiming(values.timing)
  if (values.cpu !== undefined) p.cpu = parseCpu(values.cpu)
  if (values.sync !== undefined) {
    if (values.sync !== 'digest' && values.sync !== 'full') throw new Error(`--sync is digest or full, got ${values.sync}`)
    p.sync = values.sync
    // The full-state exchange's own interval rule (before sync 3.0.0): linear above 32 members.
    if (p.sync === 'full' && p.timing?.pushPullScaleMembers === undefined) p.timing = { ...p.timing, pushPullScaleMembers: 32 }
  }
  const t0 = performance.now()
  const results: ScenarioResult[] = []
  let heapPeak = 0
  for (const name of names) {
    results.push(simulate(name, p))
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)
  }
  const wallS = (performance.now() - t0) / 1000
  const events = results.reduce((s, r) => s + r.events, 0)
  const runLine = `wall ${wallS.toFixed(1)} s, heap used ${(heapPeak / 2 ** 20).toFixed(0)} MiB, ${Math.round(events / wallS)} events/s (not part of the deterministic report)`
  const header = `seed ${p.seed}, loss ${p.loss}, delay ${p.delayMs} ms + jitter ${p.jitterMs} ms, record ${p.recordBytes ?? 600} B, ${p.eligible} eligible` +
    (p.timing !== undefined ? `, timing ${JSON.stringify(p.timing)}` : '') +
    (p.cpu !== undefined ? `, cpu ${JSON.stringify(p.cpu)}` : '') +
    (p.sync !== undefined ? `, push-pull ${p.sync}` : '')
  if (values.json) {
    process.stdout.write(JSON.stringify({ params: p, results: results.map(toJson) }, null, 2) + '\n')
    process.stderr.write(runLine + '\n')
  } else if (values.markdown) {
    const load = results.some(r => r.suspectTransitions !== undefined) ? `${toLoadMarkdown(results)}\n\n` : ''
    process.stdout.write(`${header}\n\n${toMarkdown(results)}\n\n${load}${runLine}\n`)
  } else {
    process.stdout.write(`${header}\n\n${toText(results)}\n${runLine}\n`)
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    main()
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`)
    process.exitCode = 2
  }
}
