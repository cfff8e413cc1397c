/**
 * When a node push-pulls, and with whom: the join (join.ts), the periodic exchange on its
 * N-scaled interval (push-pull.ts), Serf's reconnect to a member held failed, the catch-up
 * after learning we were held failed, the settle rounds that follow a join or a heal
 * (settle.ts), and a slow node's deferral of all but the join (slow-defer.ts). SwimCore owns
 * probing and dissemination and hands this collaborator its push-pull calls; it shares the
 * core's member state, rng and counters, so the order of rng draws is the core's own.
 */

import type { Awareness } from './awareness.js'
import { Join } from './join.js'
import type { MemberState } from './member-state.js'
import { Code, randomSlots } from './member-table.js'
import { pushPullInterval, reconnectInterval } from './push-pull.js'
import { AcrossTarget, SettleRounds } from './settle.js'
import { SlowDeferral, type Deferrable } from './slow-defer.js'
import type { Endpoint, MemberId, Output, Rng, SwimStats, SwimTiming, SyncState } from './types.js'

/** What the schedule shares with its core. */
export interface SyncScheduleComponents {
  timing: SwimTiming
  rng: Rng
  state: MemberState
  awareness: Awareness
  /** The core's counters (settle rounds are counted here). */
  stats: SwimStats
  selfId: MemberId
  /** Seeds to join through, this node's own address already removed. */
  seeds: Endpoint[]
}

/** The push-pull schedule of one node. */
export class SyncSchedule {
  private readonly c: SyncScheduleComponents
  private readonly t: SwimTiming
  private readonly join: Join
  /** A push-pull of ours has succeeded (join done). */
  private done = false
  private nextPushPullAt = 0
  private nextReconnectAt = 0
  /** Earliest next catch-up push-pull after we were held failed. */
  private nextResyncAt = 0
  /** A catch-up push-pull is owed (we were held failed) and waits while we are slow: re-check then. */
  private resyncAt = Infinity
  private readonly slow: SlowDeferral
  /** Settle push-pulls after a (re)join or a heal, and a catch-up across a heal in flight. */
  private readonly settle: SettleRounds
  private readonly across = new AcrossTarget()

  constructor (components: SyncScheduleComponents) {
    this.c = components
    this.t = components.timing
    this.settle = new SettleRounds(this.t.settleIntervalMs, this.t.settleRounds)
    this.slow = new SlowDeferral(this.t.slowDeferMs)
    this.join = new Join(components.seeds, this.t.joinRetryMs, components.rng)
  }

  /** Whether a push-pull of ours has completed since start (the join is done). */
  get joined (): boolean { return this.done }

  /** Push-pulls deferred because we were slow (slow-defer.ts). */
  get deferred (): number { return this.slow.deferred }

  /** Place the first periodic exchange and reconnect at random within the base interval; push-pull the seeds (join). */
  start (now: number, out: Output): void {
    this.nextPushPullAt = now + this.c.rng() * this.t.pushPullIntervalMs
    this.nextReconnectAt = now + this.c.rng() * this.t.pushPullIntervalMs
    this.join.step(this.c.state, this.c.selfId, this.done, now, out)
  }

  /** Our push-pull came back (its state not merged yet): the rounds and timers it starts. */
  onReply (state: SyncState, now: number, out: Output): void {
    const table = this.c.state.table
    // We knew no other live member: this answers our join (or a rejoin after being cut off).
    const rejoin = table.live <= 1
    this.across.replied(state.from)
    this.c.state.merge(state, !this.done, now, out)
    if (rejoin || !this.done) this.settle.start(now, false, this.viewGain())
    if (!this.done) {
      // Now that N is known, put our first periodic push-pull at random within the N-scaled
      // interval: a whole cluster restarted at once must not all exchange full state within
      // the first base interval.
      this.done = true
      this.nextPushPullAt = now + this.c.rng() * pushPullInterval(this.t.pushPullIntervalMs, table.live, this.t.pushPullScaleMembers)
      // The reconnect too: with every node's first one within the base interval and the next
      // a log2-scaled period later, a heal waited most of a period for anyone to look across.
      this.nextReconnectAt = now + this.c.rng() * reconnectInterval(this.t.pushPullIntervalMs, table.live)
    }
  }

  /**
   * Our push-pull to `to` failed. When it went to a member we hold failed (a catch-up across a
   * heal) that really is gone, catch up with an alive member instead.
   */
  onFailed (to: Endpoint, out: Output): void {
    if (this.across.failed(to)) this.pushPull(out)
  }

