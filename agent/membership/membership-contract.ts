/**
 * What the membership service (membership.ts) takes and tells: its collaborators and settings,
 * the datagram port it sends through, and the member changes it reports to listeners.
 */

import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { NodeFacts, Member } from '../../protocol/members.js'
import type { HostPort } from '../config/agent-config.js'
import type { Endpoint, MemberStatus, SwimTiming } from './core/types.js'
import type { MembershipTiming } from './constants.js'
import type { AttestationCheck } from './eligibility-gate.js'

/** The datagram channel as membership uses it (agent/transport/datagram-channel.ts). */
export interface DatagramPort {
  send: (to: Endpoint, payload: Uint8Array) => void
  onDatagram: (handler: (from: Endpoint, payload: Uint8Array) => void) => () => void
}

/** Collaborators of the membership service. */
export interface MembershipComponents {
  libp2p: Libp2p
  privateKey: PrivateKey
  logger: Logger
  datagrams: DatagramPort
  /** Collects this node's facts (hostname, OS, host keys, ...). */
  collectFacts: () => Promise<NodeFacts>
  /** Durable incarnation counter, so a restarted agent's news supersedes its old records. */
  incarnations: { load: () => Promise<number>, save: (inc: number) => Promise<void> }
  /** Clock (ms); default Date.now. */
  now?: () => number
  /** The cluster CA's attestation check; without it eligibility is self-asserted (eligibility-gate.ts). */
  attestations?: AttestationCheck
}

/** Settings of the membership service. */
export interface MembershipInit {
  nodeName: string
  labels: Record<string, string>
  managerEligible: boolean
  /** Where others reach this agent: its UDP datagrams and its libp2p TCP listener. */
  advertise: HostPort
  /** Our eligibility attestation by the cluster CA (base64url), carried in our record. */
  attestation?: string
  seeds: HostPort[]
  /** Core timing over the agent's defaults. */
  swim?: Partial<SwimTiming>
  timing?: Partial<MembershipTiming>
}

/** A member status change, for listeners. `to` uses the API's words (`failed`, not `dead`). */
export interface StatusChange { peerId: string, name: string, from: MemberStatus | null, to: MemberStatus, inc: number }

/** Listener of member changes (a status change or a new record of the member). */
export type MemberChangeListener = (change: StatusChange, member: Member) => void
