/**
 * The simulator's scenarios. Each starts from a converged cluster of `nodes` (views built
 * directly, no formation simulated; `form` simulates formation at small N), applies one kind
 * of fault at `faultAtS`, runs to `durationS` of virtual time and returns its measurements.
 */

import { Metrics } from './metrics.js'
import { Prng } from './prng.js'
import type { SimNodeFactory } from './sim-types.js'
import { World } from './world.js'
import { ElectionProbe } from './election-probe.js'
import type { CpuParams } from './cpu.js'

/** Names of the scenarios (`all` runs each of them in turn). */
export const SCENARIOS = ['join', 'crash', 'partition', 'isolate', 'stall', 'restart', 'mass-join', 'churn', 'form', 'split-claim', 'burst'] as const
/** One scenario name. */
export type ScenarioName = typeof SCENARIOS[number]

/** Parameters of a run. */
export interface SimParams {
  nodes: number
  seed: number
  loss: number
  delayMs: number
  jitterMs: number
  /** Total virtual time; undefined = the scenario's own default. */
  durationS?: number | undefined
  /** How often invariants are checked (virtual ms). */
  checkEveryMs?: number
  /** Manager-eligible nodes (the first ones); default 5. */
  eligible?: number
  /** A saturated machine (cpu.ts): every node's inputs queue on a shared CPU. */
  cpu?: CpuParams | undefined
}

/** Measurements of one scenario run (all deterministic). */
export interface ScenarioResult {
  scenario: ScenarioName
  nodes: number
  durationS: number
  /** ms from each join until every live node saw it alive. */
  joinMs: number[]
  /** ms from each crash or freeze until every live node marked it failed. */
  failMs: number[]
  /** ms from each wake or restart until every live node held it alive again. */
  rejoinMs: number[]
  /**
   * ms from a partition until every node saw exactly its side (isolate: until every other
   * node held the cut-off node failed); from the heal until all see all (isolate: all hold
   * all alive, none suspect).
   */
  partitionDetectMs?: number
  healMs?: number
  /** ms from the start until all see all (form; burst: from the joiners' start). */
  formMs?: number
  /** burst: from the last node's core start (the last agent listening) until all see all. */
  formFromLastStartMs?: number
  /** burst: per node, ms from its start until it saw every node alive (nodes that did). */
  seesAllMs?: number[]
  /** Transitions into suspect and into failed over the whole run, against anyone. */
  suspectTransitions?: number
  failedTransitions?: number
  /** Most nodes that claimed the manager at one epoch (1 = no same-epoch split). */
  claimsPerEpochMax?: number
  /** The CPU model's figures: CPU seconds used, mean input queueing per node (s), most nodes busy at once. */
  cpu?: { cpuS: number, queuedSPerNode: number, peakBusy: number }
  /** Whether every live node saw exactly the live nodes at the end. */
  convergedAtEnd: boolean
  falseSuspicions: number
  falseDeaths: number
  falseDeathsAfterDisruption: number
  /** Per node per second, over nodes up for the whole run. */
  msgsOutPerNodeS: { mean: number, max: number }
  bytesOutPerNodeS: { mean: number, max: number }
  bytesInPerNodeS: { mean: number, max: number }
  /** Push-pull: exchanges started and bytes moved (sent + received) per node per second. */
  syncsPerNodeS: { mean: number, max: number }
  syncBytesPerNodeS: { mean: number, max: number }
  /** Mean bytes of one push-pull exchange (request + reply). */
  syncBytesPerExchange: number
  /**
   * Push-pull bytes per node per second in a long-running cluster: every node starts one
   * exchange and answers one (on average) per N-scaled interval.
   */
  syncBytesSteadyPerNodeS: number
  elections: number
  electionsPerHour: number
  /** Invariant checks where a connected component had more than one settled manager. */
  managerViolations: number
  /** Longest time some component had two or more managers (ms, settling included). */
  maxDualManagerMs: number
  /** Checks where some component had no manager although it held an eligible node. */
  managerlessChecks: number
  /** Epochs claimed by two or more nodes (split-claim: each side without the manager claimed the same one). */
  sameEpochClaims?: number
  events: number
}

const DEFAULT_DURATION_S: Record<ScenarioName, number> = {
  join: 30, crash: 60, partition: 120, isolate: 60, stall: 120, restart: 90, 'mass-join': 60, churn: 120, form: 60, 'split-claim': 90, burst: 120
}

/**
 * A booted cluster first runs this long unmeasured: at start every node announces itself
 * once (its own alive, already known to all), and a long-running cluster has no such burst.
 */
