/**
 * Name binding, the operator's side: move a node's name to another peer (a reinstalled
 * machine) or forget the record. Which peer may claim a name is decided by the pure
 * manager/lifecycle/name-binding.ts; this writes the outcome. Part of the manager store
 * (manager-store.ts).
 */
import { ClusterdError } from '../../protocol/errors.js'
import { isTransitionalState, type NodeRecord } from '../../protocol/nodes.js'
import { conflictsAfterRebind } from '../lifecycle/name-binding.js'
import type { BatchOp } from './committer.js'
import { assertName, eventKey, nodeEventKey, nodeKey } from './keys.js'
import { noteEvent } from './lifecycle-events.js'
import type { NodeEntry } from './node-entry.js'
import { clone, type StoreCore } from './store-core.js'
import type { BindingResult, RebindCommand, TransitionMeta } from './types.js'

/** Rebind and forget, on the shared core. */
export class NodeBindings {
  constructor (private readonly core: StoreCore) {}

  /** See ManagerStore.rebindNode. */
  async rebindNode (name: string, cmd: RebindCommand): Promise<BindingResult> {
    const core = this.core
    core.assertStarted()
    assertName(name, 'node name')
    return await core.write<BindingResult>(() => {
      const entry = this.bindableEntry(name, 'move its name')
      const at = core.now().toISOString()
      const from = entry.record.peerId
      const reason = cmd.reason ?? (from === cmd.peerId ? `binding to peer ${from} kept; recorded conflicts cleared` : `name moved from peer ${from} to peer ${cmd.peerId}`)
      const event = noteEvent(entry, { type: 'rebound', actor: cmd.actor, peerId: cmd.peerId, previousPeerId: from, reason }, at, ++core.gseq, core.epoch)
      const record: NodeRecord = { ...entry.record, peerId: cmd.peerId, reachable: cmd.reachable, nameConflicts: conflictsAfterRebind(entry.record.nameConflicts, from, cmd.peerId), updatedAt: at }
      return core.stageNode({ ...entry, record, lastSeq: event.seq }, [event], { record: clone(record), event })
    })
  }

  /** See ManagerStore.forgetNode. */
  async forgetNode (name: string, meta: TransitionMeta): Promise<BindingResult> {
    const core = this.core
    core.assertStarted()
    assertName(name, 'node name')
    return await core.write<BindingResult>(() => {
      const entry = this.bindableEntry(name, 'forget it')
      const at = core.now().toISOString()
      const event = noteEvent(entry, { type: 'forgotten', actor: meta.actor, peerId: entry.record.peerId, reason: meta.reason ?? `record removed (was ${entry.record.state}, bound to peer ${entry.record.peerId})` }, at, ++core.gseq, core.epoch)
      core.nodes.delete(name)
      core.forgottenSeq.set(name, event.seq)
      const text = JSON.stringify(event)
      const ops: BatchOp[] = [{ type: 'del', key: nodeKey(name) }, { type: 'put', key: nodeEventKey(name, event.seq), value: text }, { type: 'put', key: eventKey(event.gseq), value: text }]
      return core.stage(ops, () => { core.committedNodes.delete(name); core.namesCache = null }, { record: clone(entry.record), event })
    })
  }

  /** The entry of a node an operator changes the binding of; throws when unknown or in a lifecycle job. */
  private bindableEntry (name: string, what: string): NodeEntry {
    const entry = this.core.nodes.get(name)
    if (entry === undefined) throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node named ${name} is known to the manager`)
    if (isTransitionalState(entry.record.state)) {
      throw new ClusterdError('CLUSTERD_ERR_NODE_BUSY', `node ${name} is ${entry.record.state} (job ${entry.record.currentJob ?? '?'}); wait for it or cancel it to ${what}`)
    }
    return entry
  }
}
