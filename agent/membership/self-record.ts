/**
 * This node's own record: its facts (collected at start and on a slow timer, served on demand
 * as exact bytes whose digest the record names) and the signed record built from them at a
 * given incarnation. The record carries only what membership and election need plus the facts'
 * digest (protocol/membership-wire.ts), so it stays a few hundred bytes.
 */

import type { PrivateKey } from '@libp2p/interface'
import type { NodeFacts } from '../../protocol/members.js'
import { RECORD_VERSION, type NodeRecord } from '../../protocol/membership-wire.js'
import type { HostPort } from '../config/agent-config.js'
import { encodeFacts, type EncodedFacts } from '../facts/facts-stream.js'
import type { AliveInfo } from './core/types.js'
import { signRecord } from './node-record.js'
import { endpointMultiaddr } from './verified-records.js'

/** Collaborators. */
export interface SelfRecordComponents {
  privateKey: PrivateKey
  /** Collects this node's facts (hostname, OS, host keys, ...). */
  collectFacts: () => Promise<NodeFacts>
}

/** What the record says besides the facts. */
export interface SelfRecordInit {
  peerId: string
  nodeName: string
  labels: Record<string, string>
  managerEligible: boolean
  advertise: HostPort
  /** The cluster CA's eligibility attestation (base64url), carried when eligible. */
  attestation?: string
}

/** This node's facts and signed record. */
export class SelfRecord {
  private readonly c: SelfRecordComponents
  private readonly init: SelfRecordInit
  private current: { facts: NodeFacts, encoded: EncodedFacts } | null = null

  constructor (components: SelfRecordComponents, init: SelfRecordInit) {
    this.c = components
    this.init = init
  }

  /** Our facts (null before the first collection). */
  get facts (): NodeFacts | null { return this.current?.facts ?? null }

  /** Our facts as served: the exact bytes and their digest. */
  get encoded (): EncodedFacts | null { return this.current?.encoded ?? null }

  /** Collect the facts again; true when they changed (the record must be re-signed). Throws what collecting throws. */
  async refresh (): Promise<boolean> {
    const facts = await this.c.collectFacts()
    const encoded = encodeFacts(facts)
    if (encoded.digest === this.current?.encoded.digest) return false
    this.current = { facts, encoded }
    return true
  }

  /** Our record at `incarnation`, signed, as the core's AliveInfo (synchronous: the core calls it). */
  sign (incarnation: number, left: boolean): { info: AliveInfo, record: NodeRecord } {
    const { peerId, nodeName, labels, managerEligible, advertise, attestation } = this.init
    const record: NodeRecord = {
      v: RECORD_VERSION,
      name: nodeName,
      peerId,
      incarnation,
      state: left ? 'left' : 'alive',
      addrs: [endpointMultiaddr(advertise)],
      labels,
      managerEligible,
      agentVersion: this.facts?.agentVersion ?? '',
      boot: this.facts?.boot ?? null,
      facts: this.encoded?.digest ?? null,
      ...(managerEligible && attestation !== undefined ? { attestation } : {})
    }
    const info: AliveInfo = {
      id: peerId,
      name: nodeName,
      incarnation,
      addr: { host: advertise.host, port: advertise.port },
      eligible: managerEligible,
      record: signRecord(record, this.c.privateKey),
      left
    }
    return { info, record }
  }
}
