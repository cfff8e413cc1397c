/**
 * Manager elections inside the simulation: one pure election core (agent/election/
 * election-core.ts) per node, fed with its membership core's member events about eligible
 * members and with the manager claims its membership core delivers (user broadcasts under
 * `mgr/<claimant>`, the epoch as version). Claims it makes are handed to its membership core's
 * `broadcast`. Every check it verifies that each connected component (partition group, frozen
 * nodes left out) has at most one node that believes it is manager, and that a component
 * with an eligible node has one, once a grace for elections to settle has passed.
 */

import { ElectionCore, type ElectionClaim, type ElectionOutput } from '../agent/election/election-core.js'
import type { Metrics } from './metrics.js'
import type { SimEvent } from './sim-types.js'
import type { World } from './world.js'

/** Options of the election probe. */
export interface ElectionProbeInit {
  /** Which nodes are manager-eligible. */
  eligible: (i: number) => boolean
  /** How long two managers in one component (or none) are tolerated while elections settle (ms). */
  settleGraceMs?: number
  /** Election tick cadence (the wrapper's evaluate period). */
  tickMs?: number
}

/** Bytes of the signature the agent's wrapper adds to a claim (Ed25519). */
const SIGNATURE_BYTES = 64
const KEY_PREFIX = 'mgr/'

/** Runs one election core per node and checks the one-manager invariant. */
export class ElectionProbe<M, S> {
  /** New epochs claimed. */
  elections = 0
  /** Checks at which a component had two or more managers for longer than the grace. */
  violations = 0
  /** Checks at which a component with an eligible node had no manager for longer than the grace. */
  managerless = 0
  /** Longest time a component had two or more managers (ms). */
  maxDualMs = 0
  /** Epochs that two or more nodes claimed (counted once per epoch). */
  sameEpochClaims = 0
  /** Most distinct claimants of one epoch (1: no same-epoch split). */
  claimsPerEpochMax = 0
  private readonly claimantsAt = new Map<number, Set<string>>()
  /** First claimant of each epoch, to count the epochs claimed twice. */
  private readonly claimantOf = new Map<number, string | null>()
  private readonly cores: Array<ElectionCore | null>
  private readonly persisted: Float64Array
  private readonly claims = new WeakMap<Uint8Array, ElectionClaim>()
  private readonly init: Required<ElectionProbeInit>
  private readonly dualSince = new Map<number, number>()
  private readonly noneSince = new Map<number, number>()
  private readonly eligibleIdx: number[] = []

  constructor (readonly world: World<M, S>, readonly metrics: Metrics<M, S>, readonly capacity: number, init: ElectionProbeInit) {
    this.init = { settleGraceMs: 10_000, tickMs: 250, ...init }
    this.cores = new Array<ElectionCore | null>(capacity).fill(null)
    this.persisted = new Float64Array(capacity)
    for (let i = 0; i < capacity; i++) if (init.eligible(i)) this.eligibleIdx.push(i)
    world.observe((node, ev, now) => { this.onEvent(node, ev, now) })
  }

  /** Whether elections run at all (some node is eligible and the cores can broadcast). */
  get enabled (): boolean {
    return this.eligibleIdx.length > 0
  }

  /**
   * The sitting manager of a converged cluster: the winner by the election's rule (all
   * revisions 0, so the lowest peer id among the first `n` eligible nodes), at epoch 1.
   * Returns its claim as the user broadcast every booted node holds.
   */
  bootClaim (n: number): Array<{ key: string, data: Uint8Array, version: number }> {
    const cands = this.eligibleIdx.filter(i => i < n)
    if (cands.length === 0) return []
    let w = cands[0]!
    for (const i of cands) if (this.world.idOf(i) < this.world.idOf(w)) w = i
    const claim: ElectionClaim = { epoch: 1, peerId: this.world.idOf(w), name: `n${w}`, revision: 0, at: 0 }
    this.bootManager = w
    return [{ key: KEY_PREFIX + claim.peerId, data: this.encode(claim), version: 1 }]
  }

  /** Node index of the manager chosen by `bootClaim` (-1 before). */
  bootManager = -1

  /** Initial nodes were booted converged: they know every eligible member and the claim. */
  booted (first: number, n: number, user: Array<{ key: string, data: Uint8Array, version: number }>): void {
    if (!this.enabled) return
    const claim = user.length > 0 ? this.claims.get(user[0]!.data) : undefined
    for (let i = first; i < first + n; i++) {
      const c = this.create(i, false)
      for (const j of this.eligibleIdx) {
        if (j < first + n) c.member({ id: this.world.idOf(j), status: 'alive', eligible: true, lastChange: this.world.now })
      }
      if (claim !== undefined) this.handle(i, c.claim(claim))
    }
  }

  /** Node `i` started (a join or restart): a fresh election core from its persisted epoch. */
  started (i: number, hasSeeds: boolean): void {
    if (!this.enabled) return
    this.create(i, hasSeeds)
  }

  /** Node `i` crashed. */
  crashed (i: number): void {
    this.cores[i] = null
  }

  /** Forget what the warm-up counted. */
  resetCounts (): void {
    this.elections = 0
    this.violations = 0
    this.managerless = 0
    this.maxDualMs = 0
  }

