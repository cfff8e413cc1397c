/**
 * Other members' facts, fetched on demand (agent/facts/facts-stream.ts) and cached by the
 * digest their signed record names: a cached entry serves until the member signs a record with
 * another digest. Fetches run a few at a time, are shared by concurrent askers, and are never
 * thrown at the caller: a member whose facts cannot be fetched just shows none. While someone
 * watches (the manager's discovery), every member's facts are kept fetched in the background,
 * with a few retries, so synchronous readers (SSH targets, `node show`) find them.
 */

import type { Logger } from 'pino'
import type { NodeFacts } from '../../protocol/members.js'
import type { WireResult } from '../../protocol/membership-wire.js'

/** Whose facts, where to ask, and which digest they must have. */
export interface FactsWanted { id: string, addr: string, digest: string }

/** Collaborators. */
export interface MemberFactsComponents {
  fetch: (peerId: string, addr: string, digest: string, signal?: AbortSignal) => Promise<WireResult<NodeFacts>>
  logger: Logger
  /** Facts with the member's current digest just arrived (listeners may re-read the member). */
  onFetched: (id: string) => void
  /** The digest the member's newest verified record names now (null: none, or gone). */
  currentDigest: (id: string) => string | null
}

/** Settings. */
export interface MemberFactsInit {
  /** Fetches in flight at once. Default 4. */
  concurrency?: number
  /** Background retries of a watched member's failed fetch. Default 5. */
  retries?: number
  /** First retry delay, doubled each time. Default 1 s. */
  retryMs?: number
  /** After a failed fetch, `load` does not ask that member again for this long. Default 5 s. */
  failedHoldMs?: number
  /** Clock (ms). Default Date.now. */
  now?: () => number
}

/** The facts cache of one agent. */
export class MemberFacts {
  private readonly c: MemberFactsComponents
  private readonly concurrency: number
  private readonly retries: number
  private readonly retryMs: number
  private readonly failedHoldMs: number
  private readonly now: () => number
  /** Recent failures by member: a poller of an unreachable member must not wait on it every time. */
  private readonly failedAt = new Map<string, { digest: string, at: number }>()
  private readonly cache = new Map<string, { digest: string, facts: NodeFacts }>()
  private readonly inFlight = new Map<string, { digest: string, done: Promise<void> }>()
  private readonly queue: Array<() => void> = []
  private running = 0
  private watchers = 0
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly stopped = new AbortController()
  /** Counters for logs and tests. */
  readonly stats = { hits: 0, fetches: 0, failures: 0 }

  constructor (components: MemberFactsComponents, init: MemberFactsInit = {}) {
    this.c = components
    this.concurrency = init.concurrency ?? 4
    this.retries = init.retries ?? 5
    this.retryMs = init.retryMs ?? 1000
    this.failedHoldMs = init.failedHoldMs ?? 5000
    this.now = init.now ?? Date.now
  }

  /** The cached facts of `id` if they are the ones `digest` names. */
  get (id: string, digest: string | null): NodeFacts | null {
    if (digest === null) return null
    const hit = this.cache.get(id)
    return hit !== undefined && hit.digest === digest ? hit.facts : null
  }

  /** Whether someone keeps every member's facts fetched. */
  get watching (): boolean { return this.watchers > 0 }

  /** Keep every member's facts fetched until the returned function is called. */
  watch (): () => void {
    this.watchers++
    let done = false
    return () => { if (!done) { done = true; this.watchers-- } }
  }

  /** A member's record names `w.digest`: fetch in the background if watched and not cached. */
  noticed (w: FactsWanted): void {
    if (this.watchers > 0 && this.get(w.id, w.digest) === null) void this.ensure(w, this.retries)
  }

  /** Fetch whichever of `wanted` are not cached, and wait (bounded by `signal`). */
  async load (wanted: FactsWanted[], signal: AbortSignal): Promise<void> {
    const now = this.now()
    const missing = wanted.filter(w => this.get(w.id, w.digest) === null)
    this.stats.hits += wanted.length - missing.length
    const pending = missing.filter(w => {
      const f = this.failedAt.get(w.id)
      return f === undefined || f.digest !== w.digest || now - f.at >= this.failedHoldMs
    }).map(async w => { await this.ensure(w, 0) })
    if (pending.length === 0) return
    await Promise.race([Promise.allSettled(pending), whenAborted(signal)])
  }

  /**
   * Fetch `w` now unless cached, whatever recent failures say (the caller wants this one member
   * and bounds its wait by `signal`); shares a fetch already in flight. Whether its facts are
   * cached afterwards.
   */
  async fetchNow (w: FactsWanted, signal: AbortSignal): Promise<boolean> {
    if (this.get(w.id, w.digest) !== null) { this.stats.hits++; return true }
    if (signal.aborted) return false
    await Promise.race([this.ensure(w, 0), whenAborted(signal)])
    return this.get(w.id, w.digest) !== null
  }

  /** Forget members not in `keep`. */
  retain (keep: Set<string>): void {
    for (const id of this.cache.keys()) if (!keep.has(id)) this.cache.delete(id)
    for (const id of this.failedAt.keys()) if (!keep.has(id)) this.failedAt.delete(id)
  }

  /** Stop fetching; pending background retries are dropped. */
  stop (): void {
    this.stopped.abort()
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    for (const run of this.queue.splice(0)) run()
  }

  private async ensure (w: FactsWanted, retriesLeft: number): Promise<void> {
    const running = this.inFlight.get(w.id)
    if (running !== undefined && running.digest === w.digest) { await running.done; return }
    const done = this.fetchOne(w, retriesLeft).finally(() => {
      if (this.inFlight.get(w.id)?.done === done) this.inFlight.delete(w.id)
    })
    this.inFlight.set(w.id, { digest: w.digest, done })
    await done
  }

  private async fetchOne (w: FactsWanted, retriesLeft: number): Promise<void> {
    await this.slot()
    try {
      if (this.stopped.signal.aborted) return
      this.stats.fetches++
      const r = await this.c.fetch(w.id, w.addr, w.digest, this.stopped.signal)
      if (r.ok) {
        this.cache.set(w.id, { digest: w.digest, facts: r.value })
        this.failedAt.delete(w.id)
        if (this.c.currentDigest(w.id) === w.digest) this.c.onFetched(w.id)
        return
      }
      this.stats.failures++
      this.failedAt.set(w.id, { digest: w.digest, at: this.now() })
      this.c.logger.debug({ peer: w.id, reason: r.reason }, 'facts fetch failed')
    } finally {
      this.release()
    }
    if (retriesLeft > 0 && !this.stopped.signal.aborted) {
      const t = setTimeout(() => {
        this.timers.delete(t)
        // Only while still watched and still the member's current digest (else a newer record re-asks).
        if (this.watchers > 0 && this.c.currentDigest(w.id) === w.digest) void this.ensure(w, retriesLeft - 1)
      }, this.retryMs * 2 ** (this.retries - retriesLeft))
      t.unref()
      this.timers.add(t)
    }
  }

  private async slot (): Promise<void> {
    if (this.running < this.concurrency) { this.running++; return }
    await new Promise<void>(resolve => { this.queue.push(resolve) })
    this.running++
  }

  private release (): void {
    this.running--
    this.queue.shift()?.()
  }
}

/** Resolves when `signal` fires (at once if it has). */
async function whenAborted (signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    if (signal.aborted) resolve()
    signal.addEventListener('abort', () => { resolve() }, { once: true })
  })
}
