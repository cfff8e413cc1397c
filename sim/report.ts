/**
 * Formats scenario results as a text table or JSON. Only deterministic figures go in here;
 * wall time and heap are printed apart (stderr with --json) so the same seed gives the same
 * bytes.
 */

import type { ScenarioResult } from './scenarios.js'

/** Nearest-rank percentile of durations; unfinished (NaN) sort last as Infinity. */
export function percentile (xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const v = xs.map(x => Number.isNaN(x) ? Infinity : x).sort((a, b) => a - b)
  const k = Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))
  return v[k]!
}

/** Summary of a list of durations: count, unfinished, median, p99, max (ms). */
export interface DurationSummary { n: number, unfinished: number, median: number | null, p99: number | null, max: number | null }

/** Summarises durations in ms (null = none finished at that rank). */
export function summarise (xs: number[]): DurationSummary {
  const fin = (x: number): number | null => Number.isFinite(x) ? Math.round(x) : null
  return {
    n: xs.length,
    unfinished: xs.filter(x => Number.isNaN(x)).length,
    median: fin(percentile(xs, 0.5)),
    p99: fin(percentile(xs, 0.99)),
    max: fin(percentile(xs, 1))
  }
}

/** A result in the JSON shape (durations summarised). */
export function toJson (r: ScenarioResult): Record<string, unknown> {
  const out: Record<string, unknown> = {
    scenario: r.scenario,
    nodes: r.nodes,
    durationS: r.durationS,
    join: summarise(r.joinMs),
    fail: summarise(r.failMs),
    rejoin: summarise(r.rejoinMs)
  }
  if (r.partitionDetectMs !== undefined) out.partitionDetectMs = round(r.partitionDetectMs)
  if (r.healMs !== undefined) out.healMs = round(r.healMs)
  if (r.formMs !== undefined) out.formMs = round(r.formMs)
  if (r.seesAllMs !== undefined) out.seesAll = summarise(r.seesAllMs)
  if (r.formFromLastStartMs !== undefined) out.formFromLastStartMs = round(r.formFromLastStartMs)
  if (r.suspectTransitions !== undefined) Object.assign(out, { suspectTransitions: r.suspectTransitions, failedTransitions: r.failedTransitions, claimsPerEpochMax: r.claimsPerEpochMax })
  if (r.cpu !== undefined) out.cpu = { cpuS: round(r.cpu.cpuS), queuedSPerNode: round(r.cpu.queuedSPerNode), peakBusy: r.cpu.peakBusy }
  Object.assign(out, {
    convergedAtEnd: r.convergedAtEnd,
    falseSuspicions: r.falseSuspicions,
    falseDeaths: r.falseDeaths,
    falseDeathsAfterDisruption: r.falseDeathsAfterDisruption,
    msgsOutPerNodeS: fix(r.msgsOutPerNodeS),
    bytesOutPerNodeS: fix(r.bytesOutPerNodeS),
    bytesInPerNodeS: fix(r.bytesInPerNodeS),
    syncsPerNodeS: { mean: Math.round(r.syncsPerNodeS.mean * 1e6) / 1e6, max: Math.round(r.syncsPerNodeS.max * 1e6) / 1e6 },
    syncBytesPerNodeS: fix(r.syncBytesPerNodeS),
    syncBytesPerExchange: Math.round(r.syncBytesPerExchange),
    syncBytesSteadyPerNodeS: Math.round(r.syncBytesSteadyPerNodeS),
    elections: r.elections,
    electionsPerHour: round(r.electionsPerHour),
    managerViolations: r.managerViolations,
    maxDualManagerMs: Math.round(r.maxDualManagerMs),
    managerlessChecks: r.managerlessChecks,
    events: r.events
  })
  return out
}

/** A text table: one row per scenario. */
export function toText (rs: ScenarioResult[]): string {
  const cols = ['scenario', 'nodes', 'virt s', 'join med/p99/max s', 'fail med/p99/max s', 'rejoin med/p99/max s',
    'partition detect/heal s', 'all see all', 'false susp', 'false deaths (+after disruption)',
    'datagrams out/node/s mean/max', 'datagram bytes out/node/s mean/max', 'datagram bytes in/node/s mean/max', 'push-pulls/node/min mean/max', 'push-pull bytes/node/s mean/max', 'push-pull bytes/exchange, steady/node/s', 'elections (/h)', 'mgr violations', 'events']
  const rows = rs.map(r => [
    r.scenario, String(r.nodes), String(r.durationS),
    durations(r.joinMs), durations(r.failMs), durations(r.rejoinMs),
    r.partitionDetectMs !== undefined || r.healMs !== undefined || r.scenario === 'partition' || r.scenario === 'isolate'
      ? `${secs(r.partitionDetectMs)}/${secs(r.healMs)}`
      : r.formMs !== undefined ? `form ${secs(r.formMs)}` : '-',
    r.convergedAtEnd ? 'yes' : 'no',
    String(r.falseSuspicions), `${r.falseDeaths} (+${r.falseDeathsAfterDisruption})`,
    `${r.msgsOutPerNodeS.mean.toFixed(2)}/${r.msgsOutPerNodeS.max.toFixed(2)}`,
    `${Math.round(r.bytesOutPerNodeS.mean)}/${Math.round(r.bytesOutPerNodeS.max)}`,
    `${Math.round(r.bytesInPerNodeS.mean)}/${Math.round(r.bytesInPerNodeS.max)}`,
    `${(r.syncsPerNodeS.mean * 60).toFixed(3)}/${(r.syncsPerNodeS.max * 60).toFixed(3)}`,
    `${Math.round(r.syncBytesPerNodeS.mean)}/${Math.round(r.syncBytesPerNodeS.max)}`,
    `${Math.round(r.syncBytesPerExchange)}, ${Math.round(r.syncBytesSteadyPerNodeS)}`,
    `${r.elections} (${r.electionsPerHour.toFixed(1)})`,
    `${r.managerViolations} (longest 2+ managers ${secs(r.maxDualManagerMs)} s; no manager: ${r.managerlessChecks})`,
    String(r.events)
  ])
  // One "field: value" block per scenario reads better than a 16-column table in a terminal.
  const lines: string[] = []
  for (const row of rows) {
    for (let c = 0; c < cols.length; c++) lines.push(`${cols[c]!.padEnd(34)} ${row[c]!}`)
    const r = rs[rows.indexOf(row)]!
    if (r.suspectTransitions !== undefined) lines.push(`${'load'.padEnd(34)} ${loadCells(r).join(' | ')}`)
    lines.push('')
  }
  return lines.join('\n')
}

