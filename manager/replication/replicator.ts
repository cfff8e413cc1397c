/**
 * Manager side of replication. Every committed store batch goes to every alive
 * manager-eligible member on `/clusterd/replicate/1.0.0`; the write is acknowledged as soon as
 * ONE replica acks it, or once every such replica has failed or refused it (each send has its
 * own deadline), or at once when no other eligible member is alive: availability with one node
 * up, a documented trade-off. Sends to one replica are strictly ordered. A replica that reports
 * a gap, has never synced in this epoch, or fell behind after a failed send gets a full
 * snapshot instead; a periodic sweep snapshots replicas that are behind even when nothing is
 * written (a restarted agent catches up).
 *
 * Before the first snapshot of an epoch replaces a replica's state, the replicator pulls that
 * state and has the manager merge whatever it lacks (the old manager's side of a healed
 * partition, writes a deposed manager acknowledged alone): no acknowledged write is replaced.
 */

import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import type { Member } from '../../protocol/members.js'
import {
  MAX_REPLICATION_FRAME_BYTES, REPLICATE_PROTOCOL, decodeReplicationReply, encodeReplicationMessage,
  type ReplicationBatch, type ReplicationReply, type ReplicationRequest, type SnapshotEntry
} from '../../protocol/replication-wire.js'
import { closeStream } from '../../agent/libp2p/close-stream.js'
import { META_KEYS } from '../store/keys.js'
import { ACK_TIMEOUT_MS, RETRY_AFTER_MS, SNAPSHOT_TIMEOUT_MS, SYNC_INTERVAL_MS } from './constants.js'

/** Collaborators of the replicator. */
export interface ReplicatorComponents {
  libp2p: Pick<Libp2p, 'dialProtocol'>
  logger: Logger
  /** Current membership view. */
  members: () => Member[]
  /** The manager store's full durable state (`ManagerStore.exportAll`). */
  snapshot: () => Promise<SnapshotEntry[]>
  /** The manager store's durable revision. */
  revision: () => number
  /** Merge another lineage's state (a replica's export) into the manager store (`ManagerStore.mergeForeign`). */
  merge: (entries: SnapshotEntry[], from: string) => Promise<void>
}

/** Settings of the replicator. */
export interface ReplicatorInit {
  selfPeerId: string
  epoch: number
  ackTimeoutMs?: number
  snapshotTimeoutMs?: number
  syncIntervalMs?: number
  retryAfterMs?: number
}

/** What the manager knows about one replica. */
interface Target {
  peerId: string
  /** Highest revision the replica acked in this epoch; -1 = unknown (snapshot first). */
  acked: number
  /** Skip the replica until then after a failed send. */
  retryAt: number
  /** Tail of the replica's ordered send chain. */
  tail: Promise<unknown>
  pending: number
  /** Its state was pulled and merged in this epoch, so a snapshot may replace it. */
  reconciled: boolean
}

/** Pushes committed batches to the replicas. */
export class Replicator {
  private readonly c: ReplicatorComponents
  private readonly init: Required<ReplicatorInit>
  private readonly targets = new Map<string, Target>()
  private readonly lifetime = new AbortController()
  private timer: NodeJS.Timeout | null = null