const WARMUP_MS = 10_000
/** Virtual time at which the scenario's fault happens (after the warm-up). */
const FAULT_AT_MS = WARMUP_MS + 5_000
/** How long a partition lasts, a node stays frozen, a crashed node stays down. */
const PARTITION_MS = 30_000
const STALL_MS = 60_000
const RESTART_AFTER_MS = 30_000
/** burst: the seed starts at 0, every other node this much later (after the seed listens). */
const BURST_AT_MS = 2_000

/** Runs one scenario with a factory of cores. */
export function runScenario<M, S> (name: ScenarioName, p: SimParams, makeFactory: (capacity: number, booted: number) => SimNodeFactory<M, S>): ScenarioResult {
  const measuredMs = (p.durationS ?? DEFAULT_DURATION_S[name]) * 1000
  const warmup = name === 'form' || name === 'burst' ? 0 : WARMUP_MS
  const durationMs = warmup + measuredMs
  const n = p.nodes
  const joiners = name === 'join' ? 1 : name === 'mass-join' ? Math.max(1, Math.floor(n / 10)) : name === 'churn' ? Math.ceil(durationMs / 1000) : 0
  const capacity = n + joiners
  const factory = makeFactory(capacity, name === 'form' || name === 'burst' ? 0 : n)
  // Under the CPU model a push-pull times out as the agent's does (MEMBERSHIP_DEFAULTS).
  const world = new World<M, S>({
    seed: p.seed, capacity, loss: p.loss, delayMs: p.delayMs, jitterMs: p.jitterMs, ...(p.cpu !== undefined ? { cpu: p.cpu, syncTimeoutMs: 5000 } : {})
  }, factory)
  const metrics = new Metrics(world, capacity)
  const rng = new Prng(p.seed, 0x5ce)
  const checkEvery = p.checkEveryMs ?? 100
  const res: ScenarioResult = {
    scenario: name, nodes: n, durationS: measuredMs / 1000, joinMs: [], failMs: [], rejoinMs: [], convergedAtEnd: false,
    falseSuspicions: 0, falseDeaths: 0, falseDeathsAfterDisruption: 0,
    msgsOutPerNodeS: { mean: 0, max: 0 }, bytesOutPerNodeS: { mean: 0, max: 0 }, bytesInPerNodeS: { mean: 0, max: 0 },
    syncsPerNodeS: { mean: 0, max: 0 }, syncBytesPerNodeS: { mean: 0, max: 0 }, syncBytesPerExchange: 0, syncBytesSteadyPerNodeS: 0,
    elections: 0, electionsPerHour: 0, managerViolations: 0, maxDualManagerMs: 0, managerlessChecks: 0, events: 0
  }
  /** Nodes that ran for the whole run (for per-node traffic). */
  const whole = new Uint8Array(capacity)
  const eligibleCount = p.eligible ?? 5
  const election = new ElectionProbe(world, metrics, capacity, { eligible: (i) => i < eligibleCount })
  const seeded = new Uint8Array(capacity)
  // The election core starts with the membership core (after the agent's start-up): it must
  // see its own membership core's first events, and its settle periods count from there.
  let lastCoreStart = 0
  world.beforeStart = i => { election.started(i, seeded[i] === 1); lastCoreStart = world.now }
  const start = (i: number, seeds: number[]): void => {
    seeded[i] = seeds.length > 0 ? 1 : 0
    world.startNode(i, seeds)
    metrics.started(i, world.now)
  }
  const crash = (i: number): void => {
    world.crash(i)
    metrics.crashed(i, world.now)
    election.crashed(i)
    whole[i] = 0
  }
  const randomUp = (below: number): number => {
    for (let k = 0; k < 1000; k++) {
      const i = rng.int(below)
      if (world.up[i] === 1 && world.stalledUntil[i]! <= world.now) return i
    }
    return 0
  }

  world.every(checkEvery, checkEvery, durationMs, () => { election.check(world.now) })
  world.every(election.tickMs, election.tickMs, durationMs, () => { election.sweep(world.now) })

  if (name === 'burst') {
    // The benchmark's start: a seed, then every other node at once, each joining through the seed.
    world.at(0, () => { start(0, []); whole[0] = 1 })
    world.at(BURST_AT_MS, () => {
      for (let i = 1; i < n; i++) { start(i, [0]); whole[i] = 1 }
    })
    let formed = -1
    const seesAll = new Float64Array(n).fill(-1)
    world.every(BURST_AT_MS + checkEvery, checkEvery, durationMs, () => {
      if (formed < 0 && metrics.upCount === n && metrics.allSeeAll()) formed = world.now - BURST_AT_MS
      for (let i = 1; i < n; i++) if (seesAll[i]! < 0 && metrics.aliveView[i] === n - 1) seesAll[i] = world.now - BURST_AT_MS
    })
    run()
    if (formed >= 0) { res.formMs = formed; res.formFromLastStartMs = formed + BURST_AT_MS - lastCoreStart }
    res.seesAllMs = [...seesAll.subarray(1)].filter(x => x >= 0).sort((a, b) => a - b)
    return finish()
  }

  if (name === 'form') {
    // Nodes start one every 10 ms, each joining through a random node already started.
    for (let i = 0; i < n; i++) {
      world.at(i * 10, () => {
        if (i === 0) start(0, [])
        else start(i, [rng.int(i)])
        whole[i] = 1
      })
    }
    let formed = -1
    world.every(checkEvery, checkEvery, durationMs, () => {
      if (formed < 0 && metrics.upCount === n && metrics.allSeeAll()) formed = world.now
    })
    run()
    if (formed >= 0) res.formMs = formed
    return finish()
  }

  const user = election.bootClaim(n)
  world.bootConverged(n, user)
  metrics.booted(0, n)
  election.booted(0, n, user)
  // The crash, stall and restart victim is the sitting manager: its fault also exercises an election.
  const victim = (): number => election.bootManager >= 0 && world.responsive(election.bootManager) ? election.bootManager : randomUp(n)
  whole.fill(1, 0, n)
  world.at(warmup, () => {
    for (const v of Object.values(world.traffic)) (v as Float64Array).fill(0)
    election.resetCounts()
  })

  switch (name) {
    case 'join':
      world.at(FAULT_AT_MS, () => { start(n, [randomUp(n)]); metrics.track('join', n, world.now) })
      break
    case 'mass-join':
      world.at(FAULT_AT_MS, () => {
        for (let j = n; j < capacity; j++) start(j, [randomUp(n)])
        for (let j = n; j < capacity; j++) metrics.track('join', j, world.now)
      })
      break
    case 'crash':
      world.at(FAULT_AT_MS, () => { const x = victim(); crash(x); metrics.track('fail', x, world.now) })
      break
    case 'stall':
      world.at(FAULT_AT_MS, () => {
        const x = victim()
        world.stall(x, STALL_MS)
        metrics.track('fail', x, world.now)
        world.at(world.now + STALL_MS, () => { metrics.disrupted(x, world.now); metrics.track('rejoin', x, world.now) })
      })
      break
    case 'restart':
      world.at(FAULT_AT_MS, () => {
        const x = victim()
        crash(x)
        metrics.track('fail', x, world.now)
        world.at(world.now + RESTART_AFTER_MS, () => { start(x, [randomUp(n)]); metrics.track('rejoin', x, world.now) })
      })
      break
    case 'partition': {
      let healAt = -1
      let detected = -1
      let healed = -1
      world.at(FAULT_AT_MS, () => {
        for (let i = 0; i < n; i++) world.net.setGroup(i, rng.int(2))
        world.at(world.now + PARTITION_MS, () => {
          world.net.heal()
          healAt = world.now
          for (let i = 0; i < n; i++) metrics.disrupted(i, world.now)
        })
      })
      world.every(FAULT_AT_MS + checkEvery, checkEvery, durationMs, () => {
        if (healAt < 0 && detected < 0 && metrics.allSeeOwnSide()) detected = world.now - FAULT_AT_MS
        if (healAt >= 0 && healed < 0 && metrics.allSeeAll()) healed = world.now - healAt
      })
      world.at(durationMs, () => {
        if (detected >= 0) res.partitionDetectMs = detected
        if (healed >= 0) res.healMs = healed
      })
      break
    }
    case 'isolate': {
      // The benchmark's link cut (bench:membership): one node's link is cut until every other
      // node holds it failed, then restored at once; healed when every node holds every node
      // alive, none suspect (what the benchmark polls). The node is not the boot manager, so
      // this measures membership, not an election.
      let cutAt = -1
      let healAt = -1
      let detected = -1
      let healed = -1
      let x = -1
      world.at(FAULT_AT_MS, () => {
        do x = randomUp(n); while (x === election.bootManager && n > 1)
        world.net.setGroup(x, 1)
        cutAt = world.now
      })
      const id = (): string => world.idOf(x)
      world.every(FAULT_AT_MS + checkEvery, checkEvery, durationMs, () => {
        if (cutAt < 0) return
        if (healAt < 0) {
          for (let i = 0; i < n; i++) {
            if (i !== x && world.up[i] === 1 && world.core(i)!.member(id())?.status !== 'failed') return
          }
          detected = world.now - cutAt
          world.net.heal()
          healAt = world.now
          for (let i = 0; i < n; i++) metrics.disrupted(i, world.now)
        } else if (healed < 0 && metrics.allAliveAll()) {
          healed = world.now - healAt
        }
      })
      world.at(durationMs, () => {
        if (detected >= 0) res.partitionDetectMs = detected
        if (healed >= 0) res.healMs = healed
      })
      break
    }
    case 'split-claim': {
      // Three sides: the one holding the manager and two without, which each elect a manager
      // at the same epoch without hearing the other (like joiners whose push-pull to the
      // seed was lost); after the heal one manager per component must remain.
      world.at(FAULT_AT_MS, () => {
        for (let i = 0; i < n; i++) world.net.setGroup(i, i % 3)
        world.at(world.now + PARTITION_MS, () => {
          world.net.heal()
          for (let i = 0; i < n; i++) metrics.disrupted(i, world.now)
        })
      })
      break
    }
    case 'churn': {
      // Every second until 30 s before the end: one crash, one restart of a node down for 20 s
      // or more, one join.
      const down: Array<{ i: number, at: number }> = []
      let next = n
      world.every(FAULT_AT_MS, 1000, durationMs - 30_000, () => {
        const x = randomUp(n)
        crash(x)
        down.push({ i: x, at: world.now })
        metrics.track('fail', x, world.now)
        if (down.length > 0 && world.now - down[0]!.at >= 20_000) start(down.shift()!.i, [randomUp(n)])
        if (next < capacity) { start(next, [randomUp(n)]); metrics.track('join', next, world.now); next++ }
      })
      break
    }
  }
  run()
  return finish()

  function run (): void {
    world.runUntil(durationMs)
  }

  function finish (): ScenarioResult {
    res.joinMs = metrics.durations('join')
    res.failMs = metrics.durations('fail')
    res.rejoinMs = metrics.durations('rejoin')
    res.convergedAtEnd = metrics.allSeeAll()
    res.falseSuspicions = metrics.verdicts.suspicions
    res.falseDeaths = metrics.verdicts.deaths
    res.falseDeathsAfterDisruption = metrics.verdicts.deathsAfterDisruption
    const secs = measuredMs / 1000
    const tr = world.traffic
    res.msgsOutPerNodeS = perNode(tr.msgsOut, whole, secs)
    res.bytesOutPerNodeS = perNode(tr.bytesOut, whole, secs)
    res.bytesInPerNodeS = perNode(tr.bytesIn, whole, secs)
    res.syncsPerNodeS = perNode(tr.syncsOut, whole, secs)
    res.syncBytesPerNodeS = perNode(tr.syncBytes, whole, secs)
    let exchanges = 0
    let moved = 0
    for (let i = 0; i < capacity; i++) { exchanges += tr.syncsOut[i]!; moved += tr.syncBytes[i]! / 2 }
    res.syncBytesPerExchange = exchanges > 0 ? moved / exchanges : 0
    const interval = factory.pushPullIntervalMs?.(n)
    res.syncBytesSteadyPerNodeS = interval !== undefined ? 2 * res.syncBytesPerExchange / (interval / 1000) : 0
    res.elections = election.elections
    res.electionsPerHour = election.elections / (measuredMs / 3_600_000)
    res.managerViolations = election.violations
    res.maxDualManagerMs = election.maxDualMs
    res.managerlessChecks = election.managerless
    if (name === 'split-claim') res.sameEpochClaims = election.sameEpochClaims
    if (name === 'burst' || p.cpu !== undefined) {
      res.suspectTransitions = metrics.transitions.suspect
      res.failedTransitions = metrics.transitions.failed
      res.claimsPerEpochMax = election.claimsPerEpochMax
    }
    if (world.cpu !== null) {
      res.cpu = { cpuS: world.cpu.cpuMs / 1000, queuedSPerNode: world.cpu.queuedMs / 1000 / Math.max(1, world.count), peakBusy: world.cpu.peakBusy }
    }
    res.events = world.processed
    return res
  }
}

function perNode (v: Float64Array, whole: Uint8Array, secs: number): { mean: number, max: number } {
  let sum = 0
  let max = 0
  let k = 0
  for (let i = 0; i < whole.length; i++) {
    if (whole[i] !== 1) continue
    const r = v[i]! / secs
    sum += r
    if (r > max) max = r
    k++
  }
  return { mean: k > 0 ? sum / k : 0, max }
}
