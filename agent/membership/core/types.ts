/**
 * The contract of the sans-I/O membership core (SWIM + Lifeguard + piggybacked dissemination),
 * shared by the core itself, the deterministic simulator (`sim/`) and the agent's wrapper.
 * Types only. Everything here is plain data: no clocks, no sockets, no closures captured per
 * member. Time is `now` in ms passed in by the caller; randomness is an injected `rng`.
 */

import type { MemberId, Endpoint, AliveInfo, MemberStatus, UserBroadcast, Broadcast, Datagram, SyncMember, SyncState, SyncDigest, DigestReply } from '../../../protocol/swim-messages.js'

/** The wire messages are part of the core's contract (protocol/swim-messages.ts). */
export type { MemberId, Endpoint, AliveInfo, MemberStatus, UserBroadcast, Broadcast, Datagram, SyncMember, SyncState, DigestMember, SyncDigest, DigestReply } from '../../../protocol/swim-messages.js'

/**
 * Ask the wrapper to run a push-pull exchange with `to` (a seed's `id` is unknown: null).
 * Remote side: `core.onSyncRequest(state, now)`; back home: `onSyncReply` or `onSyncFailed`.
 */
export interface SyncRequest {
  t: 'sync'
  to: Endpoint
  id: MemberId | null
  state: SyncState
}

/** A datagram to send. */
export interface Send { to: Endpoint, msg: Datagram }

/** Something the application wants to know. */
export type CoreEvent =
  /** A member appeared (`previous` null) or changed status. */
  | { t: 'member', id: MemberId, status: MemberStatus, previous: MemberStatus | null, info: AliveInfo }
  /** A new user broadcast (a key's version seen for the first time); `from` = who relayed it. */
  | ({ t: 'user', from?: MemberId } & UserBroadcast)
  /** Own incarnation changed: persist it before the next start. */
  | { t: 'incarnation', value: number }
  /** This node's own tick came `ms` late: it judged itself stalled (not others). */
  | { t: 'stall', ms: number }

/** What every core call returns: effects for the wrapper to perform, in order. */
export interface Output {
  send: Send[]
  syncs: SyncRequest[]
  events: CoreEvent[]
}

/** A read-only view of one member. */
export interface MemberView {
  id: MemberId
  name: string
  status: MemberStatus
  incarnation: number
  info: AliveInfo
  /** When this node last saw the member's status change (its own clock, ms). */
  lastChange: number
}

/** Timing and size knobs (all ms unless stated); defaults in core/constants.ts. */
export interface SwimTiming {
  /** One probe starts at most this often (scaled by awareness). */
  probeIntervalMs: number
  /** Direct ping deadline (scaled by awareness). */
  probeTimeoutMs: number
  /** After the direct ping failed, how long ping-req answers may take (scaled by awareness). */
  indirectTimeoutMs: number
  /** Helpers asked per indirect probe. */
  indirectChecks: number
  /** Lifeguard suspicion minimum = mult * log10(max(N,1)) * probe interval (floored). */
  suspicionMult: number
  /** Suspicion minimum floor whatever N is. */
  suspicionMinMs: number
  /** Suspicion maximum = minimum * this; confirmations shrink toward the minimum. */
  suspicionMaxMult: number
  /**
   * Independent confirmations that bring a suspicion from the maximum down to the minimum
   * (Lifeguard's K); below 0: memberlist's suspicionMult - 2.
   */
  suspicionConfirmations: number
  /** Broadcast retransmit limit = mult * ceil(log10(N + 1)). */
  retransmitMult: number
  /** Base push-pull interval (scaled up above `pushPullScaleMembers`; push-pull.ts). */
  pushPullIntervalMs: number
  /**
   * Members above which the push-pull interval grows linearly with N: 512 for digest
   * exchanges (sync 3.0.0), 32 kept per-node bytes flat with full-state ones (2.0.0).
   */
  pushPullScaleMembers: number
  /**
   * Most entries one push-pull merge queues for re-dissemination (news to this node: a member
   * it did not know, a newer incarnation); the sender's own info is always relayed. Bounds
   * the burst a merge of a whole view can add to the queue.
   */
  pushPullRelayMax: number
  /**
   * After a (re)join, push-pull a random live member again this long later, doubling, while
   * the view keeps growing between exchanges (0 = off): members that joined at the same time
   * learn each other without waiting for the periodic push-pull.
   */
  settleIntervalMs: number
  /** Most such settle exchanges after one (re)join. */
  settleRounds: number
  /**
   * After a member we held failed comes back (a new incarnation), its suspect and dead claims
   * about others are ignored this long, as while it was failed: after a partition heals, the
   * claims it made about our side while cut off are still being relayed, and would kill
   * members whose refutation has not reached us yet (0 = off).
   */
  revivedQuietMs: number
  /**
   * 1: the catch-up push-pull of a node that learns it was held failed goes to a member it
   * holds failed when there is one (across the partition that just healed), 0: to an alive one.
   */
  resyncToFailed: number
  /** Extra gossip-only datagrams while broadcasts are pending (0 = piggyback only). */
  gossipIntervalMs: number
  /** Members per gossip round. */
  gossipNodes: number
  /**
   * News goes out at once: when an input queues a broadcast and the last gossip round is at
   * least this old, a round runs right away (before the wrapper's listeners do their work)
   * besides the interval's rounds; news queued sooner than this after a round goes out this
   * long after it. At most one such round per this many ms while news keeps coming, so a
   * storm costs at most 1000 / this x gossipNodes datagrams a second more (0 = rounds only at
   * the interval).
   */
  eagerGossipMs: number
  /**
   * Gossip to the recently dead (memberlist's GossipToTheDeadTime): every gossip interval one
   * random pick among the live members and those held failed for less than this; a failed one
   * gets our `dead` verdict, so after a short cut heals the first datagram that crosses makes
   * it refute. Also: a node that learns it was held failed tells the members it holds suspect,
   * or failed within this, its claim directly (0 = neither).
   */
  gossipToDeadMs: number
  /** Lifeguard local health score ceiling. */
  awarenessMax: number
  /** A tick this much later than the deadline it asked for is this node's own stall. */
  stallGraceMs: number
  /** Failed and left members are forgotten after this long. */
  reapAfterMs: number
  /** Byte budget of one datagram (piggyback packing). */
  datagramBudget: number
  /** Hard maximum of one datagram (an oversized alive is sent alone up to this). */
  maxDatagramBytes: number
  /** Members told directly (gossip datagram) when this node leaves. */
  leaveFanout: number
  /** While this node knows no other live member, it push-pulls its seeds this often. */
  joinRetryMs: number
  /**
   * While this node's health score is raised, its settle, catch-up and periodic push-pulls
   * wait, each at most this long (slow-defer.ts; 0 = never wait).
   */
  slowDeferMs: number
}

