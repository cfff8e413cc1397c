/**
 * The node lifecycle state machine and its pure decision helper.
 *
 * This file is pure: it imports xstate and protocol types only. It performs no I/O and
 * reads no clock: every event carries its own `at` time, so the same snapshot and event
 * always give the same next snapshot (tests and replicas replay it exactly). Jobs are run
 * elsewhere (the job runner) and report back with JOB_* events; the machine only records
 * which job is in flight and what came of it.
 *
 * Transition table (anything not listed is refused with CLUSTERD_ERR_INVALID_TRANSITION;
 * JOB_* events whose jobId is not the node's current job are ignored, never refused):
 *
 * | from                  | COMMISSION    | UPGRADE   | DECOMMISSION    | JOB_SUCCEEDED  | JOB_FAILED / JOB_CANCELLED | MARK_BROKEN | MARK_FIXED  |
 * |-----------------------|---------------|-----------|-----------------|----------------|----------------------------|-------------|-------------|
 * | (no record)           | DISCOVERED creates the record in `discovered`; every other event is refused                            |
 * | discovered            | commissioning | -         | -               | ignored        | ignored                    | broken      | -           |
 * | commissioning         | -             | -         | -               | commissioned   | commission-failed          | -           | -           |
 * | commissioned          | -             | upgrading | decommissioning | ignored        | ignored                    | broken      | -           |
 * | upgrading             | -             | -         | -               | commissioned   | upgrade-failed             | -           | -           |
 * | decommissioning       | -             | -         | -               | decommissioned | decommission-failed        | -           | -           |
 * | decommissioned        | commissioning | -         | -               | ignored        | ignored                    | broken      | -           |
 * | commission-failed     | commissioning | -         | decommissioning | ignored        | ignored                    | broken      | -           |
 * | upgrade-failed        | -             | upgrading | decommissioning | ignored        | ignored                    | broken      | -           |
 * | decommission-failed   | -             | -         | decommissioning | ignored        | ignored                    | broken      | -           |
 * | broken                | -             | -         | -               | ignored        | ignored                    | -           | (the state it left) |
 *
 * Why these choices:
 * - A transitional state refuses every operation: one job per node at a time. To change
 *   course, cancel the job (JOB_CANCELLED lands in the failed state), then act.
 * - A cancelled job lands in the same failed state as a failed one: the playbook may have
 *   run halfway, so the node is in an unknown configuration, and `reason` says it was a
 *   cancel.
 * - `commissioned` refuses COMMISSION: changing roles or vars of a live node is a
 *   `reconfigure` job, not a second commission. `decommissioned` accepts COMMISSION to put
 *   a node back into service. `discovered` refuses DECOMMISSION: nothing was configured.
 * - Failed states are left only by issuing an operation again: the failed one (retry) or
 *   DECOMMISSION (give up and clean up). COMMISSION is not accepted from upgrade-failed or
 *   decommission-failed, whose nodes carry a configuration the commission playbook did
 *   not make.
 * - DISCOVERED on a known node is refused: re-discovery (new peerId, reachability) is not
 *   a lifecycle change and is handled by the store without the machine.
 * - SET_VARS is accepted in every state and changes no state: vars are desired config for
 *   the next job; a running job keeps the vars it was started with.
 * - `broken` (MAAS's mark broken) takes a node out of service without decommissioning it:
 *   no job is accepted (every job command is refused), so `--all`, selectors and on-return
 *   leave it alone. It is entered from any state without a job in flight (cancel the job
 *   first), with the operator's reason, and MARK_FIXED returns the node to the state it left,
 *   with that state's reason (a node broken while upgrade-failed is upgrade-failed again).
 *   The state left is kept in context (`brokenFrom`), so a restored snapshot returns right.
 * - SET_ROLES (a `node set-roles` reconfigure that succeeded) is accepted in `commissioned`
 *   only and changes no state: the node's roles become the new set, its vars take the
 *   request's on top (as COMMISSION does), so later verify/reconfigure jobs use them. A
 *   set-roles that failed records nothing here: the node keeps its roles; retry it.
 * - Cordoning is not a state: it is a flag beside the machine (the record's `cordoned`),
 *   since a cordoned node keeps its lifecycle (commissioned, failed...) and may still be
 *   decommissioned.
 *
 * Deadlines are absolute times on job records, not `after` delays here: delays do not
 * survive a persisted snapshot.
 */
import { assign, initialTransition, isMachineSnapshot, setup, transition, type SnapshotFrom } from 'xstate'
import { LIFECYCLE_STATES, isLifecycleState, type LifecycleState } from '../../protocol/nodes.js'

