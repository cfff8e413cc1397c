/**
 * The gate between the network and the membership core: an AliveInfo is handed to the core
 * only when its signed record verifies AND every field the core trusts (id, name,
 * incarnation, left, eligible, address) agrees with that record, since a relay could alter
 * the unsigned copy. Verification is cached per member by (incarnation, record bytes): the
 * same record arriving again in piggybacked gossip or push-pull costs a byte comparison, not
 * an Ed25519 verify. The cache also holds the decoded record the API shows (facts, labels).
 */

import type { NodeRecord, WireResult } from '../../protocol/membership-wire.js'
import type { AliveInfo } from './core/types.js'
import { verifyRecord } from './node-record.js'

/** The multiaddr of an endpoint as records list it. */
export function endpointMultiaddr (e: { host: string, port: number }): string {
  return `/${e.host.includes(':') ? 'ip6' : 'ip4'}/${e.host}/tcp/${e.port}`
}

interface Verified { incarnation: number, bytes: Uint8Array, record: NodeRecord }

/** Verified records by member id, newest incarnation per member. */
export class VerifiedRecords {
  private readonly byId = new Map<string, Verified>()
  /** Counters: full verifications, cache hits, refusals. */
  readonly stats = { verified: 0, cached: 0, refused: 0 }

  /** Remember our own freshly signed record (it needs no verification). */
  remember (info: AliveInfo, record: NodeRecord): void {
    this.byId.set(info.id, { incarnation: info.incarnation, bytes: info.record, record })
  }

  /** Check an AliveInfo from the network; ok with the decoded record, or why it is refused. */
  check (info: AliveInfo): WireResult<NodeRecord> {
    const cached = this.byId.get(info.id)
    if (cached !== undefined && cached.incarnation === info.incarnation && sameBytes(cached.bytes, info.record)) {
      const bad = mismatch(info, cached.record)
      if (bad !== null) return this.refuse(bad)
      this.stats.cached++
      return { ok: true, value: cached.record }
    }
    const rec = verifyRecord(info.record, info.id)
    if (!rec.ok) return this.refuse(rec.reason)
    const bad = mismatch(info, rec.value)
    if (bad !== null) return this.refuse(bad)
    this.stats.verified++
    if (cached === undefined || info.incarnation >= cached.incarnation) {
      this.byId.set(info.id, { incarnation: info.incarnation, bytes: info.record, record: rec.value })
    }
    return rec
  }

  /** The newest verified record of `id`. */
  get (id: string): NodeRecord | undefined { return this.byId.get(id)?.record }

  /** Drop everything about members not in `keep` (the core reaped them). */
  retain (keep: Set<string>): void {
    for (const id of this.byId.keys()) if (!keep.has(id)) this.byId.delete(id)
  }

  /** Number of members held. */
  get size (): number { return this.byId.size }

  private refuse (reason: string): WireResult<NodeRecord> {
    this.stats.refused++
    return { ok: false, reason }
  }
}

/** Null when the AliveInfo's fields are the ones the signed record gives, else which differs. */
function mismatch (info: AliveInfo, r: NodeRecord): string | null {
  if (r.peerId !== info.id) return `record of ${r.peerId} carried as ${info.id}`
  if (r.name !== info.name) return `record of ${r.peerId} names ${r.name}, not ${info.name}`
  if (r.incarnation !== info.incarnation) return `record of ${r.peerId} is incarnation ${r.incarnation}, not ${info.incarnation}`
  if ((r.state === 'left') !== info.left) return `record of ${r.peerId} says ${r.state}`
  if (r.managerEligible !== info.eligible) return `record of ${r.peerId} disagrees on eligibility`
  if (!r.addrs.includes(endpointMultiaddr(info.addr))) return `record of ${r.peerId} does not list ${info.addr.host}:${info.addr.port}`
  return null
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}
