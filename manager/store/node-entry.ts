/**
 * The stored form of a node: its API record, the persisted machine snapshot, the machine
 * version that wrote it and the last event seq. Parsing validates everything, so a damaged
 * or foreign value becomes a clear error instead of a half-restored node.
 */
import { createActor } from 'xstate'
import { ClusterdError } from '../../protocol/errors.js'
import type { NodeBoot } from '../../protocol/members.js'
import { MAX_NAME_CONFLICTS, isLifecycleState, type NameConflict, type NodeDrift, type NodeRecord } from '../../protocol/nodes.js'
import { MACHINE_VERSION, nodeMachine, resolveNodeState, stateOf, type NodeContext, type NodeSnapshot } from '../lifecycle/node-machine.js'

/** A node entry as stored under `n!<name>`. */
export interface StoredNode {
  record: NodeRecord
  /** `nodeMachine.getPersistedSnapshot()` output. */
  snapshot: unknown
  machineVersion: number
  /** Seq of the node's newest lifecycle event. */
  lastSeq: number
}

/** A node as the store holds it in memory. */
export interface NodeEntry {
  record: NodeRecord
  snapshot: NodeSnapshot
  lastSeq: number
}

/** Node fields that live outside the machine (not a node's own facts: those are protocol/members.ts NodeFacts). */
export interface NodeFields {
  name: string
  peerId: string
  reachable: boolean
  discoveredAt: string
  /** Kept across transitions; null (or absent) until known. */
  boot?: NodeBoot | null
  drift?: NodeDrift | null
  /** Refused claimants of the name (name-binding.ts); absent: none. */
  nameConflicts?: NameConflict[]
  /** What the last successful commission, upgrade or reconfigure applied; absent: nothing recorded. */
  revision?: number | null
  agentVersion?: string | null
  /** Cordoned by an operator; absent: false. */
  cordoned?: boolean
  /** Operator labels; absent: none. */
  labels?: Record<string, string>
}

/** The API record for a node: machine state + context plus the facts kept beside it. */
export function buildRecord (facts: NodeFields, snapshot: NodeSnapshot, updatedAt: string): NodeRecord {
  const ctx = snapshot.context
  return {
    name: facts.name,
    peerId: facts.peerId,
    state: stateOf(snapshot),
    roles: [...ctx.roles],
    vars: { ...ctx.vars },
    reachable: facts.reachable,
    currentJob: ctx.currentJob,
    lastJob: ctx.lastJob,
    reason: ctx.reason,
    since: ctx.since,
    discoveredAt: facts.discoveredAt,
    updatedAt,
    boot: facts.boot ?? null,
    drift: facts.drift ?? null,
    nameConflicts: (facts.nameConflicts ?? []).map(c => ({ ...c })),
    revision: facts.revision ?? null,
    agentVersion: facts.agentVersion ?? null,
    cordoned: facts.cordoned ?? false,
    labels: { ...facts.labels }
  }
}

/** Serialize an in-memory node entry. */
export function encodeNode (entry: NodeEntry): string {
  const stored: StoredNode = {
    record: entry.record,
    snapshot: nodeMachine.getPersistedSnapshot(entry.snapshot),
    machineVersion: MACHINE_VERSION,
    lastSeq: entry.lastSeq
  }
  return JSON.stringify(stored)
}

/**
 * Parse and validate a stored node and restore its machine snapshot. Throws
 * CLUSTERD_ERR_STORE_CORRUPT naming the key when anything does not fit.
 */
export function decodeNode (key: string, name: string, raw: unknown): NodeEntry {
  const bad = (why: string): ClusterdError => new ClusterdError('CLUSTERD_ERR_STORE_CORRUPT', `manager store entry ${key} is invalid: ${why}`, { key })
  const stored = (typeof raw === 'string' ? parseJson(raw, bad) : raw) as Partial<StoredNode> | null
  if (stored === null || typeof stored !== 'object') throw bad('not an object')
  const { record, machineVersion, lastSeq } = stored
  if (typeof machineVersion !== 'number' || !Number.isInteger(machineVersion)) throw bad('no machine version')
  if (machineVersion > MACHINE_VERSION) {
    throw bad(`written by node machine version ${machineVersion}, this build knows up to ${MACHINE_VERSION}; run a newer clusterd`)
  }
  if (typeof lastSeq !== 'number' || !Number.isInteger(lastSeq) || lastSeq < 1) throw bad('no valid lastSeq')
  checkRecord(record, name, bad)
  // Records written before these fields existed.
  record.boot ??= null
  record.drift ??= null
  record.nameConflicts ??= []
  record.revision ??= null
  record.agentVersion ??= null
  record.cordoned ??= false
  record.labels ??= {}

  let snapshot: NodeSnapshot
  if (machineVersion === MACHINE_VERSION) {
    const persisted = stored.snapshot as { value?: unknown, context?: unknown } | undefined
    if (persisted === undefined || persisted === null || typeof persisted !== 'object') throw bad('no snapshot')
    if (persisted.value !== record.state) throw bad(`snapshot state ${JSON.stringify(persisted.value)} differs from record state ${record.state}`)
    checkContext(persisted.context, bad)
    try {
      // The documented restore path; the actor is never started, we only want its snapshot.
      snapshot = createActor(nodeMachine, { snapshot: persisted as any, input: { at: record.since } }).getSnapshot()
    } catch (err: any) {
      throw bad(`snapshot does not restore: ${err?.message ?? err}`)
    }
  } else {
    // Older machine version: rebuild from the record, which carries the whole context (version 1
    // had no broken state, so no brokenFrom: contextFromRecord sets null).
    snapshot = resolveNodeState({ value: record.state, context: contextFromRecord(record) })
  }
  return { record, snapshot, lastSeq }
}