/**
 * Version of the machine's states and context shape, stored next to every persisted
 * snapshot. Bump it when a state or context field changes meaning, and teach the store's
 * restore to migrate the older version.
 */
export const MACHINE_VERSION = 2
// Version 1 had no `broken` state and no `brokenFrom` in context: its entries are rebuilt from
// their records with `brokenFrom: null` (manager/store/node-entry.ts `contextFromRecord`).

/** What the machine remembers about a node. */
export interface NodeContext {
  roles: string[]
  vars: Record<string, string>
  /** Job in flight; set on entering a transitional state, cleared when it reports. */
  currentJob: string | null
  /** Most recent job started for the node. */
  lastJob: string | null
  /** Why the node is in a failed state; null otherwise. */
  reason: string | null
  /** ISO-8601 time the node entered its current state. */
  since: string
  /** In `broken`: the state it was marked broken from and that state's reason (MARK_FIXED returns there); null otherwise. */
  brokenFrom: { state: LifecycleState, reason: string | null } | null
}

/** Input of a new machine: the discovery time. */
export interface NodeMachineInput {
  at: string
}

/** Events the node machine accepts. Every event carries the ISO-8601 time it happened. */
export type NodeMachineEvent =
  | { type: 'DISCOVERED', at: string }
  | { type: 'COMMISSION', at: string, jobId: string, roles: string[], vars: Record<string, string> }
  | { type: 'DECOMMISSION', at: string, jobId: string }
  | { type: 'UPGRADE', at: string, jobId: string }
  | { type: 'JOB_SUCCEEDED', at: string, jobId: string }
  | { type: 'JOB_FAILED', at: string, jobId: string, reason: string }
  | { type: 'JOB_CANCELLED', at: string, jobId: string, reason: string }
  | { type: 'SET_VARS', at: string, vars: Record<string, string> }
  | { type: 'MARK_BROKEN', at: string, reason: string }
  | { type: 'MARK_FIXED', at: string }
  | { type: 'SET_ROLES', at: string, jobId: string, roles: string[], vars: Record<string, string> }

/** Event type names. */
export type NodeMachineEventType = NodeMachineEvent['type']

/** Events that report a job's outcome; the ones that are ignored rather than refused. */
export const JOB_OUTCOME_EVENTS = ['JOB_SUCCEEDED', 'JOB_FAILED', 'JOB_CANCELLED'] as const

/** True when `event` reports a job outcome. */
export function isJobOutcomeEvent (event: NodeMachineEvent): event is Extract<NodeMachineEvent, { type: typeof JOB_OUTCOME_EVENTS[number] }> {
  return (JOB_OUTCOME_EVENTS as readonly string[]).includes(event.type)
}

/** States a node can be marked broken from: every state without a job in flight, except broken. */
export const BREAKABLE_STATES = ['discovered', 'commissioned', 'decommissioned', 'commission-failed', 'upgrade-failed', 'decommission-failed'] as const satisfies readonly LifecycleState[]

/** MARK_BROKEN from `from`: the action is told the state it leaves (an action cannot read the snapshot's value). */
function breakFrom (from: typeof BREAKABLE_STATES[number]): { target: 'broken', actions: { type: 'markBroken', params: { from: LifecycleState } } } {
  return { target: 'broken', actions: { type: 'markBroken', params: { from } } }
}

