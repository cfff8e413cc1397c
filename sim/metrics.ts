/**
 * What the simulator measures from the cores' own events: how long until every live node
 * sees a join (or a node back after a wake or restart), how long until every live node marks a
 * failure, false suspicions and false deaths (a verdict against a node that runs, is not
 * frozen and can be reached from the accuser), and whether every live node's view counts
 * exactly the live nodes ("all see all"). Trackers keep one byte per observer and a running
 * count, so a check is O(1) per event and O(N) per tick at most.
 */

import type { SimEvent } from './sim-types.js'
import type { World } from './world.js'

/** What a tracker waits for. */
export type TrackKind = 'join' | 'fail' | 'rejoin'

/**
 * Time from a cause until every live node observed its consequence. `seen[i]` = observer i
 * holds the subject alive (join, rejoin: done when all live observers do) or holds it alive
 * or suspect (fail: done when none does; an observer that never knew the subject, e.g. a
 * joiner that learned the cluster after the verdict, holds nothing).
 */
interface Tracker {
  kind: TrackKind
  subject: number
  start: number
  seen: Uint8Array
  count: number
  doneAt: number
  /** The subject came back before every node marked it failed: no verdict to time. */
  cancelled: boolean
}

/** Counters of verdicts against live nodes. */
export interface FalseVerdicts {
  /** A live, unfrozen, reachable node was suspected (transition into suspect). */
  suspicions: number
  /** A live, unfrozen, reachable node was marked failed. */
  deaths: number
  /** Same as `deaths` but within the grace after the subject was disrupted (wake, restart, heal). */
  deathsAfterDisruption: number
}

/** Collects the simulator's measurements for one world. */
export class Metrics<M, S> {
  private readonly world: World<M, S>
  private readonly idIndex = new Map<string, number>()
  private readonly trackers: Tracker[] = []
  private readonly bySubject = new Map<number, Tracker[]>()
  /** Per observer: members it holds as alive or suspect (self excluded). */
  readonly aliveView: Int32Array
  /** Per observer: members it holds alive, not suspect (self excluded): what the benchmark polls. */
  readonly strictView: Int32Array
  /** Last time a node was disrupted (started, restarted, woke, partition healed). */
  private readonly disruptedAt: Float64Array
  /** Verdicts within this long after a disruption are counted apart. */
  readonly disruptionGraceMs: number
  readonly verdicts: FalseVerdicts = { suspicions: 0, deaths: 0, deathsAfterDisruption: 0 }
  /** Every transition into suspect and into failed, whoever the subject (the flapping). */
  readonly transitions = { suspect: 0, failed: 0 }
  /** Number of nodes up (running, stalled or not). */
  upCount = 0

  constructor (world: World<M, S>, capacity: number, disruptionGraceMs = 30_000) {
    this.world = world
    this.aliveView = new Int32Array(capacity)
    this.strictView = new Int32Array(capacity)
    this.disruptedAt = new Float64Array(capacity).fill(-Infinity)
    this.disruptionGraceMs = disruptionGraceMs
    for (let i = 0; i < capacity; i++) this.idIndex.set(world.idOf(i), i)
    world.observe((node, ev, now) => { this.onEvent(node, ev, now) })
  }

  /** Index of a member id (-1 when not a simulated node). */
  indexOfId (id: string): number {
    return this.idIndex.get(id) ?? -1
  }

  /** Call after nodes were booted with preloaded views: their views count every booted node. */
  booted (first: number, n: number): void {
    for (let i = first; i < first + n; i++) this.aliveView[i] = this.strictView[i] = this.world.core(i)!.size() - 1
    this.upCount += n
  }

  /** Call when node `i` started (a joiner or a restart): its view is empty again. */
  started (i: number, now: number): void {
    this.aliveView[i] = 0
    this.strictView[i] = 0
    this.upCount++
    this.disruptedAt[i] = now
    for (const t of this.trackers) {
      if (t.doneAt >= 0 || t.cancelled) continue
      if (t.subject === i && t.kind === 'fail') { t.cancelled = true; continue }
      if (t.seen[i] === 1) { t.seen[i] = 0; t.count-- }
      this.settle(t, now)
    }
  }

  /** Call when node `i` crashed. */
  crashed (i: number, now: number): void {
    this.upCount--
    for (const t of this.trackers) {
      if (t.doneAt >= 0 || t.cancelled) continue
      if (t.seen[i] === 1) { t.seen[i] = 0; t.count-- }
      this.settle(t, now)
    }
  }

  /** Call when node `i` woke from a stall, or the partition around it healed. */
  disrupted (i: number, now: number): void {
    this.disruptedAt[i] = now
  }

