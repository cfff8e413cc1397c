/**
 * Tears live host sets down when the process is interrupted (SIGINT/SIGTERM/SIGHUP) or exits
 * without calling destroy (a failed test, process.exit). Installed only while a set is live.
 * SIGKILL cannot be caught: the next create's sweep handles that case.
 */
import { SIGNAL_TEARDOWN_TIMEOUT_MS } from './constants.js'

/** Something the hooks can tear down. */
export interface Destroyable {
  destroy: () => Promise<void>
  destroySync: () => void
}

const live = new Set<Destroyable>()
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
let installed = false
let tearingDown = false

function onExit (): void {
  for (const d of [...live]) {
    try {
      d.destroySync()
    } catch {
      // keep going: the other sets still need it
    }
  }
}

function onSignal (signal: NodeJS.Signals): void {
  // A second Ctrl-C while tearing down must not kill us half way (that is what leaves
  // namespaces behind); it is absorbed by this still-installed listener.
  if (tearingDown) return
  tearingDown = true
  const reRaise = (): void => {
    uninstall()
    // Re-raise with the default action only if nobody else handles the signal, so the exit
    // status still says "killed by SIGINT"; other listeners already saw this delivery.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
  }
  const timer = setTimeout(() => {
    onExit()
    reRaise()
  }, SIGNAL_TEARDOWN_TIMEOUT_MS)
  void Promise.allSettled([...live].map(async d => { await d.destroy() })).then(() => {
    clearTimeout(timer)
    reRaise()
  })
}

function install (): void {
  if (installed) return
  installed = true
  process.on('exit', onExit)
  for (const s of SIGNALS) process.on(s, onSignal)
}

function uninstall (): void {
  if (!installed) return
  installed = false
  process.off('exit', onExit)
  for (const s of SIGNALS) process.off(s, onSignal)
}

/** Registers a live set for teardown on signal/exit. */
export function track (d: Destroyable): void {
  live.add(d)
  install()
}

/** Unregisters a set (it was destroyed); the hooks go away with the last one. */
export function untrack (d: Destroyable): void {
  live.delete(d)
  if (live.size === 0 && !tearingDown) uninstall()
}
