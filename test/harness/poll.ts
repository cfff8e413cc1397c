/**
 * Polling with a deadline: how tests wait for state instead of sleeping.
 */
import { inspect } from 'node:util'

/** Options of `waitFor`. */
export interface WaitForOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number
  /** Pause between attempts (default 50 ms). */
  intervalMs?: number
  /**
   * What was awaited, for the timeout error. A function is called at the deadline: use one when
   * the message shows state (a process's output, its exit code), which a string would capture
   * when the wait began. (A string built from an agent's output at the start of the wait showed
   * an agent that "printed nothing" in CI: it had not printed anything yet when the wait began.)
   */
  message?: string | (() => string)
  /** Stops waiting early (rejects with the signal's reason). */
  signal?: AbortSignal
}

/** Thrown by `waitFor` at its deadline; carries the last value and the last error of `fn`. */
export class WaitForTimeoutError extends Error {
  /** The last value `fn` returned (undefined if it only threw). */
  readonly lastValue: unknown
  /** The last error `fn` threw, if any. */
  readonly lastError: unknown

  constructor (message: string, lastValue: unknown, lastError: unknown) {
    super(message)
    this.name = 'WaitForTimeoutError'
    this.lastValue = lastValue
    this.lastError = lastError
  }
}

/** A value `waitFor` accepts as "done": anything but false, null and undefined. */
export type Ready<T> = Exclude<T, false | null | undefined>

/**
 * Calls `fn` until it returns something other than false/null/undefined and resolves with that
 * value. A throw from `fn` counts as "not yet". The last attempt runs at the deadline; after it,
 * rejects with a `WaitForTimeoutError` naming `message` and the last value (or error).
 */
export async function waitFor<T> (fn: () => T | Promise<T>, opts: WaitForOptions = {}): Promise<Ready<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000
  const intervalMs = opts.intervalMs ?? 50
  const deadline = Date.now() + timeoutMs
  let lastValue: unknown
  let lastError: unknown
  let attempts = 0
  for (;;) {
    opts.signal?.throwIfAborted()
    attempts++
    try {
      const value = await fn()
      if (value !== false && value != null) return value as Ready<T>
      lastValue = value
      lastError = undefined
    } catch (err) {
      lastError = err
    }
    const left = deadline - Date.now()
    if (left <= 0) break
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer)
        reject(opts.signal?.reason)
      }
      const timer = setTimeout(() => {
        opts.signal?.removeEventListener('abort', onAbort)
        resolve()
      }, Math.min(intervalMs, left))
      opts.signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
  const what = (typeof opts.message === 'function' ? opts.message() : opts.message) ?? 'condition'
  const last = lastError === undefined
    ? `last value: ${inspect(lastValue, { depth: 3, breakLength: Infinity })}`
    : `last error: ${lastError instanceof Error ? lastError.message : inspect(lastError)}`
  throw new WaitForTimeoutError(`timed out after ${timeoutMs} ms (${attempts} attempts) waiting for ${what}; ${last}`, lastValue, lastError)
}
