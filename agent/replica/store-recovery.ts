/**
 * Recovery of a damaged manager store. When `<data-dir>/manager` cannot be opened because it
 * is corrupt (CLUSTERD_ERR_STORE_CORRUPT: damaged LevelDB files, lost acknowledged writes, an
 * unreadable value), the agent does not guess: it moves the directory aside to
 * `manager.damaged-<time>` (kept for the operator), writes the marker
 * `manager.awaiting-snapshot`, starts over with an empty store and refuses the manager role
 * until a snapshot from the manager has filled it again. An empty store elected manager would
 * otherwise serve, and replicate, an empty cluster state: silent loss.
 *
 * The marker survives restarts; the first snapshot taken removes it. A lone node with no
 * replica anywhere can only go on by accepting the loss: `clusterd store recover
 * --accept-empty` (the operator's explicit decision) removes the marker.
 */

import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { ClusterdError } from '../../protocol/errors.js'
import type { ManagerFactory } from '../../protocol/manager-role.js'
import type { Lineage, ReplicationBatch, SnapshotEntry } from '../../protocol/replication-wire.js'
import type { ReplicaStore } from './replica.js'

/** Name of the store directory under the data directory. */
export const STORE_DIR_NAME = 'manager'
/** Marker file (under the data directory) saying the store awaits a snapshot. */
export const AWAITING_SNAPSHOT_MARKER = 'manager.awaiting-snapshot'
/** Prefix of a damaged store moved aside (followed by an ISO time without colons). */
export const DAMAGED_PREFIX = 'manager.damaged-'

/** What the marker records. */
export interface AwaitingSnapshot {
  since: string
  reason: string
  /** Where the damaged store was moved, if one was. */
  damaged: string | null
}

/** A store as the replica and the manager role use it; every method passes through. */
export interface RecoverableStore extends ReplicaStore {
  mergeForeign?: (entries: SnapshotEntry[]) => Promise<unknown>
}

/** Whether `path` exists (any other error than ENOENT is thrown). */
export async function pathExists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/** Reads and writes the awaiting-snapshot state of one data directory. */
export class StoreRecovery {
  private readonly log: Logger
  private readonly dataDir: string
  private readonly now: () => Date
  private awaiting: AwaitingSnapshot | null = null

  constructor (components: { logger: Logger, now?: () => Date }, init: { dataDir: string }) {
    this.log = components.logger
    this.dataDir = init.dataDir
    this.now = components.now ?? (() => new Date())
  }

  /** The store directory. */
  get storePath (): string { return join(this.dataDir, STORE_DIR_NAME) }

  /** True while the store awaits a snapshot (this agent must not become manager). */
  get awaitingSnapshot (): boolean { return this.awaiting !== null }

  /** Why and since when the store awaits a snapshot, or null. */
  get state (): AwaitingSnapshot | null { return this.awaiting }

  /** Read the marker left by an earlier run. */
  async load (): Promise<void> {
    const file = join(this.dataDir, AWAITING_SNAPSHOT_MARKER)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') { this.awaiting = null; return }
      throw err
    }
    try {
      const v = JSON.parse(text) as Partial<AwaitingSnapshot>
      this.awaiting = { since: String(v.since ?? ''), reason: String(v.reason ?? 'unknown'), damaged: typeof v.damaged === 'string' ? v.damaged : null }
    } catch {
      // A marker that cannot be read still means "awaiting": the safe reading.
      this.awaiting = { since: '', reason: 'unreadable marker', damaged: null }
    }
  }

  /**
   * Move the damaged store aside and write the marker. Returns where the store went (null when
   * there was no directory to move).
   */
  async moveAside (reason: string): Promise<string | null> {
    const at = this.now().toISOString()
    let damaged: string | null = join(this.dataDir, DAMAGED_PREFIX + at.replace(/:/g, ''))
    if (await pathExists(this.storePath)) await rename(this.storePath, damaged)
    else damaged = null
    const marker: AwaitingSnapshot = { since: at, reason, damaged }
    await writeFile(join(this.dataDir, AWAITING_SNAPSHOT_MARKER), JSON.stringify(marker) + '\n', { mode: 0o600 })
    this.awaiting = marker
    this.log.error({ reason, damaged, marker: join(this.dataDir, AWAITING_SNAPSHOT_MARKER) },
      'manager store is damaged: moved it aside; this agent holds an empty replica and refuses the manager role until it takes a snapshot from the manager (or an operator runs `clusterd store recover --accept-empty`)')
    return damaged
  }

  /** The store holds a snapshot again (or the operator accepted an empty one): drop the marker. */
  async clear (why: string): Promise<void> {
    if (this.awaiting === null && !(await pathExists(join(this.dataDir, AWAITING_SNAPSHOT_MARKER)))) return
    await rm(join(this.dataDir, AWAITING_SNAPSHOT_MARKER), { force: true })
    this.awaiting = null
    this.log.warn({ why }, 'manager store no longer awaits a snapshot; this agent may become manager again')
  }

  /**
   * Wrap a store factory: a start that fails with CLUSTERD_ERR_STORE_CORRUPT moves the
   * directory aside and starts a new, empty store in its place; a snapshot taken clears the
   * marker. Other failures (locked, permissions, I/O) are passed on untouched: they are not
   * damage, and moving the directory would not help.
   */
  wrap<S extends RecoverableStore> (open: () => S): () => RecoverableStore {
    return () => new RecoveringStore(this, open)
  }
}

