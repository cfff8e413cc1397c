/**
 * Serves `/clusterd/lease/1.0.0` on a node: checks that a lease request comes from the peer
 * its claim names (the stream's authenticated remote peer and the claim's signature), applies
 * the lease rules (lease-rules.ts) one request at a time, persists a raised epoch (through the
 * election) and the lease file before it answers, and reports the lease on `GET /v1/lease`.
 */

import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from 'pino'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import {
  LEASE_PROTOCOL, LEASE_TTL_MS, MAX_LEASE_FRAME_BYTES, MAX_RIVAL_CLAIM_CHARS, claimBytes, decodeLeaseRequest, encodeLeaseMessage,
  gateLeaseTag, type Lease, type LeaseReply, type LeaseRequest, type LeaseStatus
} from '../../protocol/fencing-wire.js'
import { serveOneFrame, type OneFrameProtocol } from '../../protocol/streams/serve-one-frame.js'
import { applyClaim, isLive, type LeaseState } from './lease-rules.js'
import { LeaseFileWriter, readLeaseFile } from './lease-file.js'
import type { SweepResult } from './lease-sweeper.js'

/** Tags of granted leases remembered for sweeps (a lease's processes are swept when it ends). */
const MAX_REMEMBERED_TAGS = 256

/** Collaborators of the lease keeper. */
export interface LeaseKeeperComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  /** The node's election: its persisted highest epoch is the fencing token. */
  election: {
    readonly epoch: number
    manager: () => ManagerInfo | null
    observeEpoch: (epoch: number) => Promise<void>
    /** The signed claim (envelope bytes) of `peerId` for `epoch`, as membership carried it, if heard. */
    claimEnvelope?: (peerId: string, epoch: number) => Uint8Array | undefined
  }
  logger: Logger
  /** Clock (ms); tests pass a fake one. */
  now?: () => number
  /** Stops the processes of ended leases (lease-sweeper.ts); none: nothing is stopped. */
  sweeper?: { sweep: (ended: ReadonlySet<string>, keep: string | null) => Promise<SweepResult> }
}

/** Settings of the lease keeper. */
export interface LeaseKeeperInit {
  nodeName: string
  /** Absolute path of the lease file (`<data-dir>/lease.json`). */
  leaseFile: string
  ttlMs?: number
  /** Deadline for reading one request frame. */
  readTimeoutMs?: number
}

/** Grants, renews and releases the node's lease. */
export class LeaseKeeper {
  private readonly c: LeaseKeeperComponents
  private readonly init: Required<LeaseKeeperInit>
  private readonly now: () => number
  private state: LeaseState = { highestEpoch: 0, lease: null }
  private chain: Promise<unknown> = Promise.resolve()
  private readonly writer: LeaseFileWriter
  private status: 'stopped' | 'started' = 'stopped'
  /** Tags (`EPOCH:LEASE_ID`) of the leases this node granted, oldest first. */
  private readonly granted = new Set<string>()
  private expiryTimer: NodeJS.Timeout | null = null
  /** Requests answered, by `op reply` (see stats()). */
  private readonly answered = new Map<string, number>()

  constructor (components: LeaseKeeperComponents, init: LeaseKeeperInit) {
    this.c = components
    this.init = { ttlMs: LEASE_TTL_MS, readTimeoutMs: 5000, ...init }
    this.now = components.now ?? Date.now
    this.writer = new LeaseFileWriter(this.init.leaseFile)
  }

  /** Load the lease file and serve the protocol. */
  async start (): Promise<void> {
    if (this.status === 'started') return
    const loaded = await readLeaseFile(this.init.leaseFile)
    if (loaded.ok) {
      // Renewals are not synced to disk, so the recorded expiry may be older than the one the
      // holder was given. Its holder stops working 12 s after its last confirmed renewal, sent
      // before this agent stopped: honouring any recorded lease for a full TTL from this start
      // outlasts that.
      const now = this.now()
      const lease = loaded.lease === null ? null : { ...loaded.lease, expiresAt: Math.max(loaded.lease.expiresAt, now + this.init.ttlMs) }
      this.state = { highestEpoch: this.c.election.epoch, lease }
      if (lease !== null) {
        await this.writer.write(lease, true)
        this.remember(lease)
        this.c.logger.info({ lease }, 'a lease recorded before this start is honoured for one TTL (or its recorded expiry, if later)')
      }
    } else {
      this.state = { highestEpoch: this.c.election.epoch, lease: null, quarantineUntil: this.now() + this.init.ttlMs }
      this.c.logger.error({ reason: loaded.reason }, 'the lease file is unusable; no lease is granted for one lease TTL')
    }
    await this.c.libp2p.handle(LEASE_PROTOCOL, (stream, connection) => { void serveOneFrame(this.protocol, stream, connection, this.c.logger) }, { maxInboundStreams: 32 })
    this.status = 'started'
    this.armExpiry()
  }