  constructor (components: ReplicatorComponents, init: ReplicatorInit) {
    this.c = components
    this.init = { ackTimeoutMs: ACK_TIMEOUT_MS, snapshotTimeoutMs: SNAPSHOT_TIMEOUT_MS, syncIntervalMs: SYNC_INTERVAL_MS, retryAfterMs: RETRY_AFTER_MS, ...init }
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

  /** Replicate one committed batch; resolves once one replica holds it, or per the rules above. */
  async replicate (batch: ReplicationBatch): Promise<void> {
    const targets = this.currentTargets()
    if (targets.length === 0) return
    await new Promise<void>(resolve => {
      let left = targets.length
      let done = false
      const finish = (acked: boolean): void => {
        if (done) return
        done = true
        if (!acked) this.c.logger.warn({ revision: batch.revision, replicas: targets.length }, 'write acknowledged without a replica ack (every replica failed or refused it)')
        resolve()
      }
      for (const t of targets) {
        void this.enqueue(t, async () => await this.deliver(t, batch)).then(ok => {
          left--
          if (ok) finish(true)
          else if (left === 0) finish(false)
        })
      }
    })
  }

  /** Replicas' acked revisions (for logs and tests). */
  acked (): Record<string, number> {
    return Object.fromEntries([...this.targets.values()].map(t => [t.peerId, t.acked]))
  }

  /** Alive eligible members other than us, with their state (created on first sight, pruned when gone). */
  private currentTargets (): Target[] {
    const alive = this.c.members().filter(m => m.status === 'alive' && m.managerEligible && m.peerId !== this.init.selfPeerId)
    const ids = new Set(alive.map(m => m.peerId))
    // A replica that left or failed starts over (snapshot first) when it comes back.
    for (const id of this.targets.keys()) if (!ids.has(id)) this.targets.delete(id)
    return alive.map(m => {
      let t = this.targets.get(m.peerId)
      if (t === undefined) {
        t = { peerId: m.peerId, acked: -1, retryAt: 0, tail: Promise.resolve(), pending: 0, reconciled: false }
        this.targets.set(m.peerId, t)
      }
      return t
    })
  }

  private sweep (): void {
    if (this.lifetime.signal.aborted) return
    const revision = this.c.revision()
    for (const t of this.currentTargets()) {
      if (t.pending === 0 && t.acked !== revision && Date.now() >= t.retryAt) void this.enqueue(t, async () => await this.sync(t))
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

  /** Get `batch` to `t`; true once `t` holds it. */
  private async deliver (t: Target, batch: ReplicationBatch): Promise<boolean> {
    if (t.acked >= batch.revision) return true
    if (Date.now() < t.retryAt || this.lifetime.signal.aborted) return false
    if (t.acked !== batch.revision - 1) return await this.sync(t) >= batch.revision
    const reply = await this.send(t, { t: 'batch', epoch: this.init.epoch, batch }, this.init.ackTimeoutMs)
    if (reply?.t === 'ack') {
      t.acked = reply.revision
      return reply.revision >= batch.revision
    }
    if (reply?.t === 'gap') return await this.sync(t) >= batch.revision
    return false
  }

  /** Send a full snapshot (after merging `t`'s state, once per epoch); returns the revision `t` now holds (-1 if unknown). */
  private async sync (t: Target): Promise<number> {
    if (Date.now() < t.retryAt || this.lifetime.signal.aborted) return t.acked
    if (!t.reconciled && !await this.reconcile(t)) return t.acked
    const entries = await this.c.snapshot()
    const rev = entries.find(e => e.key === META_KEYS.revision)?.value
    const revision = typeof rev === 'number' ? rev : 0
    const reply = await this.send(t, { t: 'snapshot', epoch: this.init.epoch, revision, entries }, this.init.snapshotTimeoutMs)
    if (reply?.t === 'ack') {
      t.acked = reply.revision
      this.c.logger.info({ peer: t.peerId, revision: reply.revision, entries: entries.length }, 'replica synced by snapshot')
    }
    return t.acked
  }

  /** Pull `t`'s state and merge it into the manager's; false (retry later) when that fails. */
  private async reconcile (t: Target): Promise<boolean> {
    const reply = await this.send(t, { t: 'pull', epoch: this.init.epoch }, this.init.snapshotTimeoutMs)
    if (reply?.t !== 'export') {
      if (reply !== null) this.c.logger.warn({ peer: t.peerId, reply: reply.t }, 'replica answered a pull with something else')
      return false
    }
    if (reply.entries.length > 0) {
      try {
        await this.c.merge(reply.entries, t.peerId)
      } catch (err) {
        // Never replace a state we could not merge: the replica keeps it and we retry later.
        this.c.logger.error({ err, peer: t.peerId }, 'merging a replica\'s state failed; it is not replaced')
        t.retryAt = Date.now() + this.init.retryAfterMs
        return false
      }
    }
    t.reconciled = true
    return true
  }

  /** One request/reply exchange; null (and the replica marked unknown for a while) on any failure. */
  private async send (t: Target, req: ReplicationRequest, timeoutMs: number): Promise<ReplicationReply | null> {
    const signal = AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(timeoutMs)])
    const fail = (why: string): null => {
      t.acked = -1
      t.retryAt = Date.now() + this.init.retryAfterMs
      this.c.logger.warn({ peer: t.peerId, request: req.t, why }, 'replication to a replica failed')
      return null
    }
    let stream
    try {
      stream = await this.c.libp2p.dialProtocol(peerIdFromString(t.peerId), REPLICATE_PROTOCOL, { signal })
    } catch (err) {
      return fail(`dial: ${(err as Error).message}`)
    }
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_REPLICATION_FRAME_BYTES })
      await lp.write(encodeReplicationMessage(req), { signal })
      const reply = decodeReplicationReply((await lp.read({ signal })).subarray())
      await closeStream(stream)
      if (!reply.ok) return fail(`malformed reply: ${reply.reason}`)
      if (reply.value.t === 'refused') return fail(`refused: ${reply.value.reason}`)
      return reply.value
    } catch (err) {
      stream.abort(err as Error)
      return fail((err as Error).message)
    }
  }
}
