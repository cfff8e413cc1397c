/**
 * The lifecycle events the store appends to a node's log: one per machine transition, and
 * notes that record something without one (a return, a maintenance outcome, a name binding).
 * Pure: the caller assigns the sequence numbers.
 */
import type { LifecycleEvent, LifecycleEventType, LifecycleState } from '../../protocol/nodes.js'
import { stateOf, type NodeMachineEventType } from '../lifecycle/node-machine.js'
import type { NodeEntry } from './node-entry.js'
import type { NodeNote, TransitionMeta } from './types.js'

const EVENT_TYPES: Record<NodeMachineEventType, LifecycleEventType> = {
  DISCOVERED: 'discovered',
  COMMISSION: 'commission-requested',
  DECOMMISSION: 'decommission-requested',
  UPGRADE: 'upgrade-requested',
  JOB_SUCCEEDED: 'job-succeeded',
  JOB_FAILED: 'job-failed',
  JOB_CANCELLED: 'job-cancelled',
  SET_VARS: 'vars-set',
  MARK_BROKEN: 'marked-broken',
  MARK_FIXED: 'marked-fixed',
  SET_ROLES: 'roles-set'
}

/** A lifecycle event that records something without a transition (from = to = current state). */
export function noteEvent (entry: NodeEntry, note: NodeNote, at: string, gseq: number, epoch: number | undefined): LifecycleEvent {
  const state = stateOf(entry.snapshot)
  const event: LifecycleEvent = {
    seq: entry.lastSeq + 1,
    gseq,
    node: entry.record.name,
    at,
    type: note.type,
    from: state,
    to: state,
    reason: note.reason ?? null,
    jobId: note.jobId ?? null,
    actor: note.actor
  }
  if (note.drift != null) event.drift = structuredClone(note.drift)
  if (epoch !== undefined) event.epoch = epoch
  if (note.peerId !== undefined) event.peerId = note.peerId
  if (note.previousPeerId !== undefined) event.previousPeerId = note.previousPeerId
  if (note.labels !== undefined) event.labels = { ...note.labels }
  return event
}

/** The lifecycle event of a machine transition of `node` by `command`. */
export function transitionEvent (
  node: string, seq: number, gseq: number, command: { type: NodeMachineEventType }, from: LifecycleState | null, to: LifecycleState,
  at: string, meta: TransitionMeta, epoch: number | undefined
): LifecycleEvent {
  const c = command as Partial<{ jobId: string, reason: string, roles: string[], vars: Record<string, string> }>
  const event: LifecycleEvent = {
    seq,
    gseq,
    node,
    at,
    type: EVENT_TYPES[command.type],
    from,
    to,
    reason: meta.reason ?? c.reason ?? null,
    jobId: c.jobId ?? null,
    actor: meta.actor
  }
  if (c.roles !== undefined) event.roles = [...c.roles]
  if (c.vars !== undefined) event.vars = { ...c.vars }
  if (epoch !== undefined) event.epoch = epoch
  return event
}
