/**
 * The messages two membership cores exchange (SWIM + Lifeguard datagrams, piggybacked
 * broadcasts, push-pull state) as plain data: what `swim-wire.ts` encodes and decodes, and
 * what the sans-I/O core (agent/membership/core/, whose contract `types.ts` re-exports these)
 * sends and receives. Types only.
 */

/** A member's identity: its libp2p peer id string. */
export type MemberId = string

/**
 * One address per member, used for BOTH its UDP datagrams and its TCP (libp2p) listener
 * (same port, as Serf does).
 */
export interface Endpoint { host: string, port: number }

/**
 * What a member says about itself. The wrapper has verified `record` (the signed node record)
 * before the core sees an AliveInfo, so the core trusts every field; `record` is opaque here.
 * Treat as immutable: the simulator shares one object between all nodes.
 */
export interface AliveInfo {
  id: MemberId
  name: string
  /** In [0, 2^32). Only the member itself issues a new one (it signs the record). */
  incarnation: number
  addr: Endpoint
  /** May become manager. */
  eligible: boolean
  /** Opaque signed record bytes (the agent's NodeRecord); the simulator puts a few bytes. */
  record: Uint8Array
  /** A graceful leave: signed by the member itself, so it cannot be forged. */
  left: boolean
}

/** Status of a member as this node sees it (`failed` = SWIM's dead). */
export type MemberStatus = 'alive' | 'suspect' | 'failed' | 'left'

/** An application broadcast: opaque bytes under a key; a higher version supersedes. */
export interface UserBroadcast {
  /** Short ASCII key, e.g. `claim` or `rev/<peer id>`; at most MAX_USER_KEY_BYTES (swim-wire). */
  key: string
  data: Uint8Array
  /** In [0, 2^32); a higher version for the same key supersedes a lower one. */
  version: number
}

/**
 * A piggybacked update. `suspect`/`dead` carry the incarnation of the subject's signed info
 * they accuse (never higher: such a claim is refused). A leave is an `alive` with `left: true`.
 */
export type Broadcast =
  | { t: 'alive', info: AliveInfo }
  | { t: 'suspect', id: MemberId, incarnation: number, from: MemberId }
  | { t: 'dead', id: MemberId, incarnation: number, from: MemberId }
  | ({ t: 'user' } & UserBroadcast)

/**
 * A datagram between two cores. `seq` is in [0, 2^32), chosen by the sender of the request.
 * `ping.target` is the id the sender means to reach (an endpoint reused by another member
 * does not ack for it). A ping-req helper pings `target` at `targetAddr` itself and relays
 * `ack` (target answered) or `nack` (it did not, but the helper is fine: Lifeguard) back to
 * the requester under the requester's `seq`. `gossip` carries broadcasts only (no probe): it
 * is sent by the optional gossip timer and by a leaving node.
 */
export type Datagram =
  | { t: 'ping', seq: number, from: MemberId, target: MemberId, gossip: Broadcast[] }
  | { t: 'ack', seq: number, from: MemberId, gossip: Broadcast[] }
  | { t: 'ping-req', seq: number, from: MemberId, target: MemberId, targetAddr: Endpoint, gossip: Broadcast[] }
  | { t: 'nack', seq: number, from: MemberId }
  | { t: 'gossip', from: MemberId, gossip: Broadcast[] }

/** One member in a push-pull exchange; `incarnation` is the one its status is about. */
export interface SyncMember {
  info: AliveInfo
  status: MemberStatus
  incarnation: number
}

/** A node's whole state for push-pull (anti-entropy) and join. */
export interface SyncState {
  /** Sender's id (null never on the wire from a started core; kept for symmetry with seeds). */
  from: MemberId | null
  members: SyncMember[]
  /** Latest version of every user broadcast key. */
  user: UserBroadcast[]
  /** True when the sender is joining (seeds): the responder replies in full. */
  join: boolean
}

/** One member in a push-pull digest: what the sender holds about it, without its record. */
export interface DigestMember {
  id: MemberId
  /** The incarnation the status is about (the signed info's, as in SyncMember). */
  incarnation: number
  status: MemberStatus
}

/**
 * A node's state in brief (push-pull 3.0.0, first frame): every member's id, incarnation and
 * status and every user key's version, so the responder can answer with only what differs.
 */
export interface SyncDigest {
  from: MemberId
  members: DigestMember[]
  user: Array<{ key: string, version: number }>
  /** True when the sender is joining: it knows nobody, the reply holds every live member. */
  join: boolean
}

/**
 * The responder's answer to a digest (second frame): the full entries the initiator lacks or
 * holds older (merged like a push-pull state), and the ids and user keys it wants back from
 * the initiator (third frame: a SyncState holding just those).
 */
export interface DigestReply {
  state: SyncState
  wantMembers: MemberId[]
  wantUser: string[]
}
