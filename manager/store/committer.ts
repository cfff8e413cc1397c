/**
 * Group commit: writes staged in order are flushed as one synced LevelDB batch per group.
 *
 * Each write is acknowledged only after its batch is on disk (`sync: true`), so nothing
 * acknowledged is lost on power failure. While one batch is being synced, later writes
 * gather into the next group; one fsync then covers many writes, which is what makes
 * thousands of durable transitions per second possible. Groups flush strictly in order.
 */

/** One LevelDB batch operation on string keys and values. */
export type BatchOp = { type: 'put', key: string, value: string } | { type: 'del', key: string }

/** Writes one batch atomically and durably. */
export type BatchWriter = (ops: BatchOp[]) => Promise<void>

interface Deferred {
  promise: Promise<void>
  resolve: () => void
  reject: (err: Error) => void
}

interface Group {
  ops: BatchOp[]
  onCommit: Array<() => void>
  done: Deferred
}

function deferred (): Deferred {
  let resolve!: () => void
  let reject!: (err: Error) => void
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

/** Collects staged writes into groups and flushes them one synced batch at a time. */
export class Committer {
  private readonly write: BatchWriter
  private open: Group | null = null
  private flushing: Promise<void> | null = null
  private failure: Error | null = null

  constructor (write: BatchWriter) {
    this.write = write
  }

  /** The error that broke the committer, if a batch failed; every later write is refused. */
  get broken (): Error | null {
    return this.failure
  }

  /**
   * Stage `ops` (applied atomically, after everything staged before). `onCommit` runs once
   * they are durable, before the returned promise resolves.
   */
  add (ops: BatchOp[], onCommit?: () => void): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure)
    if (this.open === null) {
      this.open = { ops: [], onCommit: [], done: deferred() }
    }
    const group = this.open
    group.ops.push(...ops)
    if (onCommit !== undefined) group.onCommit.push(onCommit)
    this.flushing ??= this.flushLoop()
    return group.done.promise
  }

  /** Resolves when everything staged so far is durable (or rejects if a batch failed). */
  async barrier (): Promise<void> {
    if (this.failure !== null) throw this.failure
    const pending = this.open?.done.promise
    await this.flushing
    await pending
  }

  private async flushLoop (): Promise<void> {
    // Let writes staged in the same tick join the first group.
    await Promise.resolve()
    while (this.open !== null) {
      const group = this.open
      this.open = null
      try {
        await this.write(group.ops)
      } catch (err: any) {
        // The in-memory view is now ahead of the disk; refuse everything from here on so
        // nobody acts on state that was never stored. A restart reloads the truth.
        this.failure = err instanceof Error ? err : new Error(String(err))
        group.done.reject(this.failure)
        const next = this.open as Group | null
        next?.done.reject(this.failure)
        this.open = null
        break
      }
      for (const fn of group.onCommit) fn()
      group.done.resolve()
    }
    this.flushing = null
  }
}
