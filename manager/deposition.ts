/**
 * The step-down decision of a manager (pure): as soon as it learns of a higher epoch than its
 * own, from any source, it is deposed. From then on it acknowledges nothing (every store write
 * is refused with CLUSTERD_ERR_MANAGER_CHANGED), cancels its runs and steps down; the first
 * news is the one logged and acted on, later news changes nothing (docs/architecture.md,
 * "Deposed managers").
 */

import { ClusterdError } from '../protocol/errors.js'

/** Where a manager learned that a newer epoch exists. */
export type DeposedSource =
  /** A replica answered a replication request `stale`, or a pulled replica follows a newer manager. */
  | 'replica'
  /** A node refused a lease request and named a higher epoch, or sent the signed claim of another manager of ours. */
  | 'node-lease'
  /** This agent's election heard a higher claim or epoch. */
  | 'election'
  /**
   * This process stood still and then no replica confirmed it (protocol/stall-watch.ts):
   * another manager may have been elected meanwhile. `epoch` is then ours + 1, the least a
   * successor can hold; the election claims above whatever it hears next.
   */
  | 'stall'

/** One piece of news about a newer epoch. */
export interface DeposedNews {
  epoch: number
  source: DeposedSource
  /** The peer (replica or node) that told, when there is one. */
  from?: string
  /** The newer manager's peer id, when known. */
  manager?: string | null
  /** For `stall`: how long this process stood still (ms). */
  stalledMs?: number
  /** The newer manager's signed claim, verified, when the news came with one (a node's `rivalClaim`). */
  claim?: Uint8Array
}

/** Tracks whether a manager of one epoch was deposed. */
export class Deposition {
  private first: DeposedNews | null = null

  /** `self`: this manager's peer id; news naming another manager for our own epoch then deposes too. */
  constructor (readonly epoch: number, readonly self?: string) {}

  /**
   * True exactly once: for the first news of an epoch above ours, or of our epoch held by
   * another manager (a same-epoch claim we lost).
   */
  learn (news: DeposedNews): boolean {
    if (this.first !== null) return false
    const rival = this.self !== undefined && news.epoch === this.epoch && news.manager != null && news.manager !== this.self
    if (!(news.epoch > this.epoch) && !rival) return false
    this.first = { ...news }
    return true
  }

  /** The news that deposed this manager, or null while it was not. */
  get news (): DeposedNews | null {
    return this.first
  }

  /** The error every write gets once deposed; null while not. */
  refusal (): ClusterdError | null {
    const n = this.first
    if (n === null) return null
    if (n.source === 'stall') {
      return new ClusterdError('CLUSTERD_ERR_MANAGER_CHANGED',
        `this manager (epoch ${this.epoch}) stood still and no replica confirmed it since, so another may have replaced it; nothing was written: retry, the request goes to the current manager`)
    }
    return new ClusterdError('CLUSTERD_ERR_MANAGER_CHANGED',
      n.epoch === this.epoch
        ? `this manager lost epoch ${this.epoch} to ${n.manager ?? 'another manager'}; nothing was written: retry, the request goes to the current manager`
        : `this manager (epoch ${this.epoch}) was replaced by epoch ${n.epoch}${n.manager != null ? ` (${n.manager})` : ''}; nothing was written: retry, the request goes to the current manager`)
  }
}

/** The result of checking a relayed manager claim (Election.checkClaim). */
export type CheckedClaim = { ok: true, claim: { epoch: number, peerId: string } } | { ok: false, reason: string }

/**
 * What a manager of `epoch` (peer `self`) learns from a claim a node relayed when it refused a
 * lease (`rivalClaim`): news that deposes it when the claim passed the checks and names another
 * manager of its epoch or a higher one; null otherwise (a forged, foreign or older claim, or our
 * own, changes nothing: the node's word alone deposes nobody).
 */
export function rivalClaimNews (checked: CheckedClaim, epoch: number, self: string, from: string, claim: Uint8Array): DeposedNews | null {
  if (!checked.ok) return null
  const c = checked.claim
  if (c.peerId === self || c.epoch < epoch) return null
  return { epoch: c.epoch, source: 'node-lease', from, manager: c.peerId, claim }
}
