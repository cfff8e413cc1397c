/**
 * `clusterd store recover [--data-dir D] [--accept-empty]`: the operator's side of store
 * recovery (store-recovery.ts), run while the agent is stopped. A store that fails to open as
 * damaged is moved aside and marked as awaiting a snapshot; the agent, once started, takes one
 * from the manager (the state of the replicas) and refuses the manager role until then. With
 * `--accept-empty`, a node that has no replica to recover from drops the marker and starts with
 * an empty store: an explicit acceptance of the loss, never a default.
 */

import type { Logger } from 'pino'
import { ManagerStore } from '../../manager/store/index.js'
import { ClusterdError } from '../../protocol/errors.js'
import { StoreRecovery } from './store-recovery.js'

/** What `clusterd store recover` found and did, as lines for the operator. */
export async function recoverStore (logger: Logger, opts: { dataDir: string, acceptEmpty: boolean }): Promise<string[]> {
  const recovery = new StoreRecovery({ logger }, { dataDir: opts.dataDir })
  await recovery.load()
  const store = new ManagerStore({ logger }, { path: recovery.storePath })
  let revision = 0
  try {
    await store.start()
    revision = store.revision
    await store.stop()
  } catch (err) {
    if (!(err instanceof ClusterdError)) throw err
    if (err.code === 'CLUSTERD_ERR_STORE_UNAVAILABLE') {
      throw new ClusterdError('CLUSTERD_ERR_STORE_UNAVAILABLE', `${err.message}; stop the agent on this node first (systemctl stop clusterd, or ./bootstrap.sh stop)`, err.details)
    }
    if (err.code !== 'CLUSTERD_ERR_STORE_CORRUPT') throw err
    await recovery.moveAside(err.message)
  }
  const state = recovery.state
  if (state === null) return [`manager store ${recovery.storePath} is healthy (revision ${revision}); nothing to recover`]
  const where = state.damaged === null ? '' : ` (the damaged store is kept at ${state.damaged})`
  if (opts.acceptEmpty) {
    if (revision > 0) {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `the store awaiting a snapshot is not empty (revision ${revision}); refusing --accept-empty`)
    }
    await recovery.clear('the operator accepted an empty store (clusterd store recover --accept-empty)')
    return [
      `manager store ${recovery.storePath} is now empty and no longer awaits a snapshot${where}.`,
      'Everything the damaged store held and no replica had is lost. Start the agent: it may become manager with an empty state.'
    ]
  }
  return [
    `manager store ${recovery.storePath} awaits a snapshot from a replica${where}: ${state.reason}`,
    'Start the agent: it takes a snapshot from the elected manager and refuses the manager role until then (GET /v1/replica shows awaitingSnapshot).',
    'If no other manager-eligible node holds a replica (a lone node), rerun with --accept-empty to start with an empty store, accepting the loss.'
  ]
}
