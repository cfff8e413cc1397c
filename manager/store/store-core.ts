/**
 * The core every part of the manager store shares (manager-store.ts composes them): the
 * database and its lifecycle, the two in-memory views, and the write path.
 *
 * Writes are staged one at a time through a serial queue against the staged view, then
 * flushed by group commit (committer.ts); a call resolves only once its batch is synced and
 * handed to `afterCommit` (the replicator). The deposition fence is checked before anything is
 * staged. Reads return only what is durable: the committed view, updated after each flush.
 * Internal to manager/store: its fields are the parts' shared state, not an API.
 */
import type { Logger } from 'pino'
import { ClusterdError } from '../../protocol/errors.js'
import { isTransitionalState, type LifecycleEvent, type NodeRecord } from '../../protocol/nodes.js'
import { stateOf } from '../lifecycle/node-machine.js'
import type { ReplicationBatch } from '../../protocol/replication-wire.js'
import { Committer, type BatchOp } from './committer.js'
import { PREFIX } from './constants.js'
import { META_KEYS, eventKey, jobKey, nodeEventKey, nodeKey, range } from './keys.js'
import { encodeNode, type NodeEntry } from './node-entry.js'
import { openDb, writeFailure, writeMarker, type StoreDb } from './open-db.js'
import { guardIterator, guardRead, loadState } from './restore.js'
import { SerialQueue } from './serial-queue.js'

/** Collaborators of the store. */
export interface ManagerStoreComponents {
  logger: Logger
  /** Clock for record and event times; a test swaps in a fake one. */
  now?: () => Date
  /**
   * Called with each durable write's raw ops, in revision order (the replicator). The write is
   * acknowledged to its caller only once this settles; a rejection is logged, never surfaced
   * (the write is already durable here), except CLUSTERD_ERR_MANAGER_CHANGED: this manager was
   * replaced, so the write is not acknowledged and its caller gets that error.
   */
  afterCommit?: (batch: ReplicationBatch) => Promise<void>
  /**
   * Checked before every write is staged: an error (CLUSTERD_ERR_MANAGER_CHANGED once the
   * manager was deposed) refuses the write with nothing written; null lets it through.
   */
  fence?: () => ClusterdError | null
  /** Told of each node's lifecycle events once they are durable (the manager's metrics). */
  onLifecycleEvents?: (events: LifecycleEvent[]) => void
}

/** Settings of the store. */
export interface ManagerStoreInit {
  /** Directory of the LevelDB database (created if missing). */
  path: string
  /**
   * Epoch of the manager writing through this store: stamped on every lifecycle event, job
   * record and config write, so a merge can let higher epochs win (merge.ts). Absent for a
   * replica (it writes only what the manager stamped).
   */
  epoch?: number
}

/** A staged write: the caller's result, and a promise that settles when it is durable. */
export interface Staged<T> { result: T, durable: Promise<void> }

/** The shared state and write path of the store's parts. */
export class StoreCore {
  readonly log: Logger
  readonly now: () => Date
  readonly path: string
  readonly epoch: number | undefined
  readonly queue = new SerialQueue()
  private readonly afterCommit: ((batch: ReplicationBatch) => Promise<void>) | undefined
  private readonly fence: (() => ClusterdError | null) | undefined
  private readonly onLifecycleEvents: ((events: LifecycleEvent[]) => void) | undefined
  status: 'stopped' | 'starting' | 'started' | 'stopping' = 'stopped'
  db: StoreDb | null = null
  private committer: Committer | null = null

  // Staged view: what the next write builds on (may be ahead of the disk by one flush).
  nodes = new Map<string, NodeEntry>()
  stagedRevision = 0
  gseq = 0
  readonly jobSeq = new Map<string, number>()
  /** Last event seq of names forgotten since the load (their `forgotten` event may not be durable yet). */
  readonly forgottenSeq = new Map<string, number>()

  // Committed view: what reads return.
  committedNodes = new Map<string, NodeRecord>()
  committedConfig = new Map<string, unknown>()
  committedRevision = 0
  /** Node names sorted, for paging; dropped when a name goes (see sortedNames). */
  namesCache: { size: number, names: string[] } | null = null

