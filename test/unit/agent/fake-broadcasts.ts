/**
 * An in-memory UserBroadcasts for unit tests of the election and the replica revisions: what
 * they broadcast is recorded, and `deliver` hands a broadcast in as membership would
 * (validated first, then delivered only when valid).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { BroadcastRouter, type BroadcastHandler, type UserBroadcasts } from '../../../agent/membership/user-broadcasts.js'
import { sealEnvelope } from '../../../agent/identity/signed-envelope.js'

/** One recorded broadcast. */
export interface Sent { key: string, data: Uint8Array, version: number }

/** The fake. */
export class FakeBroadcasts implements UserBroadcasts {
  readonly sent: Sent[] = []
  private readonly router = new BroadcastRouter()
  private readonly held = new Map<string, Sent>()

  broadcast (key: string, data: Uint8Array, version: number): void {
    this.sent.push({ key, data, version })
    this.held.set(key, { key, data, version })
  }

  handle (prefix: string, handler: BroadcastHandler): () => void { return this.router.handle(prefix, handler) }
  latest (key: string): Sent | undefined { return this.held.get(key) }

  /** Validate then deliver; returns the reason it was dropped, or null when delivered. */
  deliver (key: string, data: Uint8Array, version: number): string | null {
    const bad = this.router.validate(key, data, version)
    if (bad === null) {
      this.held.set(key, { key, data, version })
      this.router.deliver(key, data, version)
    }
    return bad
  }
}

/** A peer with a real Ed25519 key. */
export interface TestPeer { key: PrivateKey, id: string }

/** `n` peers with real keys, sorted by peer id (index 0 has the lowest). */
export async function peers (n: number): Promise<TestPeer[]> {
  const out: TestPeer[] = []
  for (let i = 0; i < n; i++) {
    const key = await generateKeyPair('Ed25519')
    out.push({ key, id: peerIdFromPrivateKey(key).toString() })
  }
  return out.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

/** Sign a JSON body as `peer` (signature || payload). */
export function signedJson (peer: TestPeer, body: unknown): Uint8Array {
  return sealEnvelope(peer.key, new TextEncoder().encode(JSON.stringify(body)))
}
