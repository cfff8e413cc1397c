/**
 * Replica revisions as membership broadcasts: an eligible agent announces its replica's
 * revision (signed, key `rev/<peerId>`) and remembers the latest announcement of everyone else.
 * Membership dissemination and push-pull carry the latest per agent. The election core ranks
 * failover candidates by them (highest revision first, a store awaiting a snapshot last, then
 * lowest peer id), so the most up-to-date eligible agent becomes the next manager: the others
 * by `revisionOf` and `isAwaiting`, this agent by `announcedRevision`, as the others see it.
 *
 * What is announced, so that a write costs a bounded number of announcements whatever the
 * number of eligible agents:
 * - the revision the store opened with, unless 0 (an unheard member ranks as 0 anyway), so a
 *   cluster that restarts whole elects the most up-to-date store;
 * - a change of the awaiting-snapshot flag;
 * - a revision the manager's writes moved, only while this agent acknowledges them (it is the
 *   manager, or one of the `replication.acks` replicas the write path waits for), at most every
 *   `minIntervalMs` (2 s). The other replicas, caught up in the background a second or so
 *   behind, rank below those anyway and stay quiet. Before, every eligible agent announced:
 *   at N eligible agents each write burst cost every agent about N/2 signature checks a second.
 * An idle cluster sends nothing.
 */

import type { PrivateKey } from '@libp2p/interface'
import type { Logger } from 'pino'
import { REPLICA_KEY_PREFIX, decodeReplicaAnnouncement, encodeReplicationMessage } from '../../protocol/replication-wire.js'
import { openEnvelope, sealEnvelope, verifiedBy } from '../identity/signed-envelope.js'
import type { UserBroadcasts } from '../membership/user-broadcasts.js'

/** Collaborators. */
export interface ReplicaRevisionsComponents {
  broadcasts: UserBroadcasts
  /** Signs our announcements. */
  privateKey: PrivateKey
  logger: Logger
  /** This agent's replica revision. */
  revision: () => number
  /** Whether a store is open here (before, `revision` is not the store's). Default: always. */
  storeOpen?: () => boolean
  /**
   * Whether this agent acknowledges the manager's writes now (the manager itself, or a replica
   * the write path waited for lately): only then are revision changes announced. Default: always.
   */
  acknowledging?: () => boolean
  /** Whether this agent's store awaits a snapshot after damage (store-recovery.ts). */
  awaitingSnapshot?: () => boolean
  /** Whether `peerId` is a known member (announcements of strangers are dropped). Default: all known. */
  isMember?: (peerId: string) => boolean
  /** Clock (ms); tests pass a fake one. */
  now?: () => number
}

/** Settings. */
export interface ReplicaRevisionsInit {
  peerId: string
  /** Announce our own revision (only manager-eligible agents do). */
  announce: boolean
  /** Announce a changed revision at most this often. */
  minIntervalMs?: number
  /** How often the revision is checked for a change (cheap: nothing is sent unless it changed). */
  checkMs?: number
}

/** Collects replica revisions for the election to rank candidates by, and announces our own. */
export class ReplicaRevisions {
  private readonly c: ReplicaRevisionsComponents
  private readonly init: Required<ReplicaRevisionsInit>
  private readonly known = new Map<string, number>()
  /** Peers whose store awaits a snapshot: ranked below every other candidate. */
  private readonly awaiting = new Set<string>()
  private timer: NodeJS.Timeout | null = null
  private unhandle: (() => void) | null = null
  /** What we last announced (null: nothing yet), when, and under which version. */
  private last: { revision: number, awaiting: boolean, at: number, version: number } | null = null
  /** The store's state when it was first seen open (null: not yet): changes are measured from it. */
  private opened: { revision: number, awaiting: boolean } | null = null
  private readonly now: () => number
  private readonly changeListeners = new Set<(peerId: string) => void>()

  constructor (components: ReplicaRevisionsComponents, init: ReplicaRevisionsInit) {
    this.c = components
    this.init = { minIntervalMs: 2000, checkMs: 500, ...init }
    this.now = components.now ?? Date.now
  }

  /** Take announcements from membership and start announcing our own changes. */
  start (): void {
    this.unhandle = this.c.broadcasts.handle(REPLICA_KEY_PREFIX, {
      validate: (key, data) => this.validate(key, data),
      deliver: (_key, data) => { this.deliver(data) }
    })
    if (this.init.announce) {
      this.timer = setInterval(() => { this.maybeAnnounce() }, this.init.checkMs)
      this.timer.unref()
      this.maybeAnnounce()
    }
  }

