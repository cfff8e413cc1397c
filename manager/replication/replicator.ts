/**
 * Manager side of replication, with a cost per write that does not grow with the cluster.
 *
 * A committed batch goes to `replication.acks` replicas (default 2; fewer when fewer eligible
 * members are alive), preferring the ones that already hold the previous revision, so the
 * same few replicas take the writes. The write is acknowledged once that many have persisted
 * it; a replica that fails or refuses is replaced by the next candidate, at most a few extra
 * tries; when none of them acks (no replica reachable at all) the write is acknowledged
 * alone, as before (a documented trade-off: availability with one node up).
 *
 * Every other alive eligible member is brought up to date in the background, at most
 * `maxInFlight` at a time and each at most once per `catchUpIntervalMs` (writes in between
 * travel together): from a bounded in-memory log of recent batches (a `delta` frame of
 * consecutive batches) when it is only a little behind, else by a snapshot sent as a stream of
 * chunks of about 1 MiB. Sends to one replica are strictly ordered.
 *
 * A replica that knows a newer epoch answers `stale`: this manager was replaced. From then on
 * it acknowledges nothing: the write that learned it and every later one fail with
 * CLUSTERD_ERR_MANAGER_CHANGED, and `onDeposed` tells the manager to step down. A write is
 * acknowledged alone only when no replica acknowledged it and none said `stale`.
 *
 * Before the first snapshot of an epoch replaces a replica's state, the replicator pulls that
 * state (in chunks) and has the manager merge whatever it lacks (the old manager's side of a
 * healed partition, writes a deposed manager acknowledged alone): no acknowledged write is
 * replaced. The pull carries this manager's base lineage (the manager whose history its own
 * store followed, and the revision it had reached): a replica of that lineage that is not
 * ahead holds nothing to merge, answers empty and follows this manager from its revision on.
 */

import { randomBytes } from 'node:crypto'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import type { Member } from '../../protocol/members.js'
import {
  REPLICATE_PROTOCOL, REPLICATION_FRAME_MAX_BYTES, SNAPSHOT_CHUNK_BYTES, decodeReplicationReply, encodeReplicationMessage,
  type Lineage, type ReplicationBatch, type ReplicationReply, type ReplicationRequest, type SnapshotEntry
} from '../../protocol/replication-wire.js'
import { closeStream } from '../../protocol/streams/close-stream.js'
import { ClusterdError } from '../../protocol/errors.js'
import { ACK_TIMEOUT_MS, DEFAULT_REPLICATION_ACKS, RETRY_AFTER_MS, SNAPSHOT_TIMEOUT_MS, SYNC_INTERVAL_MS } from './constants.js'
import { BatchLog } from './batch-log.js'
import { supersedesUs, type NewerEpoch, type ReplicatorComponents, type ReplicatorInit, type ReplicatorStats } from './replicator-contract.js'
import { PREFIX } from '../store/constants.js'

/** What the manager knows about one replica. */
interface Target {
  peerId: string
  /** Highest revision the replica holds in this manager's history; -1 = unknown (snapshot first). */
  acked: number
  /** Skip the replica until then after a failed send. */
  retryAt: number
  /** Tail of the replica's ordered send chain. */
  tail: Promise<unknown>
  pending: number
  /** Its state was pulled (and merged) in this epoch, so a snapshot may replace it. */
  reconciled: boolean
  /** When its last background catch-up ended. */
  caughtUpAt: number
}

/** Pushes committed batches to the replicas. */
export class Replicator {
  private readonly c: ReplicatorComponents
  private readonly init: Required<ReplicatorInit>
  private readonly targets = new Map<string, Target>()
  private readonly lifetime = new AbortController()
  private readonly log: BatchLog
  private timer: NodeJS.Timeout | null = null
  private catchingUp = 0
  private sweepFrom = 0
  private readonly counters: ReplicatorStats = { writeSends: 0, deltaSends: 0, snapshots: 0, snapshotChunks: 0, pullChunks: 0, underReplicated: 0, acks: 0 }
  /** Set once a replica showed a newer epoch: nothing is acknowledged from then on. */
  private newer: NewerEpoch | null = null
  /** Set (to the stall's length) once no replica confirmed this manager after a stall. */
  private unconfirmed: number | null = null
  /** When the last send a replica acknowledged began, or this manager started (the stall log's clock). */
  private confirmedAt: number

