/**
 * The manager's side of fencing: before it works on a node (SSH pre-check, playbooks) a job
 * acquires a lease from the node's own agent for the manager's epoch, renews it in the
 * background every 5 s while it works, and releases it when its work on the node ends. A lease
 * whose renewal is refused, or that has not had a renewal confirmed for 12 s, is lost: its
 * `signal` aborts, and the job stops its work on that node, before the node (15 s TTL) could
 * grant it to another manager. Manager-side times are monotonic and counted from when a request
 * was sent, so they are conservative against the node's grant time.
 */

import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import {
  LEASE_RENEW_MS, LEASE_SELF_FENCE_MS, LEASE_TTL_MS, type LeaseOp, type LeaseRefusalCode
} from '../../protocol/fencing-wire.js'
import type { PlaybookPlan } from '../roles/plan.js'
import type { ClaimSigner } from './claim-signer.js'
import { withLeases } from './lease-plan.js'
import type { LeaseExchange, LeaseTransport } from './lease-transport.js'

/** A lease the manager holds on one node. */
export interface HeldLease {
  node: string
  leaseId: string
  epoch: number
  /** Path of the lease file on the node (what its gate checks sessions against). */
  leaseFile: string
  /** Aborts when the lease is lost; the reason is a string starting with CLUSTERD_ERR_LEASE_LOST. */
  signal: AbortSignal
  /** How long the acquisition took, waits for an older lease included (ms). */
  acquireMs: number
  /** Stop renewing and give the lease back (best effort; never throws). */
  release: () => Promise<void>
}

/** The result of an acquisition. */
export type LeaseAcquisition =
  | { ok: true, lease: HeldLease }
  /** `unreachable`: the node's agent never answered. */
  | { ok: false, code: LeaseRefusalCode, message: string, unreachable: boolean }

/** What the job runner needs of fencing. */
export interface JobFencing {
  /** Acquire the node's lease, waiting (bounded) while another manager's lease is live. */
  acquire: (node: { name: string, peerId: string }, signal: AbortSignal) => Promise<LeaseAcquisition>
  /** The plan restricted to leased hosts, each host's SSH sessions presenting its lease to the node's gate. */
  guard: (plan: PlaybookPlan, leases: ReadonlyMap<string, HeldLease>) => PlaybookPlan
}

/** Collaborators of {@link NodeLeases}. */
export interface NodeLeasesComponents {
  transport: LeaseTransport
  sign: ClaimSigner
  logger: Logger
  /** A node refused us and named a higher epoch than ours: this manager was replaced. */
  onNewerEpoch?: (epoch: number) => void
  /**
   * A node refused us because its election gives our epoch to another manager, and sent that
   * manager's signed claim (`rivalClaim`): the caller verifies it before acting on it.
   */
  onRivalClaim?: (claim: Uint8Array, node: string) => void
}

/** Settings of {@link NodeLeases}. */
export interface NodeLeasesInit {
  epoch: number
  /** The manager's peer id (the holder in every claim). */
  selfPeerId: string
  renewMs?: number
  selfFenceMs?: number
  /** How long an acquisition waits for a busy node (another lease to expire). */
  busyWaitMs?: number
  /** How long an acquisition retries a node whose agent does not answer. */
  unreachableWaitMs?: number
  /** Deadline of one request. */
  requestTimeoutMs?: number
}

/** Acquires, renews and releases node leases for one manager epoch. */
export class NodeLeases implements JobFencing {
  private readonly c: NodeLeasesComponents
  private readonly init: Required<NodeLeasesInit>

  constructor (components: NodeLeasesComponents, init: NodeLeasesInit) {
    this.c = components
    this.init = {
      renewMs: LEASE_RENEW_MS,
      selfFenceMs: LEASE_SELF_FENCE_MS,
      busyWaitMs: 2 * LEASE_TTL_MS + 5000,
      unreachableWaitMs: 10_000,
      requestTimeoutMs: 4000,
      ...init
    }
  }

  /** @inheritdoc */
  guard (plan: PlaybookPlan, leases: ReadonlyMap<string, HeldLease>): PlaybookPlan {
    return withLeases(plan, leases)
  }

  /** @inheritdoc */
  async acquire (node: { name: string, peerId: string }, signal: AbortSignal): Promise<LeaseAcquisition> {
    const started = performance.now()
    const leaseId = randomBytes(16).toString('hex')
    const log = this.c.logger.child({ node: node.name, leaseId })
    let waitedBusy = false
    let lastError = ''
    while (!signal.aborted) {
      const sentAt = performance.now()
      const reply = await this.send('acquire', node, leaseId, signal)
      const elapsed = performance.now() - started
      if (reply.t === 'granted') {
        log.info({ epoch: this.init.epoch, acquireMs: Math.round(elapsed), waitedBusy }, 'node lease acquired')
        return { ok: true, lease: this.hold(node, leaseId, reply.leaseFile, sentAt, elapsed, log) }
      }
      if (reply.t === 'refused') {
        if (reply.code !== 'CLUSTERD_ERR_LEASE_BUSY' || elapsed >= this.init.busyWaitMs) {
          log.warn({ code: reply.code, reason: reply.reason }, 'node lease refused')
          return { ok: false, code: reply.code, message: reply.reason, unreachable: false }
        }
        if (!waitedBusy) log.info({ reason: reply.reason, retryAfterMs: reply.retryAfterMs }, 'node is leased to another manager; waiting for its lease to end')
        waitedBusy = true
        await sleep(Math.min(Math.max(250, (reply.retryAfterMs ?? 1000) + 100), 2000), signal)
        continue
      }
      lastError = reply.t === 'error' ? reply.message : 'unexpected reply to acquire'
      if (elapsed >= this.init.unreachableWaitMs) break
      await sleep(1000, signal)
    }
    return {
      ok: false,
      code: 'CLUSTERD_ERR_LEASE_REFUSED',
      message: signal.aborted ? 'the job was stopped while acquiring the lease' : `no answer from the node's agent for ${this.init.unreachableWaitMs / 1000} s: ${lastError}`,
      unreachable: !signal.aborted
    }
  }

