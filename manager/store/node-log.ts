/**
 * The manager's write path for node records: lifecycle transitions through the pure node
 * machine, what membership reports (discovery, reachability, returns, name conflicts), notes,
 * and the reads of records and lifecycle events. Part of the manager store (manager-store.ts).
 */
import { isTransitionalState, type LifecycleEvent, type NodeRecord } from '../../protocol/nodes.js'
import { decide, type NodeMachineEvent, type NodeMachineEventType } from '../lifecycle/node-machine.js'
import { judgeClaim } from '../lifecycle/name-binding.js'
import { DEFAULT_LIST_LIMIT, PREFIX } from './constants.js'
import { assertName, range, rangeAfter } from './keys.js'
import { noteEvent, transitionEvent } from './lifecycle-events.js'
import { buildRecord } from './node-entry.js'
import { readValues } from './restore.js'
import { clone, type Staged, type StoreCore } from './store-core.js'
import type { DiscoveredNode, InFlightNode, ListEventsOptions, NodeCommand, NodeNote, TransitionMeta, TransitionResult, UpsertResult } from './types.js'

/** Node records and their lifecycle log, on the shared core. */
export class NodeLog {
  constructor (private readonly core: StoreCore) {}

  /** See ManagerStore.applyTransition. */
  async applyTransition (node: string, command: NodeCommand, meta: TransitionMeta): Promise<TransitionResult> {
    this.core.assertStarted()
    return await this.core.write(() => this.stageTransition(node, command, meta))
  }

  /** See ManagerStore.preview. */
  async preview (node: string, command: NodeCommand): Promise<TransitionResult> {
    const core = this.core
    core.assertStarted()
    return await core.queue.run(() => {
      const entry = core.nodes.get(node)
      if (entry === undefined) return notFound(node, command.type)
      const decision = decide(entry.snapshot, { ...command, at: core.now().toISOString() } as NodeMachineEvent)
      if (!decision.ok) return decision
      if (!decision.changed) return { ok: true, changed: false, record: clone(entry.record), ignored: decision.ignored }
      const record = buildRecord(entry.record, decision.snapshot, entry.record.updatedAt)
      return { ok: true, changed: true, record, event: transitionEvent(node, entry.lastSeq + 1, core.gseq + 1, command, decision.from, decision.to, record.since, { actor: 'preview' }, core.epoch) }
    })
  }

  /** See ManagerStore.upsertNode. */
  async upsertNode (node: DiscoveredNode, meta: TransitionMeta): Promise<UpsertResult> {
    const core = this.core
    core.assertStarted()
    assertName(node.name, 'node name')
    return await core.write<UpsertResult>(async () => {
      const at = core.now().toISOString()
      const entry = core.nodes.get(node.name)
      const claim = judgeClaim(entry?.record, node, at)
      if (entry !== undefined && claim.kind !== 'bound') {
        if (claim.kind !== 'conflict') return core.noWrite({ record: clone(entry.record), created: false, event: null, conflict: true })
        const record: NodeRecord = { ...entry.record, nameConflicts: claim.conflicts, updatedAt: at }
        const event = noteEvent(entry, { type: 'name-conflict', actor: meta.actor, peerId: node.peerId, reason: `peer ${node.peerId} claims the name, which is bound to peer ${entry.record.peerId}: refused` }, at, ++core.gseq, core.epoch)
        return core.stageNode({ ...entry, record, lastSeq: event.seq }, [event], { record: clone(record), created: false, event, conflict: true })
      }
      if (entry !== undefined) {
        const boot = node.boot === undefined ? entry.record.boot : node.boot
        const agentVersion = node.agentVersion ?? entry.record.agentVersion ?? null
        if (entry.record.reachable === node.reachable && JSON.stringify(entry.record.boot) === JSON.stringify(boot) &&
          (entry.record.agentVersion ?? null) === agentVersion && node.returned === undefined) {
          return core.noWrite({ record: clone(entry.record), created: false, event: null, conflict: false })
        }
        const record: NodeRecord = { ...entry.record, reachable: node.reachable, boot, agentVersion, updatedAt: at }
        // A return is recorded in the same batch as the reachability that shows it.
        const event = node.returned === undefined ? null : noteEvent(entry, { type: 'returned', reason: node.returned, actor: meta.actor }, at, ++core.gseq, core.epoch)
        return core.stageNode({ ...entry, record, lastSeq: event?.seq ?? entry.lastSeq }, event === null ? [] : [event], { record: clone(record), created: false, event, conflict: false })
      }
      const decision = decide(null, { type: 'DISCOVERED', at })
      if (!decision.ok || !decision.changed) throw new Error(`node machine refused DISCOVERED for a new node: ${JSON.stringify(decision)}`)
      const record = buildRecord({ name: node.name, peerId: node.peerId, reachable: node.reachable, discoveredAt: at, boot: node.boot ?? null, agentVersion: node.agentVersion ?? null }, decision.snapshot, at)
      // A forgotten name's history stays: the new record's events continue its sequence.
      const seq = (core.forgottenSeq.get(node.name) ?? await core.lastNodeEventSeq(node.name)) + 1
      core.forgottenSeq.delete(node.name)
      const event = transitionEvent(node.name, seq, ++core.gseq, { type: 'DISCOVERED' }, null, decision.to, at, meta, core.epoch)
      return core.stageNode({ record, snapshot: decision.snapshot, lastSeq: seq }, [event], { record: clone(record), created: true, event, conflict: false })
    })
  }