  constructor (components: ReplicatorComponents, init: ReplicatorInit) {
    this.c = components
    this.init = {
      ackTimeoutMs: ACK_TIMEOUT_MS,
      snapshotTimeoutMs: SNAPSHOT_TIMEOUT_MS,
      syncIntervalMs: SYNC_INTERVAL_MS,
      retryAfterMs: RETRY_AFTER_MS,
      maxInFlight: 4,
      catchUpIntervalMs: 1000,
      extraTries: 4,
      chunkBytes: SNAPSHOT_CHUNK_BYTES,
      logBatches: 4096,
      logBytes: 16 * 1024 * 1024,
      ...init
    }
    this.log = new BatchLog({ maxBatches: this.init.logBatches, maxBytes: this.init.logBytes })
    this.confirmedAt = components.stalls?.now() ?? 0
  }

  /** Start the catch-up sweep. */
  start (): void {
    this.timer = setInterval(() => { this.sweep() }, this.init.syncIntervalMs)
    this.timer.unref()
    this.sweep()
  }

  /** Stop sweeping and abort sends in flight. */
  async stop (): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.lifetime.abort()
    await Promise.allSettled([...this.targets.values()].map(async t => await t.tail))
  }

  /**
   * Replicate one committed batch; resolves once `acks` replicas hold it, or per the rules above.
   * Rejects with CLUSTERD_ERR_MANAGER_CHANGED once a replica has shown a newer epoch.
   */
  async replicate (batch: ReplicationBatch): Promise<void> {
    try {
      await this.replicateOrRefuse(batch)
    } catch (err) {
      if (err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_MANAGER_CHANGED') {
        this.c.onUnacked?.(batch.ops.map(op => op.key).filter(k => !k.startsWith(`${PREFIX.meta}!`)))
      }
      throw err
    }
  }

  private async replicateOrRefuse (batch: ReplicationBatch): Promise<void> {
    this.refuseIfDeposed(batch.revision)
    // An ack confirms this manager only for sends that began after any stall had ended.
    const sentAt = this.c.stalls?.now() ?? 0
    this.log.add(batch)
    const targets = this.currentTargets()
    if (targets.length === 0) return
    const want = Math.min(Math.max(1, Math.floor(this.c.acks?.() ?? DEFAULT_REPLICATION_ACKS)), targets.length)
    const now = Date.now()
    const rank = (t: Target): number => t.retryAt > now ? 3 : t.acked === batch.revision - 1 ? 0 : t.acked >= 0 ? 1 : 2
    const ordered = [...targets].sort((a, b) => rank(a) - rank(b) || (a.peerId < b.peerId ? -1 : 1))
    const cap = Math.min(ordered.length, want + this.init.extraTries)
    const acked = await new Promise<number>(resolve => {
      let acks = 0
      let inFlight = 0
      let next = 0
      let done = false
      const launch = (): void => {
        while (!done && inFlight < want - acks && next < cap) {
          const t = ordered[next++] as Target
          inFlight++
          void this.enqueue(t, async () => await this.deliver(t, batch)).then(ok => {
            inFlight--
            if (ok) acks++
            if (acks >= want) { done = true; resolve(acks); return }
            launch()
            if (inFlight === 0 && !done) { done = true; resolve(acks) }
          })
        }
      }
      launch()
    })
    // Also when some replica acked: a replaced manager acknowledges nothing.
    this.refuseIfDeposed(batch.revision)
    if (acked > 0) this.confirmedAt = Math.max(this.confirmedAt, sentAt)
    else this.refuseIfUnconfirmed(batch.revision)
    if (acked < want) {
      this.counters.underReplicated++
      if (acked === 0) this.c.logger.warn({ revision: batch.revision, replicas: targets.length }, 'write acknowledged without a replica ack (every replica tried failed or refused it)')
      else this.c.logger.debug({ revision: batch.revision, acked, want }, 'write acknowledged by fewer replicas than asked for')
    }
    // The others catch up in the background.
    this.sweep()
  }

  /** The newer epoch a replica showed, or null while none did. */
  deposedBy (): NewerEpoch | null {
    return this.newer
  }

  /** Replicas' revisions as far as known (for logs and tests). */
  acked (): Record<string, number> {
    return Object.fromEntries([...this.targets.values()].map(t => [t.peerId, t.acked]))
  }

  /** Counters since start. */
  stats (): ReplicatorStats {
    return { ...this.counters }
  }

  /** Alive eligible members other than us, with their state (created on first sight, pruned when gone). */
  private currentTargets (): Target[] {
    const alive = this.c.members().filter(m => m.status === 'alive' && m.managerEligible && m.peerId !== this.init.selfPeerId)
    const ids = new Set(alive.map(m => m.peerId))
    // A replica that left or failed starts over (pulled, then caught up) when it comes back.
    for (const id of this.targets.keys()) if (!ids.has(id)) this.targets.delete(id)
    return alive.map(m => {
      let t = this.targets.get(m.peerId)
      if (t === undefined) {
        t = { peerId: m.peerId, acked: -1, retryAt: 0, tail: Promise.resolve(), pending: 0, reconciled: false, caughtUpAt: 0 }
        this.targets.set(m.peerId, t)
      }
      return t
    })
  }

  /** Start catching up replicas that are behind, up to `maxInFlight` at once, round-robin. */
  private sweep (): void {
    if (this.lifetime.signal.aborted) return
    const revision = this.c.revision()
    const targets = this.currentTargets()
    const now = Date.now()
    for (let i = 0; i < targets.length && this.catchingUp < this.init.maxInFlight; i++) {
      const t = targets[(this.sweepFrom + i) % targets.length] as Target
      if (t.pending > 0 || t.acked >= revision || now < t.retryAt || now - t.caughtUpAt < this.init.catchUpIntervalMs) continue
      this.sweepFrom = (this.sweepFrom + i + 1) % targets.length
      this.catchingUp++
      void this.enqueue(t, async () => await this.catchUp(t)).finally(() => {
        t.caughtUpAt = Date.now()
        this.catchingUp--
        setImmediate(() => { this.sweep() })
      })
    }
  }

  /** Run `fn` after everything queued for `t`; never rejects. */
  private async enqueue<T> (t: Target, fn: () => Promise<T>): Promise<T | false> {
    t.pending++
    const run = t.tail.then(fn).catch(err => {
      this.c.logger.error({ err, peer: t.peerId }, 'replication step failed')
      return false as const
    }).finally(() => { t.pending-- })
    t.tail = run
    return await run
  }

  /** Get `batch` to `t` on the write path; true once `t` holds it. */
  private async deliver (t: Target, batch: ReplicationBatch): Promise<boolean> {
    if (t.acked >= batch.revision) return true
    if (Date.now() < t.retryAt || this.lifetime.signal.aborted) return false
    if (t.acked !== batch.revision - 1) return await this.catchUp(t) >= batch.revision
    this.counters.writeSends++
    const reply = await this.send(t, { t: 'batch', epoch: this.init.epoch, batch, ack: true }, this.init.ackTimeoutMs)
    if (reply?.t === 'ack') {
      this.counters.acks++
      t.acked = reply.revision
      return reply.revision >= batch.revision
    }
    if (reply?.t === 'gap') {
      t.acked = -1
      return await this.catchUp(t) >= batch.revision
    }
    return false
  }

  /**
   * Bring `t` up to the current revision: reconcile first (once per epoch), then deltas from the
   * log while it covers what `t` lacks, else a chunked snapshot. Returns the revision `t` holds.
   */
  private async catchUp (t: Target): Promise<number> {
    if (!t.reconciled && !await this.reconcile(t)) return t.acked
    // Bounded: each round either moves `t` forward or ends; writes arriving meanwhile wait for the next sweep.
    for (let round = 0; round < 8; round++) {
      if (Date.now() < t.retryAt || this.lifetime.signal.aborted || t.acked >= this.c.revision()) break
      const batches = t.acked >= 0 ? this.log.since(t.acked + 1, this.init.chunkBytes) : null
      if (batches === null) {
        await this.snapshot(t)
        continue
      }
      if (batches.length === 0) break
      this.counters.deltaSends++
      const reply = await this.send(t, batches.length === 1 ? { t: 'batch', epoch: this.init.epoch, batch: batches[0] as ReplicationBatch } : { t: 'delta', epoch: this.init.epoch, batches }, this.init.ackTimeoutMs)
      if (reply?.t === 'ack') t.acked = reply.revision
      else if (reply?.t === 'gap') t.acked = -1
      else break
    }
    return t.acked
  }

  /** Send a whole snapshot as a stream of chunks; `t.acked` becomes its revision once the last chunk is acked. */
  private async snapshot (t: Target): Promise<void> {
    const snap = await this.c.openSnapshot(this.init.chunkBytes)
    const id = randomBytes(9).toString('base64url')
    let seq = 0
    let entries = 0
    try {
      let current = await snap.chunks.next()
      while (current.done !== true) {
        const ahead = await snap.chunks.next()
        const done = ahead.done === true
        const chunk = current.value
        entries += chunk.length
        this.counters.snapshotChunks++
        const reply = await this.send(t, { t: 'chunk', epoch: this.init.epoch, id, seq, revision: snap.revision, entries: chunk, done }, this.init.snapshotTimeoutMs)
        if (done) {
          if (reply?.t === 'ack') {
            t.acked = reply.revision
            this.counters.snapshots++
            this.c.logger.info({ peer: t.peerId, revision: reply.revision, entries, chunks: seq + 1 }, 'replica synced by snapshot')
          } else if (reply !== null) {
            this.fail(t, 'chunk', `last snapshot chunk answered with ${reply.t}`)
          }
          return
        }
        if (reply?.t !== 'received' || reply.id !== id || reply.seq !== seq) {
          if (reply !== null) this.fail(t, 'chunk', `snapshot chunk ${seq} answered with ${reply.t}`)
          return
        }
        seq++
        current = ahead
      }
    } finally {
      await snap.chunks.return(undefined)
    }
  }

  /** Pull `t`'s state chunk by chunk and merge it into the manager's; false (retry later) when that fails. */
  private async reconcile (t: Target): Promise<boolean> {
    const base = this.c.base?.() ?? null
    const entries: SnapshotEntry[] = []
    const unacked = new Set<string>()
    let after: string | undefined
    let revision = -1
    // Bounded by the replica's key count: `after` moves strictly forward.
    for (;;) {
      const reply = await this.send(t, { t: 'pull', epoch: this.init.epoch, ...(after !== undefined ? { after } : {}), ...(base !== null ? { base } : {}) }, this.init.snapshotTimeoutMs)
      if (reply?.t !== 'export') {
        if (reply !== null) this.fail(t, 'pull', `answered with ${reply.t}`)
        return false
      }
      this.counters.pullChunks++
      if (reply.syncedEpoch > this.init.epoch) {
        // It follows a newer manager than us: we are the stale one, its state is not ours to merge.
        this.deposed({ epoch: reply.syncedEpoch, manager: null, replica: t.peerId })
        return false
      }
      entries.push(...reply.entries)
      for (const k of reply.unacked ?? []) unacked.add(k)
      revision = reply.revision
      if (reply.next === null) break
      if (after !== undefined && reply.next <= after) {
        this.fail(t, 'pull', 'export did not move forward')
        return false
      }
      after = reply.next
    }
    if (entries.length === 0) {
      // It follows this manager already, or holds a prefix of its base lineage: it is at `revision` of our history.
      t.acked = revision
      t.reconciled = true
      return true
    }
    try {
      await this.c.merge(entries, t.peerId, unacked)
    } catch (err) {
      // Never replace a state we could not merge: the replica keeps it and we retry later.
      this.c.logger.error({ err, peer: t.peerId }, 'merging a replica\'s state failed; it is not replaced')
      t.retryAt = Date.now() + this.init.retryAfterMs
      return false
    }
    t.reconciled = true
    t.acked = -1
    return true
  }

  /** After a stall no replica confirmed, acknowledge nothing alone: step down instead (see top). */
  private refuseIfUnconfirmed (revision: number): void {
    const stalledMs = this.c.stalls?.stalledSince(this.confirmedAt) ?? 0
    if (stalledMs > 0 && this.unconfirmed === null) {
      this.unconfirmed = stalledMs
      this.c.logger.warn({ revision, stalledMs: Math.round(stalledMs) }, 'this manager stood still and no replica has acknowledged a write since: not acknowledging it alone, stepping down')
      this.c.onUnconfirmed?.(stalledMs)
    }
    this.refuseIfDeposed(revision)
  }

  private refuseIfDeposed (revision: number): void {
    if (this.unconfirmed !== null) {
      throw new ClusterdError('CLUSTERD_ERR_MANAGER_CHANGED', `this manager (epoch ${this.init.epoch}) stood still for ${(this.unconfirmed / 1000).toFixed(1)} s and no replica confirmed it since, so another may have replaced it: write ${revision} was not acknowledged; retry against the current manager`)
    }
    const n = this.newer
    if (n === null) return
    throw new ClusterdError('CLUSTERD_ERR_MANAGER_CHANGED', n.epoch === this.init.epoch
      ? `this manager lost epoch ${n.epoch} to ${n.manager ?? 'another manager'} (a same-epoch claim): write ${revision} was not acknowledged; retry against the current manager`
      : `this manager (epoch ${this.init.epoch}) was replaced by epoch ${n.epoch}${n.manager !== null ? ` (${n.manager})` : ''}: write ${revision} was not acknowledged; retry against the current manager`)
  }

  /** A replica showed a newer epoch: stop acknowledging, stop background sends, tell the manager (once). */
  private deposed (news: NewerEpoch): void {
    if (this.newer !== null || !supersedesUs(news, this.init)) return
    this.newer = news
    this.lifetime.abort()
    try { this.c.onDeposed?.(news) } catch (err) { this.c.logger.error({ err }, 'deposed listener failed') }
  }

  private fail (t: Target, request: string, why: string): null {
    t.acked = -1
    t.retryAt = Date.now() + this.init.retryAfterMs
    this.c.logger.warn({ peer: t.peerId, request, why }, 'replication to a replica failed')
    return null
  }

  /** One request/reply exchange; null (and the replica marked unknown for a while) on any failure. */
  private async send (t: Target, req: ReplicationRequest, timeoutMs: number): Promise<ReplicationReply | null> {
    const signal = AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(timeoutMs)])
    let stream
    try {
      stream = await this.c.libp2p.dialProtocol(peerIdFromString(t.peerId), REPLICATE_PROTOCOL, { signal })
    } catch (err) {
      return this.fail(t, req.t, `dial: ${(err as Error).message}`)
    }
    try {
      // lpStream buffers at most 4 MiB unless told: an export frame may be up to the cap.
      const lp = lpStream(stream, { maxDataLength: REPLICATION_FRAME_MAX_BYTES, maxBufferSize: REPLICATION_FRAME_MAX_BYTES + 8 })
      await lp.write(encodeReplicationMessage(req), { signal })
      const reply = decodeReplicationReply((await lp.read({ signal })).subarray())
      await closeStream(stream)
      if (!reply.ok) return this.fail(t, req.t, `malformed reply: ${reply.reason}`)
      if (reply.value.t === 'refused') return this.fail(t, req.t, `refused: ${reply.value.reason}`)
      if (reply.value.t === 'stale') {
        this.deposed({ epoch: reply.value.epoch, manager: reply.value.manager, replica: t.peerId })
        return this.fail(t, req.t, reply.value.epoch === this.init.epoch
          ? `refused: the replica's election gives epoch ${reply.value.epoch} to ${reply.value.manager ?? 'another manager'}`
          : `refused: the replica knows a newer epoch ${reply.value.epoch}`)
      }
      return reply.value
    } catch (err) {
      stream.abort(err as Error)
      return this.fail(t, req.t, (err as Error).message)
    }
  }
}
