// Metrics and health on real agents: three agent processes on network-namespace hosts, the
// manager running a real commission job over SSH with real ansible-runner, its store in real
// LevelDB. The test scrapes GET /metrics, /healthz and /readyz over each agent's API socket, as
// Prometheus and a supervisor would, and checks that the figures move as things happen.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { request, type IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import type { AgentProcess } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import type { JobRecord } from '../../protocol/jobs.js'
import { promSamples as samples } from '../harness/metrics-text.js'

interface Reply { status: number, type: string, text: string }

/** GET `path` on an agent's API socket (null while it does not answer). */
async function get (a: AgentProcess, path: string): Promise<Reply | null> {
  try {
    const req = request({ socketPath: a.socket, path, agent: false, timeout: 5000 })
    req.end()
    const [res] = await once(req, 'response') as [IncomingMessage]
    let text = ''
    for await (const chunk of res) text += String(chunk)
    return { status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }
  } catch {
    return null
  }
}

describe('metrics and health on real agents', () => {
  let fleet: AgentFleet
  const h = (i: number): TestHost => fleet.host(i)
  const agent = (i: number): AgentProcess => fleet.agent(i)
  const start = async (i: number, eligible: boolean): Promise<AgentProcess> => await fleet.start(i, { eligible })
  /** One scrape of `a`'s /metrics, as samples. */
  const scrape = async (a: AgentProcess): Promise<Map<string, number>> => {
    const r = await get(a, '/metrics')
    assert.ok(r !== null && r.status === 200, `scrape of ${a.host.name} failed: ${JSON.stringify(r)}`)
    return samples(r.text)
  }
  /** Poll `a`'s /metrics until `check` holds for a sample set. */
  const until = async (a: AgentProcess, what: string, check: (s: Map<string, number>) => boolean, timeoutMs = 30_000): Promise<Map<string, number>> => {
    let last = new Map<string, number>()
    return await waitFor(async () => {
      const r = await get(a, '/metrics')
      if (r?.status !== 200) return undefined
      last = samples(r.text)
      return check(last) ? last : undefined
    }, { timeoutMs, intervalMs: 250, message: () => `${a.host.name}: ${what}; last scrape:\n${[...last].filter(([k]) => k.startsWith('clusterd_')).map(([k, v]) => `${k} ${v}`).join('\n')}\n${a.output.slice(-2000)}` })
  }
  const v = (s: Map<string, number>, key: string): number => s.get(key) ?? 0

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'metrics', prefix: 'mx', count: 3, managerKey: true })
  })

  after(async () => {
    await fleet?.close()
  })

  it('an agent whose seed is not up is alive but not ready, and says why', async () => {
    const a1 = await start(1, false)
    const health = await waitFor(async () => await get(a1, '/healthz'), { timeoutMs: 30_000, message: () => `no /healthz from ${h(1).name}:\n${a1.output.slice(-2000)}` })
    assert.equal(health.status, 200)
    assert.deepEqual(JSON.parse(health.text), { ok: true })
    const ready = await get(a1, '/readyz')
    assert.equal(ready?.status, 503)
    assert.match(String(JSON.parse(ready?.text ?? '{}').reason), /not joined/)
  })

  it('the first node turns ready alone; the waiting agent turns ready once it joins and learns the manager', async () => {
    const a0 = await start(0, true)
    await waitFor(async () => (await get(a0, '/readyz'))?.status === 200 ? true : undefined, { timeoutMs: 60_000, message: () => `${h(0).name} never ready:\n${a0.output.slice(-2000)}` })
    await waitFor(async () => (await get(agent(1), '/readyz'))?.status === 200 ? true : undefined, { timeoutMs: 60_000, message: () => `${h(1).name} never ready` })
    const s = await until(a0, 'manager local', x => v(x, 'clusterd_manager_local') === 1 && v(x, 'clusterd_manager_epoch') >= 1)
    assert.ok(v(s, 'clusterd_manager_changes_total') >= 1)
    assert.equal(v(s, 'clusterd_manager_elected'), 1)
  })

  it('members alive goes up as a member joins; probes and gossip bytes move', async () => {
    const before = await until(agent(0), 'two alive', x => v(x, 'clusterd_members{status="alive"}') === 2)
    await start(2, true)
    await until(agent(0), 'three alive', x => v(x, 'clusterd_members{status="alive"}') === 3)
    // A join can be seen within one probe interval (500 ms): the counters move by the next ones.
    await until(agent(0), 'probes and gossip bytes moving', x =>
      v(x, 'clusterd_swim_probes_total') > v(before, 'clusterd_swim_probes_total') &&
      v(x, 'clusterd_swim_acks_total') > v(before, 'clusterd_swim_acks_total') &&
      v(x, 'clusterd_gossip_bytes_total{direction="sent"}') > v(before, 'clusterd_gossip_bytes_total{direction="sent"}') &&
      v(x, 'clusterd_gossip_bytes_total{direction="received"}') > v(before, 'clusterd_gossip_bytes_total{direction="received"}'))
    await waitFor(async () => (await get(agent(2), '/readyz'))?.status === 200 ? true : undefined, { timeoutMs: 60_000, message: `${h(2).name} never ready` })
    // Its join was a push-pull, and between agents of one version a digest one (3.0.0).
    const joined = await until(agent(2), 'its join push-pull counted', x => v(x, 'clusterd_swim_push_pulls_total') >= 1)
    assert.equal(v(joined, 'clusterd_swim_push_pulls_full_state_total'), 0, 'no exchange fell back to /clusterd/sync/2.0.0')
  })

  it('a job moves the jobs counter, the duration histogram, lifecycle transitions, lease grants and replication acks', async () => {
    const m0 = await until(agent(0), 'three nodes discovered', x => v(x, 'clusterd_nodes{state="discovered"}') === 3)
    const leases0 = v(await scrape(agent(1)), 'clusterd_lease_requests_total{op="acquire",result="granted"}')
    const job = await agent(2).client.request<JobRecord>('POST', '/v1/commission', { nodes: [h(1).name], roles: ['worker'] })
    const done = await waitFor(async () => {
      const j = await agent(2).client.request<JobRecord>('GET', `/v1/jobs/${job.id}`)
      return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined
    }, { timeoutMs: 180_000, intervalMs: 500, message: `job ${job.id} did not finish` })
    assert.equal(done.status, 'succeeded', JSON.stringify(done.perNode))
    const m1 = await until(agent(0), 'the job counted', x => v(x, 'clusterd_jobs_finished_total{kind="commission",status="succeeded"}') === 1)
    assert.equal(v(m1, 'clusterd_job_duration_seconds_count{kind="commission",status="succeeded"}'), 1)
    const seconds = v(m1, 'clusterd_job_duration_seconds_sum{kind="commission",status="succeeded"}')
    const wall = (Date.parse(done.finishedAt ?? '') - Date.parse(done.createdAt)) / 1000
    assert.ok(Math.abs(seconds - wall) < 0.01, `histogram sum ${seconds} s, the job's own times ${wall} s`)
    assert.equal(v(m1, 'clusterd_job_duration_seconds_bucket{le="+Inf",kind="commission",status="succeeded"}'), 1)
    assert.equal(v(m1, 'clusterd_lifecycle_transitions_total{from="discovered",to="commissioning"}'), 1)
    assert.equal(v(m1, 'clusterd_lifecycle_transitions_total{from="commissioning",to="commissioned"}'), 1)
    assert.equal(v(m1, 'clusterd_nodes{state="commissioned"}'), 1)
    assert.equal(v(m1, 'clusterd_nodes{state="discovered"}'), 2)
    assert.ok(v(m1, 'clusterd_store_revision') > v(m0, 'clusterd_store_revision'))
    assert.ok(v(m1, 'clusterd_replication_acks_total') > v(m0, 'clusterd_replication_acks_total'), 'the eligible agent acknowledged the job\'s writes')
    assert.ok(v(m1, 'clusterd_store_bytes') > 0)
    // The lease was granted by the node's own agent.
    const n1 = await scrape(agent(1))
    assert.ok(v(n1, 'clusterd_lease_requests_total{op="acquire",result="granted"}') > leases0)
    // The replica's copy follows the manager's.
    const replicaRevision = async (): Promise<number> => v(await scrape(agent(2)), 'clusterd_store_revision')
    await waitFor(async () => await replicaRevision() >= v(m1, 'clusterd_store_revision') ? true : undefined, { timeoutMs: 30_000, message: 'the replica never caught up' })
    // One eligible replica (the other agents are not eligible): its lag, as the manager sees it, drops to 0.
    await until(agent(0), 'the replica\'s lag back to 0', x => {
      const lags = [...x].filter(([k]) => k.startsWith('clusterd_replication_lag_revisions{'))
      return lags.length === 1 && lags[0]?.[1] === 0
    })
  })

  it('an agent cut off from the others: its local health score rises while its probes go unanswered, and falls back once the link is back', async () => {
    const a1 = agent(1)
    await until(a1, 'healthy, all three alive', x => v(x, 'clusterd_swim_health_score') === 0 && v(x, 'clusterd_members{status="alive"}') === 3)
    const nacks = async (): Promise<number> => v(await scrape(agent(0)), 'clusterd_swim_nacks_total') + v(await scrape(agent(2)), 'clusterd_swim_nacks_total')
    const nacksBefore = await nacks()
    await h(1).cutLink()
    try {
      // Its pings and its helpers' ping-reqs both go unanswered, with no nack: Lifeguard says the
      // fault is probably its own and stretches its probing (score + 1 times the interval).
      await until(a1, 'health score above 0 while cut off', x => v(x, 'clusterd_swim_health_score') >= 1, 30_000)
      // The two that still reach each other learn the difference: when one probes the cut agent
      // through the other, the helper answers with a nack, so the fault is not the prober's.
      await waitFor(async () => await nacks() > nacksBefore ? true : undefined, { timeoutMs: 30_000, message: 'no nack from a helper while agent 1 was cut off' })
    } finally {
      await h(1).restoreLink()
    }
    // Answered probes bring it down one step each; the member views heal.
    await until(a1, 'health back to 0 and all alive again', x => v(x, 'clusterd_swim_health_score') === 0 && v(x, 'clusterd_members{status="alive"}') === 3, 90_000)
    // On the heal the others may have to refute the cut agent's suspicions of them, which raises
    // their own score by one (Lifeguard), so their score is not asserted at one instant: it must
    // come back to 0.
    await until(agent(0), 'the manager sees all three alive again, healthy', x => v(x, 'clusterd_members{status="alive"}') === 3 && v(x, 'clusterd_swim_health_score') === 0, 90_000)
  })

  it('a killed agent: suspicions and the failed count move on the others', async () => {
    const before = await scrape(agent(0))
    const deathsBefore = v(before, 'clusterd_swim_deaths_total') + v(await scrape(agent(1)), 'clusterd_swim_deaths_total')
    const scrapes: number[] = []
    for (let i = 0; i < 5; i++) {
      const t = performance.now()
      await scrape(agent(0))
      scrapes.push(performance.now() - t)
    }
    console.log(`# scrape of a 3-member manager agent over its socket: ${scrapes.map(x => x.toFixed(1)).join(', ')} ms; ${(await get(agent(0), '/metrics'))?.text.length ?? 0} bytes`)
    await agent(2).stop('SIGKILL')
    const after = await until(agent(0), 'one failed', x => v(x, 'clusterd_members{status="failed"}') === 1, 60_000)
    assert.equal(v(after, 'clusterd_members{status="alive"}'), 2)
    assert.ok(v(after, 'clusterd_swim_suspicions_total') > v(before, 'clusterd_swim_suspicions_total'))
    // Whichever agent's probe timed out declared it failed; the other learned it by gossip.
    assert.ok(v(after, 'clusterd_swim_deaths_total') + v(await scrape(agent(1)), 'clusterd_swim_deaths_total') > deathsBefore)
    // The manager stays; everyone left is still ready.
    assert.equal((await get(agent(0), '/readyz'))?.status, 200)
    assert.equal((await get(agent(1), '/readyz'))?.status, 200)
  })
})
