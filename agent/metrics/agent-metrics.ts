/**
 * The agent's Prometheus registry (`GET /metrics`): membership, gossip, election, leases and
 * the replica are read from the agent's parts at scrape time; the manager role, when it runs
 * here, adds its figures (protocol/manager-metrics.ts) and reports jobs and lifecycle
 * transitions through this object as its ManagerMetricsSink. Names are listed in README.md.
 */

import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { JobKind, JobStatus } from '../../protocol/jobs.js'
import type { ManagerFigures, ManagerMetricsSink } from '../../protocol/manager-metrics.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { MemberStatus } from '../../protocol/members.js'
import type { LifecycleState } from '../../protocol/nodes.js'
import type { DatagramChannelStats } from '../transport/datagram-channel.js'
import type { EventLoopReading } from '../../protocol/stall-watch.js'
import { one, ReadMetric, type Sample } from './read-metric.js'

/** How often prom-client's `nodejs_eventloop_lag_*` metrics sample the loop (its default is 10 ms). */
export const EVENT_LOOP_LAG_SAMPLE_MS = 1000

/** Where the figures come from; each is read once per scrape. */
export interface AgentMetricsSources {
  /** This agent's membership view (statuses only are read). */
  members: () => Array<{ status: MemberStatus }>
  /** Membership core and wrapper counters (agent/membership/membership.ts `stats()`). */
  membershipStats: () => Record<string, number>
  /** The SWIM datagram channel's counters. */
  datagramStats: () => DatagramChannelStats
  /** Highest manager epoch this agent has seen. */
  epoch: () => number
  /** The elected manager as this agent sees it. */
  manager: () => ManagerInfo | null
  /** Lease requests this node answered, by operation and reply. */
  leaseStats: () => Array<{ op: string, result: string, count: number }>
  /** Revision of this agent's copy of the manager store (replica or manager), null without one. */
  storeRevision: () => number | null
  /** Bytes of this agent's manager store on disk, null without one. */
  storeBytes: () => Promise<number | null>
  /** The running manager role's figures, null when it does not run here. */
  managerFigures: () => ManagerFigures | null
  /** The event-loop watch's reading. */
  eventLoop: () => EventLoopReading
  /** Log lines stdout's reader did not take in time (agent/diagnostics/stdout-sink.ts). */
  logLinesDropped?: () => number
}

/** Settings of the registry. */
export interface AgentMetricsInit {
  /** Agent version, on `clusterd_agent_info`. */
  version: string
  /** Node name, on `clusterd_agent_info`. */
  nodeName: string
  /** Add prom-client's process and Node.js metrics (`process_*`, `nodejs_*`). Default true. */
  processMetrics?: boolean
}

/** Job durations from seconds to the longest jobs (the default job timeout is 30 min). */
const JOB_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600]

/** SWIM core counters exposed, by stats key: [metric name, help]. */
const SWIM_COUNTERS: Array<[string, string, string]> = [
  ['probes', 'clusterd_swim_probes_total', 'Direct probes (pings) this agent sent.'],
  ['indirectProbes', 'clusterd_swim_indirect_probes_total', 'Indirect probes (ping-req) this agent asked helpers for.'],
  ['acks', 'clusterd_swim_acks_total', 'Probe acknowledgements received.'],
  ['nacks', 'clusterd_swim_nacks_total', 'Negative acknowledgements (Lifeguard) received.'],
  ['suspicions', 'clusterd_swim_suspicions_total', 'Members this agent began to suspect.'],
  ['refutations', 'clusterd_swim_refutations_total', 'Suspicions about this agent it refuted.'],
  ['deaths', 'clusterd_swim_deaths_total', 'Members this agent declared failed.'],
  ['stalls', 'clusterd_swim_stalls_total', 'Own stalls the membership core detected.'],
  ['syncs', 'clusterd_swim_push_pulls_total', 'Push-pull exchanges this agent started over streams (digest or full state).'],
  ['syncsFullState', 'clusterd_swim_push_pulls_full_state_total', 'Push-pulls that fell back to whole states (a peer from before /clusterd/sync/3.0.0).'],
  ['broadcastsSent', 'clusterd_gossip_broadcasts_sent_total', 'Piggybacked gossip updates sent.']
]

