/**
 * Application broadcasts over membership dissemination: the election's signed manager claims
 * and the replicas' revision announcements ride on the membership protocol (piggybacked,
 * retransmit-limited, latest per key in push-pull state) instead of a pub/sub mesh. Each
 * consumer owns a key prefix and validates what arrives under it BEFORE the membership core
 * stores or relays it, so invalid input is dropped at the edge.
 */

/** What a consumer of a key prefix provides. */
export interface BroadcastHandler {
  /** Null when `data` under `key` at `version` is valid; otherwise why not (it is dropped). */
  validate: (key: string, data: Uint8Array, version: number) => string | null
  /** A new, validated broadcast (a higher version than any seen for the key). */
  deliver: (key: string, data: Uint8Array, version: number) => void
}

/** The broadcast service membership offers. */
export interface UserBroadcasts {
  /** Disseminate `data` under `key`; a higher `version` supersedes older ones for the key. */
  broadcast: (key: string, data: Uint8Array, version: number) => void
  /** Handle every key that starts with `prefix`; returns an unregister function. */
  handle: (prefix: string, handler: BroadcastHandler) => () => void
  /** The latest broadcast under `key` this agent holds (sent or received, as push-pull shares it). */
  latest: (key: string) => { data: Uint8Array, version: number } | undefined
}

/** Routes keys to the handler of their prefix; a key nobody handles is invalid. */
export class BroadcastRouter {
  private readonly handlers = new Map<string, BroadcastHandler>()

  /** Register `handler` for keys starting with `prefix`. */
  handle (prefix: string, handler: BroadcastHandler): () => void {
    this.handlers.set(prefix, handler)
    return () => { if (this.handlers.get(prefix) === handler) this.handlers.delete(prefix) }
  }

  /** Null when valid, else the reason. */
  validate (key: string, data: Uint8Array, version: number): string | null {
    const h = this.find(key)
    if (h === undefined) return `no handler for broadcast key ${JSON.stringify(key.slice(0, 64))}`
    if (!Number.isInteger(version) || version < 0 || version >= 2 ** 32) return `broadcast version ${version} out of range`
    return h.validate(key, data, version)
  }

  /** Hand a validated broadcast to its consumer. */
  deliver (key: string, data: Uint8Array, version: number): void {
    this.find(key)?.deliver(key, data, version)
  }

  private find (key: string): BroadcastHandler | undefined {
    for (const [prefix, h] of this.handlers) if (key.startsWith(prefix)) return h
    return undefined
  }
}