  /** The peer id node `i` takes for manager (null: none). */
  managerOf (i: number): string | null {
    return this.cores[i]?.manager()?.peerId ?? null
  }

  /** Node `i`'s election core (tests inject claims through it). */
  electionOf (i: number): ElectionCore | null {
    return this.cores[i] ?? null
  }

  /** Ticks every responsive node's election (frozen nodes miss their ticks, as a frozen process does). */
  sweep (now: number): void {
    const w = this.world
    for (let i = 0; i < w.count; i++) {
      const c = this.cores[i]
      if (c == null || !w.responsive(i)) continue
      const core = w.core(i)!
      this.handle(i, c.tick(now, core.size(), core.synced?.() ?? true))
    }
  }

  /** Invariant check: at most one manager per component, and one where an eligible node is. */
  check (now: number): void {
    if (!this.enabled) return
    const w = this.world
    const managers = new Map<number, number>()
    const eligible = new Map<number, number>()
    for (let i = 0; i < w.count; i++) {
      if (!w.responsive(i)) continue
      const g = w.net.groupOf(i)
      if (this.cores[i]?.isManager === true) managers.set(g, (managers.get(g) ?? 0) + 1)
      if (this.init.eligible(i)) eligible.set(g, (eligible.get(g) ?? 0) + 1)
    }
    const groups = new Set([...managers.keys(), ...eligible.keys(), ...this.dualSince.keys(), ...this.noneSince.keys()])
    for (const g of [...groups].sort((a, b) => a - b)) {
      const m = managers.get(g) ?? 0
      if (m > 1) {
        const since = this.dualSince.get(g) ?? now
        this.dualSince.set(g, since)
        this.maxDualMs = Math.max(this.maxDualMs, now - since)
        if (now - since > this.init.settleGraceMs) this.violations++
      } else {
        this.dualSince.delete(g)
      }
      if (m === 0 && (eligible.get(g) ?? 0) > 0) {
        const since = this.noneSince.get(g) ?? now
        this.noneSince.set(g, since)
        if (now - since > this.init.settleGraceMs) this.managerless++
      } else {
        this.noneSince.delete(g)
      }
    }
  }

  /** The tick cadence. */
  get tickMs (): number {
    return this.init.tickMs
  }

  private create (i: number, hasSeeds: boolean): ElectionCore {
    const c = new ElectionCore({
      selfId: this.world.idOf(i),
      name: `n${i}`,
      eligible: this.init.eligible(i),
      hasSeeds,
      highestEpoch: this.persisted[i]!,
      selfRevision: () => ({ revision: 0, awaiting: false }),
      evaluateMs: this.init.tickMs
    })
    // Replica revisions are application state the sim does not model: every store is at
    // revision 0, and every node knows that of each eligible node (the agent learns them from
    // the replicas' announcement broadcasts; an unannounced revision ranks as 0 as well, so a
    // fresh node does not rank itself above the members it has not heard from).
    for (const j of this.eligibleIdx) c.revision({ peerId: this.world.idOf(j), revision: 0, awaiting: false })
    this.cores[i] = c
    this.handle(i, c.start(this.world.now))
    return c
  }

  private onEvent (node: number, ev: SimEvent, now: number): void {
    const c = this.cores[node]
    if (c == null) return
    if (ev.t === 'member') {
      const e = ev as { id: string, status: 'alive' | 'suspect' | 'failed' | 'left', info?: { eligible: boolean } }
      const eligible = e.info?.eligible ?? false
      if (eligible) c.member({ id: e.id, status: e.status, eligible, lastChange: now })
    } else if (ev.t === 'user') {
      const e = ev as { key: string, data: Uint8Array }
      if (!e.key.startsWith(KEY_PREFIX)) return
      const claim = this.claims.get(e.data)
      if (claim !== undefined) this.handle(node, c.claim(claim))
    }
  }

  private handle (i: number, out: ElectionOutput): void {
    if (out.persistEpoch !== null) this.persisted[i] = out.persistEpoch
    for (const claim of out.claims) {
      this.elections++
      const first = this.claimantOf.get(claim.epoch)
      if (first === undefined) this.claimantOf.set(claim.epoch, claim.peerId)
      else if (first !== null && first !== claim.peerId) { this.sameEpochClaims++; this.claimantOf.set(claim.epoch, null) }
      let at = this.claimantsAt.get(claim.epoch)
      if (at === undefined) this.claimantsAt.set(claim.epoch, at = new Set())
      at.add(claim.peerId)
      this.claimsPerEpochMax = Math.max(this.claimsPerEpochMax, at.size)
      const core = this.world.core(i)
      if (core?.broadcast === undefined) continue
      this.world.perform(i, core.broadcast(KEY_PREFIX + claim.peerId, this.encode(claim), claim.epoch, this.world.now))
    }
  }

  /** A claim's bytes as the wrapper would send them (JSON + signature); remembered, not decoded. */
  private encode (claim: ElectionClaim): Uint8Array {
    const json = new TextEncoder().encode(JSON.stringify({ t: 'claim', ...claim }))
    const data = new Uint8Array(json.byteLength + SIGNATURE_BYTES)
    data.set(json)
    this.claims.set(data, claim)
    return data
  }
}
