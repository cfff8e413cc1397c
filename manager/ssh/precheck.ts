/**
 * Precheck before commissioning: can the manager reach the node with the pinned key, is it
 * root there, and is the interpreter Ansible is pinned to present. Each answer is a value.
 */
import { DEFAULT_PYTHON_PATH, PRECHECK_COMMAND_TIMEOUT_MS } from './constants.js'
import type { SshConnector, SshTarget } from './remote-shell.js'

/** What precheck needs: node-ssh's SshConnector or the certificate-based OpenSshConnector. */
export type Connector = Pick<SshConnector, 'connect'>

/** Why a precheck failed. */
export type PrecheckFailure = 'unreachable' | 'host-key-mismatch' | 'auth-failed' | 'not-root' | 'no-python'

/** Outcome of {@link precheck}. */
export type PrecheckResult = { ok: true } | { ok: false, reason: PrecheckFailure, message: string }

/** Options of {@link precheck}. */
export interface PrecheckOptions {
  signal?: AbortSignal
  /** Interpreter that must be executable; defaults to /usr/bin/python3. */
  pythonPath?: string
}

/** Connects with the pinned key and checks `id -u` is 0 and the interpreter is executable. */
export async function precheck (connector: Connector, target: SshTarget, options: PrecheckOptions = {}): Promise<PrecheckResult> {
  const connected = await connector.connect(target, { signal: options.signal })
  if (!connected.ok) return connected
  const shell = connected.shell
  try {
    const opts = { timeoutMs: PRECHECK_COMMAND_TIMEOUT_MS, ...(options.signal !== undefined ? { signal: options.signal } : {}) }
    const id = await shell.exec(['id', '-u'], opts)
    if (id.cancelled) return { ok: false, reason: 'unreachable', message: 'precheck cancelled or timed out running id -u' }
    if (id.code !== 0 || id.stdout.trim() !== '0') {
      return { ok: false, reason: 'not-root', message: `remote user is not root (id -u printed ${JSON.stringify(id.stdout.trim())}, exit ${String(id.code)})` }
    }
    const python = options.pythonPath ?? DEFAULT_PYTHON_PATH
    const py = await shell.exec(['test', '-x', python], opts)
    if (py.cancelled) return { ok: false, reason: 'unreachable', message: `precheck cancelled or timed out testing ${python}` }
    if (py.code !== 0) return { ok: false, reason: 'no-python', message: `${python} is not an executable file on the node` }
    return { ok: true }
  } finally {
    await shell.close()
  }
}