  /**
   * Starts measuring until every live node other than `subject` has observed `kind`
   * (join: sees it alive; fail: marks it failed or left; rejoin: holds it alive again).
   */
  track (kind: TrackKind, subject: number, now: number): void {
    const seen = new Uint8Array(this.aliveView.length)
    const t: Tracker = { kind, subject, start: now, seen, count: 0, doneAt: -1, cancelled: false }
    const id = this.world.idOf(subject)
    if (kind !== 'join') {
      // Observers that already hold the subject so count from the start.
      for (let i = 0; i < this.world.count; i++) {
        if (i === subject || this.world.up[i] !== 1) continue
        const st = this.world.core(i)!.member(id)?.status
        if (st !== undefined && matches(kind, st)) { seen[i] = 1; t.count++ }
      }
    }
    this.trackers.push(t)
    let list = this.bySubject.get(subject)
    if (list === undefined) this.bySubject.set(subject, list = [])
    list.push(t)
    this.settle(t, now)
  }

  /**
   * Completion times (ms after the cause) of the trackers of a kind; unfinished as NaN;
   * cancelled ones (a crashed node restarted before all marked it failed) left out.
   */
  durations (kind: TrackKind): number[] {
    return this.trackers.filter(t => t.kind === kind && !t.cancelled).map(t => t.doneAt >= 0 ? t.doneAt - t.start : NaN)
  }

  /** True when every up node's view holds exactly as many live members as there are up nodes. */
  allSeeAll (): boolean {
    const w = this.world
    const want = this.upCount - 1
    for (let i = 0; i < w.count; i++) {
      if (w.up[i] === 1 && this.aliveView[i] !== want) return false
    }
    return true
  }

  /**
   * True when every up node holds every other up node alive, none suspect (bench:membership's
   * "all see all": an agent lists every agent alive).
   */
  allAliveAll (): boolean {
    const w = this.world
    const want = this.upCount - 1
    for (let i = 0; i < w.count; i++) {
      if (w.up[i] === 1 && (this.strictView[i] !== want || this.aliveView[i] !== want)) return false
    }
    return true
  }

  /** True when every up node's view holds exactly the up nodes of its own partition group. */
  allSeeOwnSide (): boolean {
    const w = this.world
    const sizes = new Map<number, number>()
    for (let i = 0; i < w.count; i++) {
      if (w.up[i] === 1) sizes.set(w.net.groupOf(i), (sizes.get(w.net.groupOf(i)) ?? 0) + 1)
    }
    for (let i = 0; i < w.count; i++) {
      if (w.up[i] === 1 && this.aliveView[i] !== sizes.get(w.net.groupOf(i))! - 1) return false
    }
    return true
  }

  private onEvent (node: number, ev: SimEvent, now: number): void {
    if (ev.t !== 'member') return
    const e = ev as { id: string, status: string, previous?: string | null }
    const s = this.idIndex.get(e.id)
    if (s === undefined || s === node) return
    const was = e.previous === 'alive' || e.previous === 'suspect'
    const is = e.status === 'alive' || e.status === 'suspect'
    if (was !== is) this.aliveView[node]! += is ? 1 : -1
    if ((e.previous === 'alive') !== (e.status === 'alive')) this.strictView[node]! += e.status === 'alive' ? 1 : -1
    if (e.status !== e.previous && (e.status === 'suspect' || e.status === 'failed')) {
      this.transitions[e.status]++
      this.judge(node, s, e.status, now)
    }
    const list = this.bySubject.get(s)
    if (list === undefined) return
    for (const t of list) {
      if (t.doneAt >= 0 || t.cancelled) continue
      const m = matches(t.kind, e.status)
      if (m && t.seen[node] === 0) {
        t.seen[node] = 1
        t.count++
      } else if (!m && t.seen[node] === 1) {
        t.seen[node] = 0
        t.count--
      }
      this.settle(t, now)
    }
  }

  /** Counts a suspect or failed verdict of `node` about `s` when `s` is in fact fine. */
  private judge (node: number, s: number, status: string, now: number): void {
    const w = this.world
    if (w.up[s] !== 1 || w.stalledUntil[s]! > now || !w.net.reachable(node, s)) return
    if (status === 'suspect') {
      this.verdicts.suspicions++
    } else if (now - this.disruptedAt[s]! < this.disruptionGraceMs || now - this.disruptedAt[node]! < this.disruptionGraceMs) {
      this.verdicts.deathsAfterDisruption++
    } else {
      this.verdicts.deaths++
    }
  }

  private settle (t: Tracker, now: number): void {
    if (t.kind === 'fail') {
      if (t.count === 0) t.doneAt = now
      return
    }
    const others = this.upCount - (this.world.up[t.subject] === 1 ? 1 : 0)
    if (t.count >= others) t.doneAt = now
  }
}

/** Whether an observer's status of the subject is what `seen` records for this kind. */
function matches (kind: TrackKind, status: string): boolean {
  return kind === 'fail' ? status === 'alive' || status === 'suspect' : status === 'alive'
}
