import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AgentMetrics, type AgentMetricsSources } from '../../../../agent/metrics/agent-metrics.js'
import type { ManagerFigures } from '../../../../protocol/manager-metrics.js'
import type { DatagramChannelStats } from '../../../../agent/transport/datagram-channel.js'
import { promSamples as samples } from '../../../harness/metrics-text.js'

function datagrams (sent: number): DatagramChannelStats {
  return {
    sent, sentBytes: sent * 100, sendErrors: 0, socketErrors: 0, received: 7, receivedBytes: 700, handlerErrors: 0, senders: 2,
    dropped: { oversized: 0, malformed: 1, auth: 3, stale: 0, replayed: 0, reflected: 0, senderLimit: 0 }
  }
}

function sources (over: Partial<AgentMetricsSources> = {}): AgentMetricsSources {
  return {
    members: () => [{ status: 'alive' }, { status: 'alive' }, { status: 'failed' }],
    membershipStats: () => ({ probes: 40, suspicions: 2, refutations: 1, deaths: 1, syncs: 3, syncsFullState: 1, broadcastsSent: 9, healthScore: 2 }),
    datagramStats: () => datagrams(10),
    epoch: () => 4,
    manager: () => ({ name: 'n1', peerId: 'p1', epoch: 4, since: '2026-01-01T00:00:00.000Z', local: false }),
    leaseStats: () => [{ op: 'acquire', result: 'granted', count: 2 }, { op: 'acquire', result: 'refused', count: 1 }],
    storeRevision: () => 12,
    storeBytes: async () => 4096,
    managerFigures: () => null,
    eventLoop: () => ({ worstLagMs: 120, sinceTickMs: 5, ticks: 10 }),
    logLinesDropped: () => 7,
    ...over
  }
}

