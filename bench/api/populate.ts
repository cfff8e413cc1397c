/**
 * Fills a manager store with realistic node records before any agent opens it: every node
 * discovered through `upsertNode`, then most of them taken through real lifecycle transitions
 * (commissioned, upgraded, failed with a reason, decommissioned) so records carry roles,
 * variables, job ids and reasons like a cluster that has lived a while. No node is left in a
 * transitional state: the job runner would fail those at start (a job that does not exist).
 */
import { pino } from 'pino'
import { ManagerStore, type NodeCommand } from '../../manager/store/index.js'

/** What was written. */
export interface PopulateResult {
  nodes: number
  transitions: number
  revision: number
  ms: number
  /** Nodes per final state. */
  states: Record<string, number>
}

/** The name of the i-th bench node. */
export function benchNodeName (i: number): string {
  return `node-${String(i).padStart(4, '0')}`
}

/** Commands taking node `i` to its final state (a mix by i mod 10). */
function history (i: number): NodeCommand[] {
  const job = (k: string): string => `j-bench-${i}-${k}`
  const commission: NodeCommand[] = [
    { type: 'COMMISSION', jobId: job('c'), roles: i % 3 === 0 ? ['worker', 'storage'] : ['worker'], vars: { worker_slots: String(4 + (i % 8)), rack: `r${i % 40}` } },
    { type: 'JOB_SUCCEEDED', jobId: job('c') }
  ]
  switch (i % 10) {
    case 6: return [commission[0] as NodeCommand, { type: 'JOB_FAILED', jobId: job('c'), reason: `Worker config is rendered failed on node: Destination /etc/clusterd-worker not writable (${i})` }]
    case 7: return [...commission, { type: 'UPGRADE', jobId: job('u') }, { type: 'JOB_SUCCEEDED', jobId: job('u') }]
    case 8: return [...commission, { type: 'DECOMMISSION', jobId: job('d') }, { type: 'JOB_SUCCEEDED', jobId: job('d') }]
    case 9: return [{ type: 'SET_VARS', vars: { zone: `z${i % 3}` } }]
    default: return [{ type: 'SET_VARS', vars: { zone: `z${i % 3}`, owner: 'team-a' } }, ...commission]
  }
}

/** Writes `count` node records with their histories into the store at `path`. */
export async function populateStore (path: string, count: number): Promise<PopulateResult> {
  const t0 = performance.now()
  const store = new ManagerStore({ logger: pino({ level: 'silent' }) }, { path })
  await store.start()
  let transitions = 0
  try {
    // Many writes in flight at once: the store group-commits them, as a busy manager would.
    await Promise.all(Array.from({ length: count }, async (_, i) => {
      const name = benchNodeName(i)
      await store.upsertNode({ name, peerId: `12D3KooWBench${String(i).padStart(6, '0')}`, reachable: true }, { actor: 'membership' })
      for (const cmd of history(i)) {
        const r = await store.applyTransition(name, cmd, { actor: 'operator' })
        if (!r.ok || !r.changed) throw new Error(`populate: ${cmd.type} on ${name} was not applied: ${JSON.stringify(r)}`)
        transitions++
      }
    }))
    const states: Record<string, number> = {}
    for (const n of await store.listNodes()) states[n.state] = (states[n.state] ?? 0) + 1
    return { nodes: count, transitions, revision: store.revision, ms: Math.round(performance.now() - t0), states }
  } finally {
    await store.stop()
  }
}
