/**
 * Replica revisions on gossip: every eligible agent announces its replica's revision each
 * second on `clusterd/replica/1` and remembers everyone else's. The election ranks failover
 * candidates with `rank`: highest revision first, then lowest peer id, so the most up-to-date
 * eligible agent becomes the next manager.
 */

import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger } from 'pino'
import type { Member } from '../../protocol/members.js'
import { REPLICA_TOPIC, decodeReplicaAnnouncement, encodeReplicationMessage } from '../../protocol/replication-wire.js'

/** Collaborators. */
export interface ReplicaRevisionsComponents {
  pubsub: GossipSub
  logger: Logger
  /** This agent's replica revision. */
  revision: () => number
  /** Whether this agent's store awaits a snapshot after damage (store-recovery.ts). */
  awaitingSnapshot?: () => boolean
}

/** Settings. */
export interface ReplicaRevisionsInit {
  peerId: string
  /** Announce our own revision (only manager-eligible agents do). */
  announce: boolean
  intervalMs?: number
}

/** Collects replica revisions and ranks election candidates by them. */
export class ReplicaRevisions {
  private readonly c: ReplicaRevisionsComponents
  private readonly init: Required<ReplicaRevisionsInit>
  private readonly known = new Map<string, number>()
  /** Peers whose store awaits a snapshot: ranked below every other candidate. */
  private readonly awaiting = new Set<string>()
  private timer: NodeJS.Timeout | null = null
  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.topic !== REPLICA_TOPIC || msg.type !== 'signed') return
    const a = decodeReplicaAnnouncement(msg.data)
    if (!a.ok) return
    this.known.set(a.value.peerId, a.value.revision)
    if (a.value.awaiting === true) this.awaiting.add(a.value.peerId)
    else this.awaiting.delete(a.value.peerId)
  }

  constructor (components: ReplicaRevisionsComponents, init: ReplicaRevisionsInit) {
    this.c = components
    this.init = { intervalMs: 1000, ...init }
  }

  /** Subscribe and start announcing. */
  start (): void {
    this.c.pubsub.topicValidators.set(REPLICA_TOPIC, (peer, msg) => this.validate(peer.toString(), msg))
    this.c.pubsub.addEventListener('message', this.onMessage)
    this.c.pubsub.subscribe(REPLICA_TOPIC)
    if (this.init.announce) {
      this.timer = setInterval(() => { void this.announce() }, this.init.intervalMs)
      this.timer.unref()
      void this.announce()
    }
  }

  /** Stop announcing and listening. */
  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.c.pubsub.removeEventListener('message', this.onMessage)
    this.c.pubsub.topicValidators.delete(REPLICA_TOPIC)
  }

  /** Last known revision of `peerId` (our own is live); undefined if never heard. */
  revisionOf (peerId: string): number | undefined {
    return peerId === this.init.peerId ? this.c.revision() : this.known.get(peerId)
  }

  /** Whether `peerId` announced (or, for ourselves, has) a store awaiting a snapshot. */
  isAwaiting (peerId: string): boolean {
    return peerId === this.init.peerId ? this.c.awaitingSnapshot?.() === true : this.awaiting.has(peerId)
  }

  /** Election order: highest replica revision first (a store awaiting a snapshot last), then lowest peer id. */
  readonly rank = (a: Member, b: Member): number => {
    const ra = this.isAwaiting(a.peerId) ? -2 : this.revisionOf(a.peerId) ?? -1
    const rb = this.isAwaiting(b.peerId) ? -2 : this.revisionOf(b.peerId) ?? -1
    if (ra !== rb) return rb - ra
    return a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0
  }

  private validate (from: string, msg: Message): TopicValidatorResult {
    if (msg.type !== 'signed') return TopicValidatorResult.Reject
    const a = decodeReplicaAnnouncement(msg.data)
    if (!a.ok) {
      this.c.logger.warn({ peer: from, reason: a.reason }, 'dropped a malformed replica announcement')
      return TopicValidatorResult.Reject
    }
    // Only an agent may announce its own revision; relays keep the author's signature.
    if (a.value.peerId !== msg.from.toString()) {
      this.c.logger.warn({ peer: from, claimed: a.value.peerId }, 'dropped a replica announcement not signed by its author')
      return TopicValidatorResult.Reject
    }
    return TopicValidatorResult.Accept
  }

  private async announce (): Promise<void> {
    try {
      const awaiting = this.c.awaitingSnapshot?.() === true ? { awaiting: true as const } : {}
      await this.c.pubsub.publish(REPLICA_TOPIC, encodeReplicationMessage({ t: 'replica', peerId: this.init.peerId, revision: this.c.revision(), ...awaiting }))
    } catch (err) {
      this.c.logger.debug({ err: (err as Error).message }, 'replica announcement failed')
    }
  }
}
