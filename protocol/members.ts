/**
 * Membership wire types: what one agent tells the others about a node, and what the API
 * returns for `GET /v1/members`.
 */

/** A member's liveness as the SWIM failure detector sees it. */
export type MemberStatus = 'alive' | 'suspect' | 'failed' | 'left'

/** An SSH host public key as read from the node's sshd host key files. */
export interface HostKey {
  /** Key type as in an OpenSSH public key line, e.g. `ssh-ed25519`. */
  type: string
  /** Base64 key blob, the second field of the public key line. */
  key: string
}

/**
 * Facts a node reports about itself. Its signed membership record carries only their digest;
 * the facts are fetched from the node on demand and checked against it.
 */
export interface NodeFacts {
  hostname: string
  addresses: string[]
  os: { platform: string, release: string, distro: string }
  kernel: string
  arch: string
  cpus: number
  memoryBytes: number
  disks: Array<{ mount: string, sizeBytes: number, freeBytes: number }>
  agentVersion: string
  sshHostKeys: HostKey[]
  /**
   * Which boot of the node and which start of its agent signed this record. A change of
   * either tells the manager the node came back (reboot or agent restart) even when the
   * failure detector never marked it failed. Absent in records of older agents.
   */
  boot?: NodeBoot
}

/** Identity of one run of a node's agent: the kernel boot and the agent process start. */
export interface NodeBoot {
  /** `/proc/sys/kernel/random/boot_id`: changes on every reboot ('' when unreadable). */
  id: string
  /** ISO-8601 time the agent process started: changes on every agent restart. */
  agentStartedAt: string
}

/** One member as listed by `GET /v1/members` and `clusterctl members -o json`. */
export interface Member {
  name: string
  peerId: string
  /** Multiaddrs the member advertises, e.g. `/ip4/10.0.0.1/tcp/7946`. */
  addresses: string[]
  status: MemberStatus
  incarnation: number
  labels: Record<string, string>
  /**
   * The member's facts, or null when it reports none or this agent has not fetched them
   * (`GET /v1/members?facts=cached` does not fetch).
   */
  facts: NodeFacts | null
  /** The member's boot and agent start, from its signed record (null when it reports none). */
  boot: NodeBoot | null
  managerEligible: boolean
  /** ISO-8601 time this agent last heard from or about the member being alive. */
  lastSeen: string
  /**
   * Whether the manager binds this member's name to it (see `NameBindingStatus`). Filled in by
   * `GET /v1/members` from the manager's records; absent from membership's own view.
   */
  nameBinding?: NameBindingStatus
  /** With `nameBinding: 'conflict'`: the peer the name is bound to. Null otherwise. */
  nameBoundTo?: string | null
}

/**
 * A member's name binding as the manager records it: `bound` (the name belongs to this peer),
 * `conflict` (the name belongs to another peer: this member's claim is refused and the manager
 * never targets it), `unrecorded` (the manager has no node of that name yet, or it left before
 * being recorded), `unknown` (no manager answered in time).
 */
export type NameBindingStatus = 'bound' | 'conflict' | 'unrecorded' | 'unknown'

/** Response of `GET /v1/members`. */
export type MembersResponse = Member[]
