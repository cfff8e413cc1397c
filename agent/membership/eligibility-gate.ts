/**
 * Whether a member's manager eligibility counts. Without a cluster CA (no `ssh-ca-pub-file`)
 * it is what the member's signed record says (self-asserted, the behaviour before attestation).
 * With one, an eligible record counts only with the CA's attestation for the record's own peer
 * id and name; otherwise the member is shown and treated as not eligible everywhere (election
 * candidates and claims, replica admission, replication targets all read the Member view),
 * while its record still counts for membership. A refusal is logged once per peer and counted.
 * Results are cached per verified record object, so a view costs one verify per new record.
 */

import type { Logger } from 'pino'
import type { NodeRecord } from '../../protocol/membership-wire.js'

/** Checks an attestation (agent/identity/eligibility-attestation.ts AttestationVerifier). */
export interface AttestationCheck {
  verify: (peerId: string, nodeName: string, sig: Uint8Array) => boolean
}

/** Decides whether each record's eligibility counts. */
export class EligibilityGate {
  private readonly verdicts = new WeakMap<NodeRecord, boolean>()
  private readonly logged = new Set<string>()
  /** Counters: eligible records refused for a missing or invalid attestation, and accepted ones. */
  readonly stats = { refused: 0, attested: 0 }

  /** `check`: null without a cluster CA (eligibility is self-asserted). */
  constructor (private readonly check: AttestationCheck | null, private readonly logger: Logger) {}

  /** Whether `record`'s member counts as manager-eligible. */
  eligible (record: NodeRecord): boolean {
    if (!record.managerEligible) return false
    if (this.check === null) return true
    const known = this.verdicts.get(record)
    if (known !== undefined) return known
    const sig = record.attestation === undefined ? null : Buffer.from(record.attestation, 'base64url')
    const ok = sig !== null && this.check.verify(record.peerId, record.name, sig)
    this.verdicts.set(record, ok)
    if (ok) {
      this.stats.attested++
    } else {
      this.stats.refused++
      if (!this.logged.has(record.peerId)) {
        // Bounded: one entry per peer that ever claimed eligibility without the CA's word.
        if (this.logged.size < 10_000) this.logged.add(record.peerId)
        this.logger.warn({ peer: record.peerId, member: record.name, attestation: record.attestation === undefined ? 'missing' : 'invalid' },
          'member claims manager eligibility without a valid attestation by the cluster SSH CA: treated as not eligible')
      }
    }
    return ok
  }
}