function contextFromRecord (record: NodeRecord): NodeContext {
  return { roles: record.roles, vars: record.vars, currentJob: record.currentJob, lastJob: record.lastJob, reason: record.reason, since: record.since, brokenFrom: null }
}

function parseJson (raw: string, bad: (why: string) => ClusterdError): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    throw bad('not valid JSON')
  }
}

const isStr = (v: unknown): v is string => typeof v === 'string'
const isStrOrNull = (v: unknown): boolean => v === null || typeof v === 'string'
const isStrMap = (v: unknown): boolean => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every(isStr)
const isStrArray = (v: unknown): boolean => Array.isArray(v) && v.every(isStr)

function checkRecord (record: unknown, name: string, bad: (why: string) => ClusterdError): asserts record is NodeRecord {
  if (record === null || typeof record !== 'object') throw bad('no record')
  const r = record as Record<string, unknown>
  if (r.name !== name) throw bad(`record name ${JSON.stringify(r.name)} differs from key`)
  if (!isLifecycleState(r.state)) throw bad(`unknown state ${JSON.stringify(r.state)}`)
  if (!isStr(r.peerId) || !isStr(r.since) || !isStr(r.discoveredAt) || !isStr(r.updatedAt)) throw bad('record lacks peerId or times')
  if (typeof r.reachable !== 'boolean') throw bad('record lacks reachable')
  if (!isStrArray(r.roles) || !isStrMap(r.vars)) throw bad('record roles or vars malformed')
  if (!isStrOrNull(r.currentJob) || !isStrOrNull(r.lastJob) || !isStrOrNull(r.reason)) throw bad('record job fields malformed')
  if (r.boot != null && !(typeof r.boot === 'object' && isStr((r.boot as NodeBoot).id) && isStr((r.boot as NodeBoot).agentStartedAt))) throw bad('record boot malformed')
  if (r.drift != null && !(typeof r.drift === 'object' && isStrArray((r.drift as NodeDrift).tasks) && typeof (r.drift as NodeDrift).changed === 'number')) throw bad('record drift malformed')
  if (r.nameConflicts != null && !(Array.isArray(r.nameConflicts) && r.nameConflicts.length <= MAX_NAME_CONFLICTS &&
    r.nameConflicts.every(c => c !== null && typeof c === 'object' && isStr(c.peerId) && isStr(c.since)))) throw bad('record nameConflicts malformed')
  if (r.revision != null && !(typeof r.revision === 'number' && Number.isSafeInteger(r.revision) && r.revision > 0)) throw bad('record revision malformed')
  if (r.agentVersion != null && !isStr(r.agentVersion)) throw bad('record agentVersion malformed')
  if (r.cordoned != null && typeof r.cordoned !== 'boolean') throw bad('record cordoned malformed')
  if (r.labels != null && !isStrMap(r.labels)) throw bad('record labels malformed')
}

function checkContext (context: unknown, bad: (why: string) => ClusterdError): void {
  if (context === null || typeof context !== 'object') throw bad('snapshot has no context')
  const c = context as Record<string, unknown>
  if (!isStrArray(c.roles) || !isStrMap(c.vars) || !isStr(c.since) ||
    !isStrOrNull(c.currentJob) || !isStrOrNull(c.lastJob) || !isStrOrNull(c.reason)) {
    throw bad('snapshot context malformed')
  }
  const b = c.brokenFrom as Record<string, unknown> | null | undefined
  if (b !== null && !(typeof b === 'object' && isLifecycleState(b.state) && isStrOrNull(b.reason))) throw bad('snapshot context brokenFrom malformed')
}
