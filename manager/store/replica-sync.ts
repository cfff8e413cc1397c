/**
 * The store as replication sees it: export (whole, as a consistent chunked snapshot, or by key
 * range), import of a whole state, a replica applying the manager's batches in revision order,
 * and the lineage and unacked-writes sidecars. Part of the manager store (manager-store.ts).
 */
import type { Lineage, ReplicationBatch } from '../../protocol/replication-wire.js'
import type { BatchOp } from './committer.js'
import { readLineage, writeLineage } from './lineage.js'
import { writeFailure, writeMarker } from './open-db.js'
import { checkReplicated } from './replicated.js'
import { guardIterator, parseStored, validateImport } from './restore.js'
import type { StoreCore } from './store-core.js'
import type { StoreEntry } from './types.js'
import { readUnacked, writeUnacked, type UnackedWrites } from './unacked.js'

/** Export, import and replica apply, on the shared core. */
export class ReplicaSync {
  constructor (private readonly core: StoreCore) {}

  /** See ManagerStore.exportAll. */
  async exportAll (): Promise<StoreEntry[]> {
    const core = this.core
    const db = core.assertStarted()
    return await core.queue.run(async () => {
      await core.barrier()
      const out: StoreEntry[] = []
      for await (const [key, raw] of guardIterator(core.path, db.iterator())) out.push({ key, value: parseStored(key, raw) })
      return out
    })
  }

  /** See ManagerStore.openSnapshot. */
  async openSnapshot (maxBytes: number): Promise<{ revision: number, chunks: AsyncGenerator<StoreEntry[]> }> {
    const core = this.core
    const db = core.assertStarted()
    const { revision, iterator } = await core.queue.run(async () => {
      await core.barrier()
      return { revision: core.committedRevision, iterator: db.iterator() }
    })
    const path = core.path
    async function * chunks (): AsyncGenerator<StoreEntry[]> {
      let chunk: StoreEntry[] = []
      let size = 0
      try {
        for await (const [key, raw] of guardIterator(path, iterator)) {
          chunk.push({ key, value: parseStored(key, raw) })
          size += key.length + raw.length + 20
          if (size >= maxBytes) {
            yield chunk
            chunk = []
            size = 0
          }
        }
        yield chunk
      } finally {
        await iterator.close().catch(() => {})
      }
    }
    return { revision, chunks: chunks() }
  }

  /** See ManagerStore.exportRange. */
  async exportRange (after: string, maxBytes: number): Promise<{ entries: StoreEntry[], next: string | null }> {
    const core = this.core
    const db = core.assertStarted()
    return await core.queue.run(async () => {
      await core.barrier()
      const entries: StoreEntry[] = []
      let size = 0
      for await (const [key, raw] of guardIterator(core.path, db.iterator(after === '' ? {} : { gt: after }))) {
        if (size >= maxBytes) return { entries, next: entries.at(-1)?.key ?? null }
        entries.push({ key, value: parseStored(key, raw) })
        size += key.length + raw.length + 20
      }
      return { entries, next: null }
    })
  }

  /** See ManagerStore.lineage. */
  async lineage (): Promise<Lineage | null> {
    this.core.assertStarted()
    return await readLineage(this.core.path)
  }

  /** See ManagerStore.setLineage. */
  async setLineage (lineage: Lineage | null): Promise<void> {
    this.core.assertStarted()
    await writeLineage(this.core.path, lineage)
  }

  /** See ManagerStore.unacked. */
  async unacked (): Promise<UnackedWrites | null> {
    this.core.assertStarted()
    return await readUnacked(this.core.path)
  }

  /** See ManagerStore.setUnacked. */
  async setUnacked (value: UnackedWrites | null): Promise<void> {
    this.core.assertStarted()
    await writeUnacked(this.core.path, value)
  }

  /** See ManagerStore.importAll. */
  async importAll (entries: StoreEntry[]): Promise<{ revision: number }> {
    const core = this.core
    const db = core.assertStarted()
    const ops = validateImport(entries)
    return await core.queue.run(async () => {
      await core.barrier()
      const existing: BatchOp[] = []
      for await (const key of db.keys()) existing.push({ type: 'del', key })
      await db.batch([...existing, ...ops], { sync: true })
      await core.load(db)
      await writeMarker(core.path, core.committedRevision, core.now().toISOString())
      core.log.info({ revision: core.committedRevision, entries: entries.length }, 'manager store state imported')
      return { revision: core.committedRevision }
    })
  }

  /** See ManagerStore.applyReplicated. */
  async applyReplicated (batch: ReplicationBatch): Promise<{ ok: true, revision: number } | { gap: true, revision: number }> {
    const core = this.core
    const db = core.assertStarted()
    const { ops, changes } = checkReplicated(batch)
    return await core.queue.run(async () => {
      await core.barrier()
      if (batch.revision !== core.committedRevision + 1) return { gap: true, revision: core.committedRevision }
      try {
        await db.batch(ops, { sync: true })
      } catch (err: any) {
        throw writeFailure(err, core.path)
      }
      for (const entry of changes.nodes) {
        core.nodes.set(entry.record.name, entry)
        core.committedNodes.set(entry.record.name, entry.record)
      }
      for (const name of changes.forgotten) {
        core.nodes.delete(name)
        core.committedNodes.delete(name)
        core.namesCache = null
      }
      for (const { key, value } of changes.config) {
        if (value === undefined) core.committedConfig.delete(key); else core.committedConfig.set(key, value)
      }
      if (changes.gseq !== null) core.gseq = changes.gseq
      core.jobSeq.clear() // job event counters may have moved; re-read on demand
      core.stagedRevision = core.committedRevision = batch.revision
      return { ok: true, revision: batch.revision }
    })
  }
}