  /** Stop serving (the lease file stays: a lease outlives the agent process). */
  async stop (): Promise<void> {
    if (this.status !== 'started') return
    this.status = 'stopped'
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer)
    this.expiryTimer = null
    await this.c.libp2p.unhandle(LEASE_PROTOCOL)
    await this.chain
    await this.writer.idle()
  }

  /** The lease on record, for `GET /v1/lease`. */
  leaseStatus (): LeaseStatus {
    const l = this.state.lease
    return {
      highestEpoch: Math.max(this.state.highestEpoch, this.c.election.epoch),
      lease: l === null ? null : { ...l, live: isLive(l, this.now()) },
      leaseFile: this.init.leaseFile
    }
  }

  /**
   * Answer one request from `remotePeer` (the authenticated peer of the stream; for the manager
   * on this same agent, its own peer id). Never throws: failures become refusals.
   */
  async handle (req: LeaseRequest, remotePeer: string): Promise<LeaseReply> {
    const reply = await this.answer(req, remotePeer)
    const key = `${req.claim.op} ${reply.t}`
    this.answered.set(key, (this.answered.get(key) ?? 0) + 1)
    return reply
  }

  /** Lease requests answered since start, by claim operation and reply (`granted`, `released`, `refused`). */
  stats (): Array<{ op: string, result: string, count: number }> {
    return [...this.answered].map(([key, count]) => {
      const [op = '', result = ''] = key.split(' ')
      return { op, result, count }
    })
  }

  private async answer (req: LeaseRequest, remotePeer: string): Promise<LeaseReply> {
    const claim = req.claim
    const refused = (reason: string): LeaseReply => ({ t: 'refused', code: 'CLUSTERD_ERR_LEASE_REFUSED', reason, highestEpoch: this.state.highestEpoch })
    if (claim.holder !== remotePeer) return refused(`the claim names holder ${claim.holder} but was sent by ${remotePeer}`)
    let valid = false
    try {
      const key = peerIdFromString(claim.holder).publicKey
      valid = key !== undefined && await key.verify(claimBytes(claim), Buffer.from(req.sig, 'base64'))
    } catch {}
    if (!valid) return refused('the claim signature does not verify against the holder peer id')
    return await this.serially(async () => {
      // No process of an ended lease may outlive it into the next one: with none live, stop
      // them all before a grant (the lease file already shows no live lease, so the gate lets
      // no new session of theirs in).
      if (claim.op === 'acquire' && !isLive(this.state.lease, this.now())) await this.sweep(null, 'before a grant')
      // The election may have heard of a newer manager by gossip since the last request.
      const base: LeaseState = { ...this.state, highestEpoch: Math.max(this.state.highestEpoch, this.c.election.epoch) }
      const step = applyClaim(base, claim, {
        now: this.now(),
        nodeName: this.init.nodeName,
        ttlMs: this.init.ttlMs,
        managerOf: epoch => { const m = this.c.election.manager(); return m !== null && m.epoch === epoch ? m.peerId : undefined }
      })
      const started = Date.now()
      try {
        if (step.raisedEpoch !== null) await this.c.election.observeEpoch(step.raisedEpoch)
        // Only a new grant must be on disk before the answer; renewals and releases are written
        // behind it (see lease-file.ts).
        const prev = this.state.lease
        const next = step.next.lease
        const newGrant = next !== null && (prev === null || prev.holder !== next.holder || prev.leaseId !== next.leaseId || prev.epoch !== next.epoch)
        if (step.leaseChanged && newGrant) await this.writer.write(next, true)
        // A release must be in the file before the sweep below, or the gate could still let a
        // session of the released lease in after it.
        else if (step.leaseChanged && next === null) await this.writer.write(next, false)
        else if (step.leaseChanged) this.writer.write(next, false).catch(err => { this.c.logger.warn({ err }, 'writing the lease file failed') })
      } catch (err) {
        this.c.logger.error({ err }, 'cannot persist a lease decision; refusing')
        return refused(`the node cannot persist the lease: ${(err as Error).message}`)
      }
      const prevTag = this.liveTag()
      this.state = step.next
      if (this.state.lease !== null) this.remember(this.state.lease)
      if (step.leaseChanged) {
        this.armExpiry()
        const tag = this.liveTag()
        if (prevTag !== null && prevTag !== tag) await this.sweep(tag, claim.op === 'release' ? 'after a release' : 'after a new lease')
      }
      const persistMs = Date.now() - started
      if (persistMs > 1000) this.c.logger.warn({ op: claim.op, persistMs }, 'persisting a lease decision was slow')
      const d = step.decision
      const log = { op: claim.op, epoch: claim.epoch, holder: claim.holder, leaseId: claim.leaseId }
      if (d.t === 'refused') this.c.logger.warn({ ...log, code: d.code, reason: d.reason }, 'lease request refused')
      else if (claim.op !== 'renew') this.c.logger.info({ ...log, expiresAt: d.t === 'granted' ? d.lease.expiresAt : undefined }, d.t === 'granted' ? 'lease granted' : 'lease released')
      if (d.t === 'granted') return { t: 'granted', lease: d.lease, leaseFile: this.init.leaseFile }
      if (d.t === 'released') return d
      const { manager, ...refusal } = d
      const rival = manager === undefined ? undefined : this.c.election.claimEnvelope?.(manager, claim.epoch)
      const rivalClaim = rival === undefined ? undefined : Buffer.from(rival).toString('base64')
      return {
        ...refusal,
        highestEpoch: this.state.highestEpoch,
        ...(rivalClaim !== undefined && rivalClaim.length <= MAX_RIVAL_CLAIM_CHARS ? { rivalClaim } : {})
      }
    })
  }

  private liveTag (): string | null {
    const l = this.state.lease
    return isLive(l, this.now()) ? gateLeaseTag(l) : null
  }

  private remember (lease: Lease): void {
    const tag = gateLeaseTag(lease)
    this.granted.delete(tag)
    this.granted.add(tag)
    if (this.granted.size > MAX_REMEMBERED_TAGS) this.granted.delete(this.granted.values().next().value as string)
  }

  /** Stop the processes of every lease this node granted but `keep`; logged, never throws. */
  private async sweep (keep: string | null, why: string): Promise<void> {
    if (this.c.sweeper === undefined || this.granted.size === 0) return
    try {
      const r = await this.c.sweeper.sweep(this.granted, keep)
      if (r.signalled.length === 0) return
      const tags = [...new Set(r.signalled.map(p => p.tag).filter(t => t !== null))]
      const log = { why, keep, leases: tags, processes: r.signalled.length, survivors: r.survivors, durationMs: r.durationMs }
      if (r.survivors.length > 0) this.c.logger.error(log, 'processes of an ended lease survived SIGKILL')
      else this.c.logger.warn(log, 'terminated the processes of an ended lease')
    } catch (err) {
      this.c.logger.error({ err, why }, 'sweeping the processes of ended leases failed')
    }
  }

  /** At the lease's expiry (node's clock), stop what runs under it unless it was renewed. */
  private armExpiry (): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer)
    this.expiryTimer = null
    const l = this.state.lease
    if (l === null || this.status !== 'started' || this.c.sweeper === undefined) return
    // A few ms late, so the gate (same clock) also finds it expired by then.
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null
      this.serially(async () => {
        if (this.state.lease !== null && !isLive(this.state.lease, this.now())) await this.sweep(null, 'at the lease expiry')
        else this.armExpiry()
      }).catch(() => {})
    }, Math.max(0, l.expiresAt - this.now()) + 5)
    this.expiryTimer.unref()
  }

  private async serially<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn)
    this.chain = run.catch(() => {})
    return await run
  }

  private get protocol (): OneFrameProtocol<LeaseRequest, LeaseReply> {
    return {
      name: 'lease',
      maxFrameBytes: MAX_LEASE_FRAME_BYTES,
      readTimeoutMs: this.init.readTimeoutMs,
      decode: decodeLeaseRequest,
      encode: encodeLeaseMessage,
      malformed: reason => ({ t: 'refused', code: 'CLUSTERD_ERR_LEASE_REFUSED', reason, highestEpoch: this.state.highestEpoch }),
      handle: async (req, from) => await this.handle(req, from)
    }
  }
}
