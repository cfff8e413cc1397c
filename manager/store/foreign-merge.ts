/**
 * Bringing another lineage's store into this one (a healed partition, a deposed manager's last
 * writes) as one write. merge.ts plans it, purely; this applies the plan to the shared core's
 * views. Part of the manager store (manager-store.ts).
 */
import { guardIterator, parseStored, validateImport } from './restore.js'
import { planMerge, type MergeReport } from './merge.js'
import type { StoreCore } from './store-core.js'
import type { StoreEntry } from './types.js'

/** See ManagerStore.mergeForeign. */
export async function mergeForeign (core: StoreCore, entries: StoreEntry[], options: { unacked?: ReadonlySet<string> }): Promise<MergeReport> {
  const db = core.assertStarted()
  validateImport(entries)
  return await core.write(async () => {
    await core.barrier()
    const local: StoreEntry[] = []
    for await (const [key, raw] of guardIterator(core.path, db.iterator())) local.push({ key, value: parseStored(key, raw) })
    const plan = planMerge(local, entries, core.gseq, {
      at: core.now().toISOString(),
      ...(core.epoch !== undefined ? { epoch: core.epoch } : {}),
      ...(options.unacked !== undefined ? { unacked: options.unacked } : {})
    })
    if (plan.ops.length === 0) return core.noWrite(plan.report)
    for (const entry of plan.nodes) core.nodes.set(entry.record.name, entry)
    core.gseq = plan.gseq
    core.jobSeq.clear() // job event counters moved; re-read on demand
    const records = plan.nodes.map(e => e.record)
    // Not handed to afterCommit: the replicator calls this while it reconciles a replica, and
    // replicas pick the merge up from the snapshot that follows (the sweep sends it to any
    // replica left behind); the merged changes stay on their source until that snapshot.
    return core.stage(plan.ops, () => {
      for (const r of records) core.committedNodes.set(r.name, r)
      for (const { key, value } of plan.config) {
        if (value === undefined) core.committedConfig.delete(key); else core.committedConfig.set(key, value)
      }
    }, plan.report, { replicate: false })
  })
}
