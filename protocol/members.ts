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

/** Facts a node reports about itself; they travel with its signed membership record. */
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
  facts: NodeFacts | null
  managerEligible: boolean
  /** ISO-8601 time this agent last heard from or about the member being alive. */
  lastSeen: string
}

/** Response of `GET /v1/members`. */
export type MembersResponse = Member[]