  constructor (components: ManagerStoreComponents, init: ManagerStoreInit) {
    this.log = components.logger.child({ component: 'manager-store' })
    this.now = components.now ?? (() => new Date())
    this.path = init.path
    this.afterCommit = components.afterCommit
    this.fence = components.fence
    this.onLifecycleEvents = components.onLifecycleEvents
    this.epoch = init.epoch
  }

  /** Open the database, validate it and restore every node's machine snapshot. */
  async start (): Promise<void> {
    if (this.status !== 'stopped') return
    this.status = 'starting'
    try {
      const db = await openDb(this.path)
      this.db = db
      await this.load(db)
      this.committer = new Committer(async ops => {
        try {
          await db.batch(ops, { sync: true })
        } catch (err: any) {
          this.log.error({ err }, 'store write failed; refusing writes until restart (reads go on)')
          throw writeFailure(err, this.path)
        }
      })
      await writeMarker(this.path, this.committedRevision, this.now().toISOString())
      this.status = 'started'
      this.log.info({ path: this.path, revision: this.committedRevision, nodes: this.nodes.size }, 'manager store started')
    } catch (err) {
      await this.db?.close().catch(() => {})
      this.db = null
      this.status = 'stopped'
      throw err
    }
  }

  /** Finish queued writes, record the final revision and close the database. */
  async stop (): Promise<void> {
    if (this.status !== 'started') return
    this.status = 'stopping'
    try {
      await this.queue.idle()
      await this.committer?.barrier()
      await writeMarker(this.path, this.committedRevision, this.now().toISOString())
    } catch (err) {
      this.log.error({ err }, 'manager store did not flush cleanly')
    } finally {
      await this.db?.close()
      this.db = null
      this.committer = null
      this.status = 'stopped'
      this.log.info({ revision: this.committedRevision }, 'manager store stopped')
    }
  }

  /** The open database; throws CLUSTERD_ERR_UNAVAILABLE unless started. */
  assertStarted (): StoreDb {
    if (this.status !== 'started' || this.db === null) {
      throw new ClusterdError('CLUSTERD_ERR_UNAVAILABLE', 'manager store is not started')
    }
    return this.db
  }

  /** Wait until everything staged so far is durable (no-op when stopped). */
  async barrier (): Promise<void> {
    await this.committer?.barrier()
  }

  /** Stage through the serial queue, then wait (outside it) until the write is durable. */
  async write<T> (stage: () => Staged<T> | Promise<Staged<T>>): Promise<T> {
    const refused = this.fence?.() ?? null
    if (refused !== null) throw refused
    const staged = await this.queue.run(stage)
    await staged.durable
    return staged.result
  }

  /** No write of our own, but answer only once earlier writes are durable. */
  noWrite<T> (result: T): Staged<T> {
    const durable = this.committerOrThrow().barrier()
    durable.catch(() => {}) // awaited by write()
    return { result, durable }
  }

  /** Stage a node entry and its new lifecycle events in one batch. */
  stageNode<T> (entry: NodeEntry, events: LifecycleEvent[], result: T): Staged<T> {
    const name = entry.record.name
    this.nodes.set(name, entry)
    const ops: BatchOp[] = [{ type: 'put', key: nodeKey(name), value: encodeNode(entry) }]
    for (const e of events) {
      const text = JSON.stringify(e)
      ops.push({ type: 'put', key: nodeEventKey(name, e.seq), value: text }, { type: 'put', key: eventKey(e.gseq), value: text })
    }
    const record = entry.record
    return this.stage(ops, () => {
      this.committedNodes.set(name, record)
      if (events.length > 0) this.onLifecycleEvents?.(events)
    }, result)
  }