  private async send (op: LeaseOp, node: { name: string, peerId: string }, leaseId: string, signal?: AbortSignal, timeoutMs = this.init.requestTimeoutMs): Promise<LeaseExchange> {
    try {
      // AbortSignal.timeout throws on a non-integer delay.
      const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)))
      const s = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
      const req = await this.c.sign({ op, epoch: this.init.epoch, holder: this.init.selfPeerId, node: node.name, leaseId, at: Date.now() })
      const reply = await this.c.transport(node.peerId, req, s)
      if (reply.t === 'refused' && reply.highestEpoch > this.init.epoch) this.c.onNewerEpoch?.(reply.highestEpoch)
      else if (reply.t === 'refused' && reply.rivalClaim !== undefined) this.c.onRivalClaim?.(Uint8Array.from(Buffer.from(reply.rivalClaim, 'base64')), node.name)
      return reply
    } catch (err) {
      return { t: 'error', message: (err as Error).message }
    }
  }

  /** Keep a granted lease: renew it, watch the self-fence deadline, release it on demand. */
  private hold (node: { name: string, peerId: string }, leaseId: string, leaseFile: string, grantedSentAt: number, acquireMs: number, log: Logger): HeldLease {
    const lost = new AbortController()
    let confirmedSentAt = grantedSentAt
    let renewTimer: NodeJS.Timeout | null = null
    let fenceTimer: NodeJS.Timeout | null = null
    let ended = false
    const stopTimers = (): void => {
      ended = true
      if (renewTimer !== null) clearTimeout(renewTimer)
      if (fenceTimer !== null) clearTimeout(fenceTimer)
    }
    const lose = (why: string): void => {
      if (ended) return
      stopTimers()
      log.warn({ why }, 'node lease lost; stopping the work on the node')
      lost.abort(`CLUSTERD_ERR_LEASE_LOST: ${why}`)
    }
    const armFence = (): void => {
      if (fenceTimer !== null) clearTimeout(fenceTimer)
      const left = confirmedSentAt + this.init.selfFenceMs - performance.now()
      fenceTimer = setTimeout(() => { lose(`no renewal confirmed by the node's agent for ${this.init.selfFenceMs / 1000} s`) }, Math.max(0, left))
    }
    // A bug in a renewal must not end the process; it loses the lease instead.
    const onBug = (err: unknown): void => { log.error({ err }, 'lease renewal failed unexpectedly'); lose(`renewal failed: ${(err as Error).message}`) }
    // Renewals go out on a fixed cadence from their send times. An attempt that gets no answer
    // within `retryMs` is not cut off (it may still be answered, and counts from when it was
    // sent) but another attempt goes out beside it: a stuck stream or connection does not use up
    // the self-fence budget. Every attempt waits at most until the self-fence deadline.
    const retryMs = Math.min(2000, this.init.renewMs)
    let inFlight = 0
    const attempt = async (): Promise<void> => {
      if (ended) return
      const sentAt = performance.now()
      const budget = Math.max(500, confirmedSentAt + this.init.selfFenceMs - sentAt)
      inFlight++
      const retry = setTimeout(() => { if (!ended && inFlight < 4) attempt().catch(onBug) }, retryMs)
      let reply: LeaseExchange
      try {
        reply = await this.send('renew', node, leaseId, undefined, budget)
      } finally {
        inFlight--
      }
      const tookMs = Math.round(performance.now() - sentAt)
      if (ended) { clearTimeout(retry); return }
      if (reply.t === 'granted') {
        clearTimeout(retry)
        if (sentAt <= confirmedSentAt) return
        confirmedSentAt = sentAt
        armFence()
        if (tookMs > 2000) log.warn({ tookMs }, 'lease renewal was slow')
        if (renewTimer !== null) clearTimeout(renewTimer)
        renewTimer = setTimeout(() => { attempt().catch(onBug) }, Math.max(0, sentAt + this.init.renewMs - performance.now()))
      } else if (reply.t === 'refused') {
        clearTimeout(retry)
        lose(`renewal refused (${reply.code}): ${reply.reason}`)
      } else {
        log.warn({ reason: reply.t === 'error' ? reply.message : reply.t, tookMs, sinceConfirmedMs: Math.round(performance.now() - confirmedSentAt) }, 'lease renewal failed; retrying')
        // Its own retry may have been skipped (too many in flight then): keep one going.
        if (inFlight === 0 && tookMs >= retryMs) setTimeout(() => { attempt().catch(onBug) }, 250)
      }
    }
    armFence()
    renewTimer = setTimeout(() => { attempt().catch(onBug) }, this.init.renewMs)
    return {
      node: node.name,
      leaseId,
      epoch: this.init.epoch,
      leaseFile,
      signal: lost.signal,
      acquireMs: Math.round(acquireMs),
      release: async () => {
        // Also after a loss: a holder may always give its lease back, which lets the next
        // manager in before the expiry.
        stopTimers()
        const reply = await this.send('release', node, leaseId)
        if (reply.t !== 'released') log.warn({ reply }, 'node lease release not confirmed; it expires on its own')
        else log.debug('node lease released')
      }
    }
  }
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
