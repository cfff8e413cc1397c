/** A one-at-a-time task runner: keeps the order in which writes were requested. */

/** Runs async tasks strictly one after another, in call order. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve()

  /** Run `task` after every task added before it; resolves with its result. */
  run <T> (task: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(task)
    // A failed task must not block the ones queued behind it.
    this.tail = result.catch(() => {})
    return result
  }

  /** Resolves once every task added so far has finished. */
  async idle (): Promise<void> {
    await this.run(() => {})
  }
}