  /** Add the revision (and global event seq) to `ops` and hand them to the committer. */
  stage<T> (ops: BatchOp[], onCommit: (() => void) | undefined, result: T, options: { replicate: boolean } = { replicate: true }): Staged<T> {
    const revision = ++this.stagedRevision
    ops.push({ type: 'put', key: META_KEYS.revision, value: String(revision) }, { type: 'put', key: META_KEYS.gseq, value: String(this.gseq) })
    let replicated: Promise<void> = Promise.resolve()
    const durable = this.committerOrThrow().add(ops, () => {
      onCommit?.()
      this.committedRevision = revision
      // Started here, in commit order, so the observer sees revisions strictly in sequence.
      if (this.afterCommit !== undefined && options.replicate) {
        replicated = this.notifyCommit({ revision, ops })
        // It may reject (a replaced manager) before `durable` below awaits it: never unhandled.
        replicated.catch(() => {})
      }
    }).then(async () => { await replicated })
    durable.catch(() => {}) // awaited by write(); this only keeps a failure from being reported as unhandled first
    return { result, durable }
  }

  private async notifyCommit (batch: ReplicationBatch): Promise<void> {
    try {
      await this.afterCommit?.(batch)
    } catch (err) {
      // Replaced manager: the write is durable here but must not be acknowledged.
      if (err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_MANAGER_CHANGED') throw err
      this.log.warn({ err, revision: batch.revision }, 'after-commit hook failed; the write stays durable here')
    }
  }

  private committerOrThrow (): Committer {
    if (this.committer === null) throw new ClusterdError('CLUSTERD_ERR_UNAVAILABLE', 'manager store is not started')
    return this.committer
  }

  /** Node names sorted; stale when the count moved (a forget also drops the cache). */
  sortedNames (): string[] {
    if (this.namesCache?.size !== this.committedNodes.size) {
      this.namesCache = { size: this.committedNodes.size, names: [...this.committedNodes.keys()].sort() }
    }
    return this.namesCache.names
  }

  /** Seq of the newest lifecycle event kept for `name` (0: none), from the database. */
  async lastNodeEventSeq (name: string): Promise<number> {
    const db = this.assertStarted()
    let seq = 0
    for await (const key of guardIterator(this.path, db.keys({ ...range(`${PREFIX.nodeEvent}!${name}`), reverse: true, limit: 1 }))) {
      seq = Number(key.slice(key.lastIndexOf('!') + 1))
    }
    return seq
  }

  /** Last event seq of a job, from memory or the database. Unknown jobs: 0, or JOB_NOT_FOUND when `mustExist`. */
  async knownJobSeq (id: string, mustExist = false): Promise<number> {
    const known = this.jobSeq.get(id)
    if (known !== undefined) return known
    const db = this.assertStarted()
    if (mustExist && await guardRead(this.path, db.get(jobKey(id)), jobKey(id)) === undefined) {
      throw new ClusterdError('CLUSTERD_ERR_JOB_NOT_FOUND', `job ${id} does not exist`)
    }
    let seq = 0
    for await (const key of guardIterator(this.path, db.keys({ ...range(`${PREFIX.jobEvent}!${id}`), reverse: true, limit: 1 }))) {
      seq = Number(key.slice(key.lastIndexOf('!') + 1))
    }
    this.jobSeq.set(id, seq)
    return seq
  }

  /** (Re)build both views from the database, validating everything restored. */
  async load (db: StoreDb): Promise<void> {
    const state = await loadState(db, this.path, { checkMarker: this.status === 'starting' })
    this.nodes = state.nodes
    this.committedNodes = new Map([...state.nodes].map(([name, e]) => [name, e.record]))
    this.namesCache = null
    this.committedConfig = state.config
    this.stagedRevision = this.committedRevision = state.revision
    this.gseq = state.gseq
    this.jobSeq.clear()
    this.forgottenSeq.clear()
    const inFlight = [...state.nodes.values()].filter(e => isTransitionalState(stateOf(e.snapshot))).length
    this.log.debug({ nodes: state.nodes.size, inFlight, revision: state.revision }, 'manager store state loaded')
  }
}

/** A deep copy: what the store hands out is never its own state. */
export function clone<T> (value: T): T {
  return structuredClone(value)
}