/** Construction parameters of a SwimCore. */
export interface SwimInit {
  selfId: MemberId
  /**
   * Build (and, in the agent, sign) this node's AliveInfo at an incarnation. Synchronous: the
   * agent signs with its Ed25519 key in-process; the simulator builds a small fake.
   */
  selfInfo: (incarnation: number, left: boolean) => AliveInfo
  /** Persisted incarnation of the previous run (the core starts at this + 1). */
  incarnation: number
  /** Join targets (their ids unknown). */
  seeds: Endpoint[]
  timing?: Partial<SwimTiming>
}

/** Random source in [0, 1) (deterministic in the simulator). */
export type Rng = () => number

/** Counters of a core since start. */
export interface SwimStats {
  probes: number
  acks: number
  nacks: number
  indirectProbes: number
  suspicions: number
  refutations: number
  deaths: number
  broadcastsQueued: number
  broadcastsSent: number
  syncs: number
  /** Settle push-pulls made after a (re)join while the view still grew. */
  settles: number
  /** Claims or values refused as out of bounds (incarnation above the signed one, etc.). */
  refused: number
  /** Datagrams/broadcasts ignored (stale, unknown subject, not for us). */
  ignored: number
  /** Own stalls detected. */
  stalls: number
  /** Push-pulls of this node's own deferred while its health score was raised (slow-defer.ts). */
  deferred: number
}

/** The surface of the core (implemented by SwimCore in swim-core.ts). */
export interface MembershipCore {
  start: (now: number) => Output
  receive: (from: Endpoint, msg: Datagram, now: number) => Output
  onSyncRequest: (state: SyncState, now: number) => { reply: SyncState, out: Output }
  onSyncReply: (state: SyncState, now: number) => Output
  onSyncFailed: (to: Endpoint, now: number) => Output
  /** Digest push-pull (core/digest.ts), responder: answer the requester's digest with what differs. */
  onDigestRequest: (digest: SyncDigest, now: number) => { reply: DigestReply, out: Output }
  /** Digest push-pull, requester: merge the reply's entries; `push` = the entries it asked for. */
  onDigestReply: (reply: DigestReply, now: number) => { push: SyncState, out: Output }
  /** Digest push-pull, responder: merge the entries it asked for (the exchange's last frame). */
  onDigestPush: (state: SyncState, now: number) => Output
  tick: (now: number) => Output
  nextDeadline: () => number
  refreshSelf: (now: number) => Output
  broadcast: (key: string, data: Uint8Array, version: number, now: number) => Output
  leave: (now: number) => Output
  members: () => MemberView[]
  member: (id: MemberId) => MemberView | undefined
  /** Members not failed or left, self included (SWIM's N). */
  size: () => number
  /** Whether a push-pull of this node's own has completed since start (its join is done). */
  synced: () => boolean
  stats: () => SwimStats
  /** Lifeguard local health score (core/awareness.ts): 0 healthy; timeouts and the probe interval run at score + 1 times. */
  health: () => number
  /** Broadcasts still queued for piggybacking (a leaving node may wait for 0, with a deadline). */
  pending: () => number
}
