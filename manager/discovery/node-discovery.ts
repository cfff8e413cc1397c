/**
 * Feeds membership into the manager's records: a member seen for the first time becomes a
 * `discovered` node (a lifecycle event), and every status change updates the separate
 * `reachable` field (not a lifecycle event). New nodes are handed to the auto-commission
 * policy. A commissioned node that comes back (reachable again, or a new boot or agent start
 * in its signed record) gets a `returned` event and is handed to the on-return policy.
 *
 * Facts (SSH host keys, ...) are not gossiped: while discovery runs it asks membership to keep
 * every member's facts fetched (`watchFacts`), and a new node is recorded only once its facts
 * are here, so the auto-commission job it may start can pin the node's host keys.
 *
 * A name belongs to the peer first discovered with it (manager/lifecycle/name-binding.ts):
 * only that peer's updates move the record; another member claiming the name is recorded as a
 * conflict (once, with a `name-conflict` event) and otherwise ignored.
 */

import type { Logger } from 'pino'
import type { Member } from '../../protocol/members.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { detectReturn } from '../on-return/on-return.js'
import type { NodeStore } from '../store/index.js'

/** What discovery reads and writes. */
export interface NodeDiscoveryComponents {
  store: NodeStore
  logger: Logger
  members: () => Member[]
  onMemberChange: (listener: (member: Member) => void) => () => void
  /** Keep members' facts fetched while discovery runs; returns the stop function. */
  watchFacts?: () => () => void
  /** Called once for each node that discovery created. */
  onDiscovered: (record: NodeRecord, member: Member) => void
  /** Called once per return of a commissioned node, after its `returned` event is durable. */
  onReturned?: (record: NodeRecord, reason: string) => void
  /** Clock (ms) for outage lengths; a test swaps in a fake one. */
  now?: () => number
}

/** True when membership says the member can be reached now. */
export function isReachable (m: Member): boolean {
  return m.status === 'alive' || m.status === 'suspect'
}

/** Keeps node records in step with membership. */
export class NodeDiscovery {
  private readonly c: NodeDiscoveryComponents
  private unsubscribe: (() => void) | null = null
  private unwatchFacts: (() => void) | null = null
  private chain = Promise.resolve()
  /** Raised by stop: updates queued under an older generation are dropped. */
  private generation = 0
  /**
   * Nodes marked unreachable only because this manager's membership view did not show them
   * at start (it may still be filling in). Their reappearance is a return only with a new boot.
   */
  private readonly unseenAtStart = new Set<string>()
  /** When this manager saw each unreachable node go: a short outage is a flap, not a return. */
  private readonly unreachableSince = new Map<string, number>()
  private readonly now: () => number

  constructor (components: NodeDiscoveryComponents) {
    this.c = components
    this.now = components.now ?? Date.now
  }

  /** Reconcile every current member, then follow changes. */
  async start (): Promise<void> {
    this.unsubscribe = this.c.onMemberChange(member => { this.enqueue(member) })
    this.unwatchFacts = this.c.watchFacts?.() ?? null
    const members = this.c.members()
    for (const m of members) this.enqueue(m)
    // Records restored from the store (or a replica) may name nodes whose bound peer membership
    // no longer sees at all: they are not reachable, whatever the previous manager last wrote.
    const present = new Set(members.map(m => m.peerId))
    this.chain = this.chain.then(async () => {
      for (const node of await this.c.store.listNodes()) {
        if (!present.has(node.peerId) && node.reachable) {
          await this.c.store.setReachable(node.name, false)
          this.unseenAtStart.add(node.name)
        }
      }
    }).catch(err => { this.c.logger.error({ err }, 'reachability reconciliation failed') })
    await this.chain
  }

  /**
   * Stop following membership; waits for the update in progress, and drops the ones still
   * queued (a start reconciles every member again). Waiting for the whole queue kept a manager
   * that lost its election writing for minutes: with N members joining, each queued write waits
   * for replicas that refuse it.
   */
  async stop (): Promise<void> {
    this.unsubscribe?.()
    this.unsubscribe = null
    this.unwatchFacts?.()
    this.unwatchFacts = null
    this.generation++
    await this.chain
  }

  /** Judge again every member claiming `name`: after an operator rebound or forgot it. */
  recheck (name: string): void {
    if (this.unsubscribe === null) return
    // Live claimants first: after a forget the first one judged is bound to the name.
    const claimants = this.c.members().filter(m => m.name === name).sort((a, b) => Number(isReachable(b)) - Number(isReachable(a)))
    for (const m of claimants) this.enqueue(m)
  }

  private enqueue (member: Member): void {
    const generation = this.generation
    this.chain = this.chain.then(async () => { if (generation === this.generation) await this.apply(member) })
      .catch(err => { this.c.logger.error({ err, node: member.name }, 'discovery update failed') })
  }

  private async apply (m: Member): Promise<void> {
    // A member that left before the manager ever saw it is not worth a record.
    const known = await this.c.store.getNode(m.name)
    if (known === undefined && (m.status === 'left' || m.status === 'failed')) return
    if (known !== undefined && known.peerId !== m.peerId) {
      // Another peer's claim on a bound name: the store records it once; nothing else moves.
      const res = await this.c.store.upsertNode({ name: m.name, peerId: m.peerId, reachable: isReachable(m) })
      if (res.event?.type === 'name-conflict') {
        this.c.logger.warn({ node: m.name, claimant: m.peerId, bound: res.record.peerId }, 'a second peer claims a bound node name: refused (clusterctl node rebind or forget decides)')
      }
      return
    }
    const reachable = isReachable(m)
    // A new node waits for its facts (membership reports it again when they arrive).
    if (known === undefined && reachable && m.facts === null && this.unwatchFacts !== null) return
    const boot = m.boot ?? m.facts?.boot
    const since = this.unreachableSince.get(m.name)
    if (known?.reachable === true && !reachable) this.unreachableSince.set(m.name, this.now())
    if (reachable) this.unreachableSince.delete(m.name)
    const returned = detectReturn(known, { reachable, boot: boot ?? null }, {
      unreachableWasSeen: !this.unseenAtStart.has(m.name),
      ...(reachable && since !== undefined ? { outageMs: this.now() - since } : {})
    })
    if (known?.state === 'commissioned' && !known.reachable && reachable && returned === null && since !== undefined) {
      this.c.logger.info({ node: m.name, outageMs: this.now() - since }, 'node reachable again after a short outage (a flap, not a return)')
    }
    this.unseenAtStart.delete(m.name)
    const res = await this.c.store.upsertNode({
      name: m.name,
      peerId: m.peerId,
      reachable,
      // A member without a boot (older agent, no facts yet) keeps the recorded one.
      ...(boot !== undefined ? { boot } : {}),
      ...(m.facts !== null && m.facts.agentVersion !== '' ? { agentVersion: m.facts.agentVersion } : {}),
      ...(returned !== null ? { returned } : {})
    })
    if (res.conflict) return // rebound elsewhere meanwhile: the store recorded the claim instead
    if (res.created) {
      this.c.logger.info({ node: m.name, peer: m.peerId }, 'node discovered')
      this.c.onDiscovered(res.record, m)
    }
    if (returned !== null) {
      this.c.logger.info({ node: m.name, reason: returned }, 'node returned')
      this.c.onReturned?.(res.record, returned)
    }
  }
}