  /** Run the push-pulls that are due: periodic, reconnect, join, settle, catch-up (in that order). */
  tick (now: number, out: Output): void {
    const table = this.c.state.table
    if (now >= this.nextPushPullAt) {
      if (this.hold('periodic', now)) {
        this.nextPushPullAt = now + this.t.probeIntervalMs
      } else {
        this.pushPull(out)
        this.nextPushPullAt = now + pushPullInterval(this.t.pushPullIntervalMs, table.live, this.t.pushPullScaleMembers)
      }
    }
    if (now >= this.nextReconnectAt) {
      if (this.hold('reconnect', now)) {
        this.nextReconnectAt = now + this.t.probeIntervalMs
      } else {
        this.reconnect(out)
        this.nextReconnectAt = now + reconnectInterval(this.t.pushPullIntervalMs, table.live)
      }
    }
    if (now >= this.join.nextAt) this.join.step(this.c.state, this.c.selfId, this.done, now, out)
    if (now >= this.settle.nextAt) this.settleRound(now, out)
    if (now >= this.resyncAt) this.resync(now, out)
  }

  /** The earliest time `tick` has something to do. */
  nextDeadline (): number {
    return Math.min(this.nextPushPullAt, this.nextReconnectAt, this.join.nextAt, this.settle.nextAt, this.resyncAt)
  }

  /** This node's timer ran late (an own stall): it may be the slow one. */
  noteLate (): void { this.slow.noteLate() }

  /** We learned we were held failed: catch up now, at most once per base interval. */
  heldFailed (now: number, out: Output): void {
    if (now >= this.nextResyncAt) this.resync(now, out)
  }

  /** Push-pull a random alive member (`preferFailed`: a member we hold failed, when there is one). */
  private pushPull (out: Output, preferFailed = false): void {
    const t = this.c.state.table
    const self = this.c.state.slotOfSelf
    const failed = preferFailed && t.count > t.live ? randomSlots(t, this.c.rng, 1, s => t.code(s) === Code.Failed)[0] : undefined
    const pick = failed ?? randomSlots(t, this.c.rng, 1, s => s !== self && t.code(s) === Code.Alive)[0]
    if (pick !== undefined) {
      const info = t.info(pick)
      if (failed !== undefined) this.across.set(info.addr, info.id)
      out.syncs.push({ t: 'sync', to: info.addr, id: info.id, state: this.c.state.localState(false) })
    }
  }

  /** A settle round is due (settle.ts): push-pull while the view still changes. */
  private settleRound (now: number, out: Output): void {
    if (this.c.state.left) { this.settle.stop(); return }
    if (this.hold('settle', now)) { this.settle.nextAt = now + this.t.probeIntervalMs; return }
    if (!this.settle.step(now, this.viewGain())) return
    this.c.stats.settles++
    this.pushPull(out, this.settle.across && this.t.resyncToFailed > 0)
  }

  /** Members added or revived since start: the view still changes while this grows. */
  private viewGain (): number { return this.c.state.added + this.c.state.revivals }

  /** Serf's reconnect: now and then try a failed member, so partitions heal once the network does. */
  private reconnect (out: Output): void {
    const t = this.c.state.table
    const failed = t.count - t.live
    if (failed > 0 && this.c.rng() < Math.min(1, failed / Math.max(1, t.live))) {
      const f = randomSlots(t, this.c.rng, 1, s => t.code(s) === Code.Failed)[0]
      if (f !== undefined) {
        const info = t.info(f)
        out.syncs.push({ t: 'sync', to: info.addr, id: info.id, state: this.c.state.localState(false) })
      }
    }
  }

  /**
   * Catch up after learning we were held failed (at most once per base interval), unless we
   * are slow (then `resyncAt` re-checks: slow-defer.ts).
   */
  private resync (now: number, out: Output): void {
    if (this.hold('resync', now)) { this.resyncAt = now + this.t.probeIntervalMs; return }
    this.resyncAt = Infinity
    this.nextResyncAt = now + this.t.pushPullIntervalMs
    this.pushPull(out, this.t.resyncToFailed > 0)
    // A heal is learned over tens of seconds (each side refutes as it hears of its verdict):
    // keep exchanging while the view still changes, as after a join.
    this.settle.start(now, true, this.viewGain())
  }

  /** Whether a push-pull of our own waits because we are slow (slow-defer.ts); never before our join. */
  private hold (kind: Deferrable, now: number): boolean {
    return this.done && this.slow.hold(kind, this.c.awareness.health, now)
  }
}