/** A markdown table (for docs/benchmarks.md). */
export function toMarkdown (rs: ScenarioResult[]): string {
  const head = '| scenario | nodes | join med/p99/max s | fail med/p99/max s | rejoin med/p99/max s | false susp. | false deaths | datagrams out/node/s mean (max) | datagram bytes out/node/s mean (max) | push-pull bytes/node/s measured mean (max), steady | elections | mgr violations |'
  const sep = '|' + '---|'.repeat(12)
  const rows = rs.map(r => `| ${r.scenario} | ${r.nodes} | ${joinCell(r)} | ${durations(r.failMs)} | ${rejoinCell(r)} | ${r.falseSuspicions} | ${r.falseDeaths} (+${r.falseDeathsAfterDisruption}) | ${r.msgsOutPerNodeS.mean.toFixed(2)} (${r.msgsOutPerNodeS.max.toFixed(2)}) | ${Math.round(r.bytesOutPerNodeS.mean)} (${Math.round(r.bytesOutPerNodeS.max)}) | ${Math.round(r.syncBytesPerNodeS.mean)} (${Math.round(r.syncBytesPerNodeS.max)}), ${Math.round(r.syncBytesSteadyPerNodeS)} | ${r.elections} | ${r.managerViolations} |`)
  return [head, sep, ...rows].join('\n')
}

/**
 * A markdown table of the saturated-machine figures (burst, or any scenario with --cpu):
 * the flapping (every transition into suspect and failed), who saw all when, same-epoch
 * managers, and what the CPU model did.
 */
export function toLoadMarkdown (rs: ScenarioResult[]): string {
  const head = '| scenario | nodes | all see all, s (burst: from the joiners\' start; from the last core start. form: from the first start) | per node: sees all med/max s | -> suspect | -> failed | false susp. | false deaths | managers at one epoch (max) | CPU s | input queueing s/node | most busy at once |'
  const sep = '|' + '---|'.repeat(12)
  const rows = rs.filter(r => r.suspectTransitions !== undefined).map(r => `| ${r.scenario} | ${r.nodes} | ${loadCells(r).join(' | ')} |`)
  return [head, sep, ...rows].join('\n')
}

function loadCells (r: ScenarioResult): string[] {
  const seen = r.seesAllMs !== undefined ? summarise(r.seesAllMs) : null
  const missing = r.seesAllMs !== undefined ? r.nodes - 1 - r.seesAllMs.length : 0
  return [
    r.scenario === 'burst' ? `${secs(r.formMs)}; ${secs(r.formFromLastStartMs)}` : secs(r.formMs),
    seen === null ? '-' : `${secs(seen.median ?? undefined)}/${secs(seen.max ?? undefined)}${missing > 0 ? ` (${missing} never)` : ''}`,
    String(r.suspectTransitions), String(r.failedTransitions),
    String(r.falseSuspicions), `${r.falseDeaths} (+${r.falseDeathsAfterDisruption})`,
    String(r.claimsPerEpochMax),
    r.cpu === undefined ? '-' : r.cpu.cpuS.toFixed(1),
    r.cpu === undefined ? '-' : r.cpu.queuedSPerNode.toFixed(1),
    r.cpu === undefined ? '-' : String(r.cpu.peakBusy)
  ]
}

/** The join column; `form` shows when all saw all, from the first node's start. */
function joinCell (r: ScenarioResult): string {
  return r.scenario === 'form' || r.scenario === 'burst' ? `all see all ${secs(r.formMs)}` : durations(r.joinMs)
}

/** The rejoin column; `partition` and `isolate` show when all saw all again, from the heal (isolate: and the cut until all held the node failed). */
function rejoinCell (r: ScenarioResult): string {
  if (r.scenario === 'isolate') return `cut: all hold it failed ${secs(r.partitionDetectMs)}; heal: all see all ${secs(r.healMs)}`
  return r.scenario === 'partition' ? `heal: all see all ${secs(r.healMs)}` : durations(r.rejoinMs)
}

function durations (xs: number[]): string {
  if (xs.length === 0) return '-'
  const s = summarise(xs)
  const u = s.unfinished > 0 ? ` (${s.unfinished}/${s.n} never)` : s.n > 1 ? ` (n=${s.n})` : ''
  return `${secs(s.median ?? undefined)}/${secs(s.p99 ?? undefined)}/${secs(s.max ?? undefined)}${u}`
}

function secs (ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) ? 'never' : (ms / 1000).toFixed(2)
}

function round (x: number): number {
  return Math.round(x * 1000) / 1000
}

function fix (v: { mean: number, max: number }): { mean: number, max: number } {
  return { mean: round(v.mean), max: round(v.max) }
}