/** The node lifecycle machine. Flat: a snapshot's `value` is always a LifecycleState. */
export const nodeMachine = setup({
  types: {
    context: {} as NodeContext,
    events: {} as NodeMachineEvent,
    input: {} as NodeMachineInput
  },
  guards: {
    // Reports about any other job (a duplicate, a late report of an earlier job) must not
    // move the node: only the job the node is waiting for can.
    isCurrentJob: ({ context, event }) => 'jobId' in event && context.currentJob !== null && event.jobId === context.currentJob,
    brokenFrom: ({ context }, params: { state: LifecycleState }) => context.brokenFrom?.state === params.state
  },
  actions: {
    startCommission: assign(({ context, event }) => {
      if (event.type !== 'COMMISSION') return {}
      // Commission vars are layered over the node's own vars so vars set earlier survive.
      return { roles: [...event.roles], vars: { ...context.vars, ...event.vars }, currentJob: event.jobId, lastJob: event.jobId, reason: null, since: event.at }
    }),
    startJob: assign(({ event }) => {
      if (event.type !== 'UPGRADE' && event.type !== 'DECOMMISSION') return {}
      return { currentJob: event.jobId, lastJob: event.jobId, reason: null, since: event.at }
    }),
    finishJob: assign(({ event }) => ({ currentJob: null, reason: null, since: event.at })),
    clearRoles: assign({ roles: () => [] }),
    failJob: assign(({ event }) => {
      if (event.type !== 'JOB_FAILED' && event.type !== 'JOB_CANCELLED') return {}
      const reason = event.type === 'JOB_CANCELLED' ? `cancelled: ${event.reason}` : event.reason
      return { currentJob: null, reason, since: event.at }
    }),
    setVars: assign(({ event }) => event.type === 'SET_VARS' ? { vars: { ...event.vars } } : {}),
    markBroken: assign(({ context, event }, params: { from: LifecycleState }) => {
      if (event.type !== 'MARK_BROKEN') return {}
      return { brokenFrom: { state: params.from, reason: context.reason }, reason: event.reason, since: event.at }
    }),
    setRoles: assign(({ context, event }) => event.type === 'SET_ROLES' ? { roles: [...event.roles], vars: { ...context.vars, ...event.vars } } : {}),
    markFixed: assign(({ context, event }) => ({ reason: context.brokenFrom?.reason ?? null, brokenFrom: null, since: event.at }))
  }
}).createMachine({
  id: 'node',
  initial: 'discovered',
  context: ({ input }) => ({ roles: [], vars: {}, currentJob: null, lastJob: null, reason: null, since: input.at, brokenFrom: null }),
  on: {
    SET_VARS: { actions: 'setVars' }
  },
  states: {
    discovered: {
      on: { COMMISSION: { target: 'commissioning', actions: 'startCommission' }, MARK_BROKEN: breakFrom('discovered') }
    },
    commissioning: {
      on: {
        JOB_SUCCEEDED: { guard: 'isCurrentJob', target: 'commissioned', actions: 'finishJob' },
        JOB_FAILED: { guard: 'isCurrentJob', target: 'commission-failed', actions: 'failJob' },
        JOB_CANCELLED: { guard: 'isCurrentJob', target: 'commission-failed', actions: 'failJob' }
      }
    },
    commissioned: {
      on: {
        MARK_BROKEN: breakFrom('commissioned'),
        SET_ROLES: { actions: 'setRoles' },
        UPGRADE: { target: 'upgrading', actions: 'startJob' },
        DECOMMISSION: { target: 'decommissioning', actions: 'startJob' }
      }
    },
    upgrading: {
      on: {
        JOB_SUCCEEDED: { guard: 'isCurrentJob', target: 'commissioned', actions: 'finishJob' },
        JOB_FAILED: { guard: 'isCurrentJob', target: 'upgrade-failed', actions: 'failJob' },
        JOB_CANCELLED: { guard: 'isCurrentJob', target: 'upgrade-failed', actions: 'failJob' }
      }
    },
    decommissioning: {
      on: {
        JOB_SUCCEEDED: { guard: 'isCurrentJob', target: 'decommissioned', actions: ['finishJob', 'clearRoles'] },
        JOB_FAILED: { guard: 'isCurrentJob', target: 'decommission-failed', actions: 'failJob' },
        JOB_CANCELLED: { guard: 'isCurrentJob', target: 'decommission-failed', actions: 'failJob' }
      }
    },
    decommissioned: {
      on: { COMMISSION: { target: 'commissioning', actions: 'startCommission' }, MARK_BROKEN: breakFrom('decommissioned') }
    },
    'commission-failed': {
      on: {
        MARK_BROKEN: breakFrom('commission-failed'),
        COMMISSION: { target: 'commissioning', actions: 'startCommission' },
        DECOMMISSION: { target: 'decommissioning', actions: 'startJob' }
      }
    },
    'upgrade-failed': {
      on: {
        MARK_BROKEN: breakFrom('upgrade-failed'),
        UPGRADE: { target: 'upgrading', actions: 'startJob' },
        DECOMMISSION: { target: 'decommissioning', actions: 'startJob' }
      }
    },
    'decommission-failed': {
      on: { DECOMMISSION: { target: 'decommissioning', actions: 'startJob' }, MARK_BROKEN: breakFrom('decommission-failed') }
    },
    broken: {
      on: {
        // One guarded transition per state a node can be marked broken from: targets are static.
        MARK_FIXED: [
          ...BREAKABLE_STATES.map(state => ({ guard: { type: 'brokenFrom' as const, params: { state } }, target: state, actions: 'markFixed' as const })),
          // A snapshot without brokenFrom cannot come from this machine; discovered is the safe start.
          { target: 'discovered', actions: 'markFixed' as const }
        ]
      }
    }
  }
})