  /** See ManagerStore.noteNode. */
  async noteNode (name: string, note: NodeNote): Promise<NodeRecord | undefined> {
    const core = this.core
    core.assertStarted()
    return await core.write<NodeRecord | undefined>(() => {
      const entry = core.nodes.get(name)
      if (entry === undefined) return core.noWrite(undefined)
      const at = core.now().toISOString()
      const event = noteEvent(entry, note, at, ++core.gseq, core.epoch)
      const record: NodeRecord = {
        ...entry.record,
        ...(note.drift !== undefined ? { drift: note.drift } : {}),
        ...(note.cordoned !== undefined ? { cordoned: note.cordoned } : {}),
        ...(note.labels !== undefined ? { labels: { ...note.labels } } : {}),
        ...note.applied,
        updatedAt: at
      }
      return core.stageNode({ ...entry, record, lastSeq: event.seq }, [event], clone(record))
    })
  }

  /** See ManagerStore.setReachable. */
  async setReachable (name: string, reachable: boolean): Promise<NodeRecord | undefined> {
    const core = this.core
    core.assertStarted()
    return await core.write<NodeRecord | undefined>(() => {
      const entry = core.nodes.get(name)
      if (entry === undefined) return core.noWrite(undefined)
      if (entry.record.reachable === reachable) return core.noWrite(clone(entry.record))
      const record: NodeRecord = { ...entry.record, reachable, updatedAt: core.now().toISOString() }
      return core.stageNode({ ...entry, record }, [], clone(record))
    })
  }

  /** See ManagerStore.getNode. */
  async getNode (name: string): Promise<NodeRecord | undefined> {
    this.core.assertStarted()
    const record = this.core.committedNodes.get(name)
    return record === undefined ? undefined : clone(record)
  }

  /** See ManagerStore.listNodes. */
  async listNodes (): Promise<NodeRecord[]> {
    this.core.assertStarted()
    return [...this.core.committedNodes.values()].sort((a, b) => a.name < b.name ? -1 : 1).map(clone)
  }

  /** See ManagerStore.pageNodes. */
  async pageNodes (options: { after?: string, limit: number }): Promise<{ items: NodeRecord[], next: string | null }> {
    this.core.assertStarted()
    const after = options.after ?? ''
    const names = this.core.sortedNames()
    let lo = 0
    let hi = names.length
    while (lo < hi) { const mid = (lo + hi) >>> 1; if ((names[mid] as string) <= after) lo = mid + 1; else hi = mid }
    const page = names.slice(lo, lo + options.limit)
    const items = page.map(n => clone(this.core.committedNodes.get(n) as NodeRecord))
    return { items, next: lo + page.length < names.length && page.length > 0 ? page.at(-1) as string : null }
  }

  /** See ManagerStore.listInFlight. */
  async listInFlight (): Promise<InFlightNode[]> {
    const out: InFlightNode[] = []
    for (const record of await this.listNodes()) {
      if (isTransitionalState(record.state)) out.push({ node: record.name, state: record.state, jobId: record.currentJob, since: record.since })
    }
    return out
  }

  /** See ManagerStore.listEvents. */
  async listEvents (options: ListEventsOptions): Promise<LifecycleEvent[]> {
    const db = this.core.assertStarted()
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    const prefix = options.node === undefined ? PREFIX.event : `${PREFIX.nodeEvent}!${options.node}`
    if (options.node !== undefined) assertName(options.node, 'node name')
    const bounds = options.afterSeq === undefined
      ? { ...range(prefix), limit, reverse: true }
      : { ...rangeAfter(prefix, options.afterSeq), limit }
    const events = (await readValues(this.core.path, db, bounds)) as LifecycleEvent[]
    return options.afterSeq === undefined ? events.reverse() : events
  }

  private stageTransition (node: string, command: NodeCommand, meta: TransitionMeta): Staged<TransitionResult> {
    const core = this.core
    const entry = core.nodes.get(node)
    if (entry === undefined) return core.noWrite(notFound(node, command.type))
    const at = core.now().toISOString()
    const decision = decide(entry.snapshot, { ...command, at } as NodeMachineEvent)
    if (!decision.ok) return core.noWrite(decision)
    if (!decision.changed) return core.noWrite({ ok: true, changed: false, record: clone(entry.record), ignored: decision.ignored })
    const record = buildRecord({ ...entry.record, ...meta.applied }, decision.snapshot, at)
    const event = transitionEvent(node, entry.lastSeq + 1, ++core.gseq, command, decision.from, decision.to, at, meta, core.epoch)
    return core.stageNode({ record, snapshot: decision.snapshot, lastSeq: event.seq }, [event], { ok: true, changed: true, record: clone(record), event })
  }
}

function notFound (node: string, type: NodeMachineEventType): TransitionResult {
  return { ok: false, code: 'CLUSTERD_ERR_NODE_NOT_FOUND', message: `no node named ${node} is known to the manager`, from: null, event: type }
}