describe('AgentMetrics', () => {
  it('reads the agent\'s counters at scrape time, in the Prometheus text format', async () => {
    let sent = 10
    const m = new AgentMetrics(sources({ datagramStats: () => datagrams(sent) }), { version: '1.2.3', nodeName: 'n2', processMetrics: false })
    const first = await m.render()
    assert.match(first.contentType, /^text\/plain; version=0\.0\.4/)
    assert.match(first.text, /# TYPE clusterd_swim_probes_total counter/)
    assert.match(first.text, /# TYPE clusterd_members gauge/)
    const s = samples(first.text)
    assert.equal(s.get('clusterd_members{status="alive"}'), 2)
    assert.equal(s.get('clusterd_members{status="failed"}'), 1)
    assert.equal(s.get('clusterd_members{status="suspect"}'), 0)
    assert.equal(s.get('clusterd_swim_probes_total'), 40)
    assert.equal(s.get('clusterd_swim_suspicions_total'), 2)
    assert.equal(s.get('clusterd_swim_refutations_total'), 1)
    assert.match(first.text, /# TYPE clusterd_swim_health_score gauge/)
    assert.equal(s.get('clusterd_swim_health_score'), 2, 'Lifeguard local health')
    assert.equal(s.get('clusterd_swim_push_pulls_total'), 3)
    assert.equal(s.get('clusterd_swim_push_pulls_full_state_total'), 1, 'push-pulls that fell back to 2.0.0')
    assert.equal(s.get('clusterd_swim_acks_total'), 0, 'a counter the core has not reported yet reads 0')
    assert.equal(s.get('clusterd_gossip_bytes_total{direction="sent"}'), 1000)
    assert.equal(s.get('clusterd_gossip_datagrams_dropped_total{reason="auth"}'), 3)
    assert.equal(s.get('clusterd_manager_epoch'), 4)
    assert.equal(s.get('clusterd_manager_elected'), 1)
    assert.equal(s.get('clusterd_manager_local'), 0)
    assert.equal(s.get('clusterd_lease_requests_total{op="acquire",result="granted"}'), 2)
    assert.equal(s.get('clusterd_store_revision'), 12)
    assert.equal(s.get('clusterd_store_bytes'), 4096)
    assert.equal(s.get('clusterd_agent_info{version="1.2.3",node="n2"}'), 1)
    assert.equal(s.get('clusterd_event_loop_worst_lag_seconds'), 0.12)
    assert.equal(s.get('clusterd_log_lines_dropped_total'), 7, 'log lines stdout\'s reader did not take')
    // Manager-only figures have no samples on an agent that is not the manager.
    assert.ok(![...s.keys()].some(k => k.startsWith('clusterd_nodes{') || k.startsWith('clusterd_replication_lag')))
    sent = 25
    assert.equal(samples((await m.render()).text).get('clusterd_gossip_datagrams_total{direction="sent"}'), 25)
  })

  it('shows the manager role\'s figures and counts what it reports through the sink', async () => {
    let figures: ManagerFigures | null = { storeRevision: 50, nodesByState: { commissioned: 3, discovered: 1 }, replicas: { pA: 48, pB: -1 }, replicationAcks: 30, underReplicated: 1, jobsActive: 2 }
    const m = new AgentMetrics(sources({ managerFigures: () => figures }), { version: '1', nodeName: 'n1', processMetrics: false })
    m.jobFinished('commission', 'succeeded', 12)
    m.jobFinished('commission', 'succeeded', 400)
    m.jobFinished('verify', 'failed', 3)
    m.lifecycleTransition(null, 'discovered')
    m.lifecycleTransition('discovered', 'commissioning')
    m.lifecycleTransition('discovered', 'commissioning')
    const s = samples((await m.render()).text)
    assert.equal(s.get('clusterd_nodes{state="commissioned"}'), 3)
    assert.equal(s.get('clusterd_replication_lag_revisions{replica="pA"}'), 2)
    assert.equal(s.get('clusterd_replication_lag_revisions{replica="pB"}'), 50, 'a replica not heard from lags by the whole store')
    assert.equal(s.get('clusterd_replication_acks_total'), 30)
    assert.equal(s.get('clusterd_jobs_active'), 2)
    assert.equal(s.get('clusterd_jobs_finished_total{kind="commission",status="succeeded"}'), 2)
    assert.equal(s.get('clusterd_jobs_finished_total{kind="verify",status="failed"}'), 1)
    assert.equal(s.get('clusterd_job_duration_seconds_count{kind="commission",status="succeeded"}'), 2)
    assert.equal(s.get('clusterd_job_duration_seconds_sum{kind="commission",status="succeeded"}'), 412)
    assert.equal(s.get('clusterd_job_duration_seconds_bucket{le="15",kind="commission",status="succeeded"}'), 1)
    assert.equal(s.get('clusterd_job_duration_seconds_bucket{le="600",kind="commission",status="succeeded"}'), 2)
    assert.equal(s.get('clusterd_lifecycle_transitions_total{from="none",to="discovered"}'), 1)
    assert.equal(s.get('clusterd_lifecycle_transitions_total{from="discovered",to="commissioning"}'), 2)
    // The role stops (deposed): its figures go, the agent's counters stay.
    figures = null
    const after = samples((await m.render()).text)
    assert.equal(after.get('clusterd_nodes{state="commissioned"}'), undefined)
    assert.equal(after.get('clusterd_jobs_finished_total{kind="commission",status="succeeded"}'), 2)
  })

  it('counts an election once per new manager or epoch', async () => {
    const m = new AgentMetrics(sources(), { version: '1', nodeName: 'n1', processMetrics: false })
    const a = { name: 'a', peerId: 'pa', epoch: 1, since: '', local: false }
    m.managerChanged(a, null)
    m.managerChanged(null, a)
    m.managerChanged({ ...a, peerId: 'pb', epoch: 2 }, null)
    m.managerChanged({ ...a, peerId: 'pb', epoch: 2 }, { ...a, peerId: 'pb', epoch: 2 })
    assert.equal(samples((await m.render()).text).get('clusterd_manager_changes_total'), 2)
  })

  it('adds process metrics unless told not to', async () => {
    const m = new AgentMetrics(sources(), { version: '1', nodeName: 'n1' })
    const text = (await m.render()).text
    assert.match(text, /^process_resident_memory_bytes \d+/m)
    assert.match(text, /^nodejs_eventloop_lag_seconds /m)
  })
})