  /** Stop announcing and listening. */
  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.unhandle?.()
    this.unhandle = null
  }

  /** Be told the peer id of every other member whose announced revision or awaiting flag changed. */
  onChange (listener: (peerId: string) => void): () => void {
    this.changeListeners.add(listener)
    return () => { this.changeListeners.delete(listener) }
  }

  /** Last known revision of `peerId` (our own is live); undefined if never heard. */
  revisionOf (peerId: string): number | undefined {
    return peerId === this.init.peerId ? this.c.revision() : this.known.get(peerId)
  }

  /**
   * Our revision as the other members know it: the last we announced, 0 before any (an unheard
   * member ranks as 0). The election ranks us by it, as the others do (election-core.ts).
   */
  announcedRevision (): number {
    return this.last?.revision ?? 0
  }

  /** Whether `peerId` announced (or, for ourselves, has) a store awaiting a snapshot. */
  isAwaiting (peerId: string): boolean {
    return peerId === this.init.peerId ? this.c.awaitingSnapshot?.() === true : this.awaiting.has(peerId)
  }

  /** Null when `data` is a well-formed announcement signed by the agent its key names. */
  validate (key: string, data: Uint8Array): string | null {
    const env = openEnvelope(data)
    if (env === null) return 'replica announcement is too short to be signed'
    const a = decodeReplicaAnnouncement(env.payload)
    if (!a.ok) return `malformed replica announcement: ${a.reason}`
    if (key !== `${REPLICA_KEY_PREFIX}${a.value.peerId}`) return `replica announcement of ${a.value.peerId} under key ${key}`
    // The cheap check first: an announcement about a member not yet known is set aside and
    // checked again later, so its signature would otherwise be verified twice.
    if (this.c.isMember !== undefined && !this.c.isMember(a.value.peerId)) return `replica announcement of ${a.value.peerId}, not a known member`
    if (!verifiedBy(a.value.peerId, env.payload, env.sig)) return `replica announcement not signed by its author ${a.value.peerId}`
    return null
  }

  private deliver (data: Uint8Array): void {
    const env = openEnvelope(data)
    const a = env === null ? null : decodeReplicaAnnouncement(env.payload)
    if (a === null || !a.ok || a.value.peerId === this.init.peerId) return
    const id = a.value.peerId
    const changed = this.known.get(id) !== a.value.revision || this.awaiting.has(id) !== (a.value.awaiting === true)
    this.known.set(id, a.value.revision)
    if (a.value.awaiting === true) this.awaiting.add(id)
    else this.awaiting.delete(id)
    if (changed) for (const l of this.changeListeners) l(id)
  }

  /** Announce what is worth announcing (see the header) once the last announcement is old enough. */
  private maybeAnnounce (): void {
    const awaiting = this.c.awaitingSnapshot?.() === true
    if (this.c.storeOpen?.() === false && !awaiting) return
    const revision = this.c.revision()
    const now = this.now()
    const last = this.last
    const opened = this.opened
    if (opened === null) {
      this.opened = { revision, awaiting }
      if (revision === 0 && !awaiting) return
    } else {
      const told = last ?? opened
      if (told.revision === revision && told.awaiting === awaiting) return
      if (told.awaiting === awaiting && this.c.acknowledging?.() === false) return
      if (last !== null && now - last.at < this.init.minIntervalMs) return
    }
    // Versions must rise across restarts too (others keep the latest per key): seconds since
    // the Unix epoch fit in 32 bits until 2106, and the rate limit keeps them distinct.
    const version = Math.max((last?.version ?? 0) + 1, Math.floor(now / 1000))
    try {
      const body = encodeReplicationMessage({ t: 'replica', peerId: this.init.peerId, revision, ...(awaiting ? { awaiting: true as const } : {}) })
      this.c.broadcasts.broadcast(`${REPLICA_KEY_PREFIX}${this.init.peerId}`, sealEnvelope(this.c.privateKey, body), version)
      this.last = { revision, awaiting, at: now, version }
    } catch (err) {
      this.c.logger.warn({ err: (err as Error).message }, 'replica announcement failed')
    }
  }
}