/** A live snapshot of the node machine. */
export type NodeSnapshot = SnapshotFrom<typeof nodeMachine>

/** A state given as plain data (a persisted snapshot or a record): value + context. */
export interface NodeStateData {
  value: LifecycleState
  context: NodeContext
}

/** A refused operation: nothing changed. */
export interface TransitionRefusal {
  ok: false
  code: 'CLUSTERD_ERR_INVALID_TRANSITION'
  message: string
  /** State the node was in (null when there is no record). */
  from: LifecycleState | null
  event: NodeMachineEventType
}

/** The outcome of `decide()`. */
export type Decision =
  | { ok: true, changed: true, snapshot: NodeSnapshot, from: LifecycleState | null, to: LifecycleState }
  /** A job report for another job, or for a node no longer waiting: nothing changes. */
  | { ok: true, changed: false, snapshot: NodeSnapshot, from: LifecycleState, to: LifecycleState, ignored: string }
  | TransitionRefusal

/** The lifecycle state of a snapshot (the machine is flat, so its value is the state name). */
export function stateOf (snapshot: NodeSnapshot): LifecycleState {
  const value = snapshot.value
  if (!isLifecycleState(value)) throw new TypeError(`node machine snapshot has a non-lifecycle value ${JSON.stringify(value)}`)
  return value
}

/** A live snapshot for a state given as data; pure (no actor is created). */
export function resolveNodeState (data: NodeStateData): NodeSnapshot {
  return nodeMachine.resolveState({ value: data.value, context: data.context })
}

/** For each event type, the states that accept it, read from the machine definition. */
export const ACCEPTING_STATES: Readonly<Record<NodeMachineEventType, readonly LifecycleState[]>> = (() => {
  const table: Record<NodeMachineEventType, LifecycleState[]> = {
    DISCOVERED: [], COMMISSION: [], DECOMMISSION: [], UPGRADE: [], JOB_SUCCEEDED: [], JOB_FAILED: [], JOB_CANCELLED: [], SET_VARS: [...LIFECYCLE_STATES], MARK_BROKEN: [], MARK_FIXED: [], SET_ROLES: []
  }
  for (const state of LIFECYCLE_STATES) {
    const node = nodeMachine.root.states[state]
    if (node === undefined) throw new TypeError(`node machine lacks state ${state}`)
    for (const type of Object.keys(node.on) as NodeMachineEventType[]) table[type]?.push(state)
  }
  return table
})()

/**
 * Decide what `event` does to a node, without side effects: the next snapshot, an ignored
 * job report, or a refusal. `from` is a live snapshot, the same state as data, or null
 * when the node has no record yet (only DISCOVERED is accepted then).
 */
export function decide (from: NodeSnapshot | NodeStateData | null, event: NodeMachineEvent): Decision {
  if (from === null) {
    if (event.type !== 'DISCOVERED') {
      return refuse(null, event, `node has no lifecycle record; ${event.type} needs a discovered node`)
    }
    const [snapshot] = initialTransition(nodeMachine, { at: event.at })
    return { ok: true, changed: true, snapshot, from: null, to: stateOf(snapshot) }
  }

  const snapshot = isMachineSnapshot(from) ? from as NodeSnapshot : resolveNodeState(from)
  const state = stateOf(snapshot)
  if (event.type === 'DISCOVERED') {
    return refuse(state, event, `node is already known (${state}); rediscovery is not a lifecycle change`)
  }
  if (!snapshot.can(event)) {
    if (isJobOutcomeEvent(event)) {
      const waitingFor = snapshot.context.currentJob
      const ignored = waitingFor === null
        ? `node is ${state} and waits for no job; report of job ${event.jobId} ignored`
        : `node waits for job ${waitingFor}; report of job ${event.jobId} ignored`
      return { ok: true, changed: false, snapshot, from: state, to: state, ignored }
    }
    const accepting = ACCEPTING_STATES[event.type]
    return refuse(state, event, `cannot ${event.type.toLowerCase()} a node that is ${state}; allowed from: ${accepting.join(', ')}`)
  }
  const [next] = transition(nodeMachine, snapshot, event)
  return { ok: true, changed: true, snapshot: next, from: state, to: stateOf(next) }
}

function refuse (from: LifecycleState | null, event: NodeMachineEvent, message: string): TransitionRefusal {
  return { ok: false, code: 'CLUSTERD_ERR_INVALID_TRANSITION', message, from, event: event.type }
}
