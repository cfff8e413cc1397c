/**
 * The rules that bind a node name to a peer (pure). A name belongs to the peer first
 * discovered with it; another peer that claims it (any member holding the cluster secret can
 * start with `--node-name db1`) is refused and recorded as a conflict, never targeted, until
 * an operator rebinds the name to another peer (a reinstalled machine) or forgets the record.
 * See docs/architecture.md, "Name bindings".
 */

import type { ErrorCode } from '../../protocol/errors.js'
import type { Member, MemberStatus } from '../../protocol/members.js'
import { MAX_NAME_CONFLICTS, type NameConflict, type NodeRecord } from '../../protocol/nodes.js'

/** What a member's claim on a node name means for the node's record. */
export type ClaimDecision =
  /** No record of the name: it is bound to this peer (a new `discovered` node). */
  | { kind: 'new' }
  /** The peer the name is bound to: an ordinary membership update. */
  | { kind: 'bound' }
  /** Another peer's claim, not recorded yet: record it (`name-conflict` event) with these conflicts. */
  | { kind: 'conflict', conflicts: NameConflict[] }
  /** Another peer's claim that adds nothing: already recorded, not reachable, or the list is full. */
  | { kind: 'refused', why: 'recorded' | 'unreachable' | 'full' }

/** The part of a node record the binding rules read. */
export type BindingRecord = Pick<NodeRecord, 'peerId' | 'nameConflicts'>

/** True when membership says the member can be reached now. */
function reachable (status: MemberStatus): boolean {
  return status === 'alive' || status === 'suspect'
}

/**
 * Judge a member's claim on the name of `record` (undefined: no record of that name). Only a
 * reachable claimant is recorded: a failed or departed impostor is no news, and relays of
 * stale records must not refill a list an operator just cleared.
 */
export function judgeClaim (record: BindingRecord | undefined, claim: { peerId: string, reachable: boolean }, at: string, max = MAX_NAME_CONFLICTS): ClaimDecision {
  if (record === undefined) return { kind: 'new' }
  if (record.peerId === claim.peerId) return { kind: 'bound' }
  if (record.nameConflicts.some(c => c.peerId === claim.peerId)) return { kind: 'refused', why: 'recorded' }
  if (!claim.reachable) return { kind: 'refused', why: 'unreachable' }
  if (record.nameConflicts.length >= max) return { kind: 'refused', why: 'full' }
  return { kind: 'conflict', conflicts: [...record.nameConflicts, { peerId: claim.peerId, since: at }] }
}

/** Why an operator's rebind or forget is refused: a registered error code and a message. */
export interface BindingRefusal {
  ok: false
  code: ErrorCode
  message: string
}

/**
 * May `record`'s name move to `peerId`? `claimant` is the member with that peer id in the
 * manager's view (undefined when there is none); `job` the job the node is in, if any.
 * Rebinding to the bound peer itself is allowed: it keeps the binding and clears the
 * recorded conflicts (the operator has looked at them).
 */
export function checkRebind (record: NodeRecord, peerId: string, claimant: Member | undefined, job: string | null): { ok: true, same: boolean } | BindingRefusal {
  if (job !== null) return { ok: false, code: 'CLUSTERD_ERR_NODE_BUSY', message: `node ${record.name} is in job ${job}; wait for it or cancel it before moving its name` }
  if (peerId === record.peerId) return { ok: true, same: true }
  if (claimant === undefined) {
    return { ok: false, code: 'CLUSTERD_ERR_PEER_NOT_CLAIMING', message: `no member with peer id ${peerId} is known to the manager; start the new machine's agent with --node-name ${record.name} first` }
  }
  if (claimant.name !== record.name) {
    return { ok: false, code: 'CLUSTERD_ERR_PEER_NOT_CLAIMING', message: `peer ${peerId} is member ${claimant.name}, not ${record.name}; its agent must run with --node-name ${record.name}` }
  }
  if (!reachable(claimant.status)) {
    return { ok: false, code: 'CLUSTERD_ERR_PEER_NOT_CLAIMING', message: `peer ${peerId} claiming ${record.name} is ${claimant.status}; a name moves only to a live member` }
  }
  return { ok: true, same: false }
}

/** The conflicts a record keeps after its name moved from `from` to `to` (the same peer: none). */
export function conflictsAfterRebind (conflicts: readonly NameConflict[], from: string, to: string): NameConflict[] {
  if (from === to) return []
  return conflicts.filter(c => c.peerId !== to)
}

/**
 * May `record` be forgotten? `bound` is the member with the record's peer id (undefined when
 * membership does not show it). A node in a job is always refused (cancel the job first);
 * one whose bound peer is reachable only without `force`: forget is for a machine that is gone.
 */
export function checkForget (record: NodeRecord, bound: Member | undefined, job: string | null, force: boolean): { ok: true } | BindingRefusal {
  if (job !== null) return { ok: false, code: 'CLUSTERD_ERR_NODE_BUSY', message: `node ${record.name} is in job ${job}; wait for it or cancel it before forgetting the node` }
  if (!force && bound !== undefined && reachable(bound.status)) {
    return { ok: false, code: 'CLUSTERD_ERR_NODE_REACHABLE', message: `node ${record.name} is reachable (its peer ${record.peerId} is ${bound.status}); stop or decommission it first, or pass --force (a running agent with that name is then discovered again as a new node)` }
  }
  return { ok: true }
}

