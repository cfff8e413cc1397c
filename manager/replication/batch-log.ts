/**
 * The replicator's bounded log of recent batches: consecutive revisions, at most `maxBatches`
 * and about `maxBytes`, oldest dropped first. A replica a little behind is caught up from it
 * with a delta; one further behind than the log reaches gets a snapshot. A revision that never
 * came through (a merge, which is not replicated as a batch) breaks the run: the log starts
 * over after it, so a delta never skips a revision.
 */
import type { ReplicationBatch } from '../../protocol/replication-wire.js'

/** Bounds of the log. */
export interface BatchLogInit {
  maxBatches: number
  maxBytes: number
}

/** Recent consecutive batches. */
export class BatchLog {
  private readonly init: BatchLogInit
  private batches: Array<{ batch: ReplicationBatch, bytes: number }> = []
  private head = 0
  private bytes = 0

  constructor (init: BatchLogInit) {
    this.init = init
  }

  /** Append a committed batch (revisions come in order). */
  add (batch: ReplicationBatch): void {
    const last = this.batches.at(-1)
    if (last !== undefined && batch.revision !== last.batch.revision + 1) this.clear()
    const bytes = batch.ops.reduce((n, op) => n + op.key.length + (op.type === 'put' ? op.value.length : 0) + 30, 30)
    this.batches.push({ batch, bytes })
    this.bytes += bytes
    while (this.size > this.init.maxBatches || (this.bytes > this.init.maxBytes && this.size > 1)) {
      this.bytes -= (this.batches[this.head] as { bytes: number }).bytes
      this.head++
    }
    // Compact now and then so the array does not grow with every batch ever logged.
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head)
      this.head = 0
    }
  }

  /** Number of batches held. */
  get size (): number {
    return this.batches.length - this.head
  }

  /** Oldest revision held (null when empty). */
  get first (): number | null {
    return this.batches[this.head]?.batch.revision ?? null
  }

  /**
   * Consecutive batches from `revision` on, about `maxBytes` of them (at least one): [] when
   * `revision` is past the newest, null when the log no longer (or never) held it.
   */
  since (revision: number, maxBytes: number): ReplicationBatch[] | null {
    const first = this.first
    if (first === null) return null
    const newest = first + this.size - 1
    if (revision > newest) return revision === newest + 1 ? [] : null
    if (revision < first) return null
    const out: ReplicationBatch[] = []
    let size = 0
    for (let i = this.head + (revision - first); i < this.batches.length; i++) {
      const e = this.batches[i] as { batch: ReplicationBatch, bytes: number }
      if (out.length > 0 && size + e.bytes > maxBytes) break
      out.push(e.batch)
      size += e.bytes
    }
    return out
  }

  private clear (): void {
    this.batches = []
    this.head = 0
    this.bytes = 0
  }
}