const MEMBER_STATUSES: MemberStatus[] = ['alive', 'suspect', 'failed', 'left']

/** The agent's metrics. */
export class AgentMetrics implements ManagerMetricsSink {
  /** The registry `GET /metrics` renders. */
  readonly registry = new Registry()
  private readonly jobs: Counter<'kind' | 'status'>
  private readonly jobSeconds: Histogram<'kind' | 'status'>
  private readonly transitions: Counter<'from' | 'to'>
  private managerChanges = 0
  /** Membership stats read once by render() for the scrape under way. */
  private swim: Record<string, number> | null = null

  constructor (private readonly s: AgentMetricsSources, init: AgentMetricsInit) {
    const r = this.registry
    // prom-client samples event-loop lag with a 10 ms timer by default: 100 wake-ups a second,
    // about 1 % of a core on an idle agent (docs/benchmarks.md, "What wakes an idle agent").
    // One sample a second still shows a stall (the stall watch measures those itself).
    if (init.processMetrics !== false) collectDefaultMetrics({ register: r, eventLoopMonitoringPrecision: EVENT_LOOP_LAG_SAMPLE_MS })
    const add = (name: string, help: string, type: 'counter' | 'gauge', read: () => Sample[] | Promise<Sample[]>): void => {
      r.registerMetric(new ReadMetric(name, help, type, read).asMetric())
    }
    add('clusterd_agent_info', 'This agent: version and node name (value 1).', 'gauge', () => [{ labels: { version: init.version, node: init.nodeName }, value: 1 }])

    // Membership and gossip.
    add('clusterd_members', 'Members in this agent\'s view, by status.', 'gauge', () => {
      const counts: Record<string, number> = Object.fromEntries(MEMBER_STATUSES.map(x => [x, 0]))
      for (const m of s.members()) counts[m.status] = (counts[m.status] ?? 0) + 1
      return Object.entries(counts).map(([status, value]) => ({ labels: { status }, value }))
    })
    // One read of the stats per scrape (render) serves all SWIM counters.
    const swimStat = (key: string): Sample[] => one((this.swim ?? s.membershipStats())[key] ?? 0)
    for (const [key, name, help] of SWIM_COUNTERS) add(name, help, 'counter', () => swimStat(key))
    add('clusterd_swim_health_score', 'Lifeguard local health: 0 when healthy, rising (to 7 with the default timing) while this agent\'s own probes go unanswered without nacks or it must refute suspicions of itself (it is probably the slow one); probes and their timeouts run at score + 1 times their interval.', 'gauge', () => swimStat('healthScore'))
    add('clusterd_gossip_datagrams_total', 'SWIM datagrams sent and received (authentic ones only).', 'counter', () => {
      const d = s.datagramStats()
      return [{ labels: { direction: 'sent' }, value: d.sent }, { labels: { direction: 'received' }, value: d.received }]
    })
    add('clusterd_gossip_bytes_total', 'Sealed bytes of SWIM datagrams sent and received.', 'counter', () => {
      const d = s.datagramStats()
      return [{ labels: { direction: 'sent' }, value: d.sentBytes }, { labels: { direction: 'received' }, value: d.receivedBytes }]
    })
    add('clusterd_gossip_datagrams_dropped_total', 'Datagrams dropped on arrival, by reason.', 'counter', () =>
      Object.entries(s.datagramStats().dropped).map(([reason, value]) => ({ labels: { reason }, value })))

    // Election.
    add('clusterd_manager_epoch', 'Highest manager epoch this agent has seen (its fencing token).', 'gauge', () => one(s.epoch()))
    add('clusterd_manager_elected', '1 while this agent knows an elected manager, else 0.', 'gauge', () => one(s.manager() === null ? 0 : 1))
    add('clusterd_manager_local', '1 while this agent is the elected manager, else 0.', 'gauge', () => one(s.manager()?.local === true ? 1 : 0))
    add('clusterd_manager_changes_total', 'Elections this agent saw end: a new manager or epoch named.', 'counter', () => one(this.managerChanges))

    // Fencing.
    add('clusterd_lease_requests_total', 'Node lease requests this node answered, by operation and reply (granted, released, refused).', 'counter', () =>
      s.leaseStats().map(({ op, result, count }) => ({ labels: { op, result }, value: count })))

    // The store (a replica's or the manager's).
    add('clusterd_store_revision', 'Revision of this agent\'s copy of the manager store.', 'gauge', () => one(s.storeRevision()))
    add('clusterd_store_bytes', 'Bytes of this agent\'s manager store on disk.', 'gauge', async () => one(await s.storeBytes()))

    // The manager role, where it runs.
    add('clusterd_nodes', 'Node records by lifecycle state (on the manager).', 'gauge', () =>
      Object.entries(s.managerFigures()?.nodesByState ?? {}).map(([state, value]) => ({ labels: { state }, value: value ?? 0 })))
    add('clusterd_replication_lag_revisions', 'Revisions each replica is behind the manager store (on the manager; the whole store while unknown).', 'gauge', () => {
      const f = s.managerFigures()
      if (f === null) return []
      return Object.entries(f.replicas).map(([replica, acked]) => ({ labels: { replica }, value: f.storeRevision - Math.max(0, acked) }))
    })
    add('clusterd_replication_acks_total', 'Replica acknowledgements on the write path since the manager role started here.', 'counter', () => one(s.managerFigures()?.replicationAcks))
    add('clusterd_replication_under_replicated_total', 'Writes acknowledged with fewer replica acks than asked for, since the manager role started here.', 'counter', () => one(s.managerFigures()?.underReplicated))
    add('clusterd_jobs_active', 'Jobs queued or running (on the manager).', 'gauge', () => one(s.managerFigures()?.jobsActive))
    this.jobs = new Counter({ name: 'clusterd_jobs_finished_total', help: 'Jobs that ended on this agent\'s manager role, by kind and final status.', labelNames: ['kind', 'status'], registers: [r] })
    this.jobSeconds = new Histogram({ name: 'clusterd_job_duration_seconds', help: 'Time from a job\'s creation to its end, by kind and final status.', labelNames: ['kind', 'status'], buckets: JOB_DURATION_BUCKETS, registers: [r] })
    this.transitions = new Counter({ name: 'clusterd_lifecycle_transitions_total', help: 'Node lifecycle state changes recorded by this agent\'s manager role (from "none": a new record).', labelNames: ['from', 'to'], registers: [r] })

    add('clusterd_event_loop_worst_lag_seconds', 'Worst event-loop stall of the last 30 s (what /healthz judges).', 'gauge', () => one(s.eventLoop().worstLagMs / 1000))
    add('clusterd_log_lines_dropped_total', 'Log lines not written to stdout because its reader did not keep up (they stay in GET /v1/logs).', 'counter', () => one(s.logLinesDropped?.() ?? 0))
  }

  /** The election named a manager (or a new epoch): one election seen to its end. */
  managerChanged (info: ManagerInfo | null, previous: ManagerInfo | null): void {
    if (info !== null && (previous === null || previous.epoch !== info.epoch || previous.peerId !== info.peerId)) this.managerChanges++
  }

  /** @inheritdoc */
  jobFinished (kind: JobKind, status: JobStatus, seconds: number): void {
    this.jobs.inc({ kind, status })
    this.jobSeconds.observe({ kind, status }, seconds)
  }

  /** @inheritdoc */
  lifecycleTransition (from: LifecycleState | null, to: LifecycleState): void {
    this.transitions.inc({ from: from ?? 'none', to })
  }

  /** The exposition text and its content type. */
  async render (): Promise<{ contentType: string, text: string }> {
    this.swim = this.s.membershipStats()
    try {
      return { contentType: this.registry.contentType, text: await this.registry.metrics() }
    } finally {
      this.swim = null
    }
  }
}