/** A store that recovers from damage at start (see StoreRecovery.wrap). */
class RecoveringStore implements RecoverableStore {
  private inner: RecoverableStore

  constructor (private readonly recovery: StoreRecovery, private readonly open: () => RecoverableStore) {
    this.inner = open()
  }

  get revision (): number { return this.inner.revision }

  async start (): Promise<void> {
    try {
      await this.inner.start()
    } catch (err) {
      if (!(err instanceof ClusterdError) || err.code !== 'CLUSTERD_ERR_STORE_CORRUPT') throw err
      await this.inner.stop().catch(() => {})
      await this.recovery.moveAside(err.message)
      this.inner = this.open()
      await this.inner.start()
    }
  }

  async stop (): Promise<void> { await this.inner.stop() }

  async applyReplicated (batch: ReplicationBatch): Promise<{ ok: true, revision: number } | { gap: true, revision: number }> {
    return await this.inner.applyReplicated(batch)
  }

  async importAll (entries: SnapshotEntry[]): Promise<{ revision: number }> {
    const result = await this.inner.importAll(entries)
    if (this.recovery.awaitingSnapshot) await this.recovery.clear(`took a snapshot at revision ${result.revision}`)
    return result
  }

  async exportAll (): Promise<SnapshotEntry[]> { return await this.inner.exportAll() }

  async exportRange (after: string, maxBytes: number): Promise<{ entries: SnapshotEntry[], next: string | null }> {
    return await this.inner.exportRange(after, maxBytes)
  }

  async lineage (): Promise<Lineage | null> { return await this.inner.lineage() }

  async setLineage (lineage: Lineage | null): Promise<void> { await this.inner.setLineage(lineage) }

  // The late-writes sidecar: without these a pulled replica would not name its late writes as a
  // replaced manager, and the new manager would merge them (docs/architecture.md, "Deposed managers").
  async unacked (): Promise<{ keys: string[] } | null> { return await this.inner.unacked?.() ?? null }

  async setUnacked (value: null): Promise<void> { await this.inner.setUnacked?.(value) }

  async mergeForeign (entries: SnapshotEntry[]): Promise<unknown> {
    if (this.inner.mergeForeign === undefined) throw new ClusterdError('CLUSTERD_ERR_INTERNAL', 'the wrapped store cannot merge')
    return await this.inner.mergeForeign(entries)
  }
}

/** Raised by the manager role while the store awaits a snapshot. */
export function awaitingSnapshotError (state: AwaitingSnapshot): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_STORE_CORRUPT',
    `the manager store was damaged (${state.reason}) and awaits a snapshot from a replica; this agent does not take the manager role until then (\`clusterd store recover --accept-empty\` accepts an empty store on a lone node)`)
}

/**
 * A manager factory that, while the store awaits a snapshot, builds a role that refuses to start
 * (the manager host reports why and retries) instead of opening the empty store as manager.
 */
export function refuseWhileAwaiting (recovery: StoreRecovery, factory: ManagerFactory): ManagerFactory {
  return ctx => {
    const state = recovery.state
    if (state === null) return factory(ctx)
    return {
      start: async () => { throw awaitingSnapshotError(state) },
      stop: async () => {},
      routes: () => new Map()
    }
  }
}
