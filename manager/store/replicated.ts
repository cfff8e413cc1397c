/**
 * Checking a batch received from the manager before a replica writes it: only keys of the
 * store's own layout, JSON values, decodable node entries, node deletes only with their
 * `forgotten` event, and never the layout format.
 */
import { ClusterdError } from '../../protocol/errors.js'
import type { ReplicationBatch } from '../../protocol/replication-wire.js'
import type { BatchOp } from './committer.js'
import { PREFIX } from './constants.js'
import { META_KEYS, stripPrefix } from './keys.js'
import { decodeNode, type NodeEntry } from './node-entry.js'
import { parseStored } from './restore.js'
import { revisionEntryProblem } from './revision-check.js'

/** What a replicated batch changes in the store's in-memory views. */
export interface ViewChanges {
  nodes: NodeEntry[]
  config: Array<{ key: string, value: unknown }>
  gseq: number | null
  /** Nodes whose record the batch deletes (a `forget`, with its `forgotten` event). */
  forgotten: string[]
}

const DELETABLE = [PREFIX.config, PREFIX.event, PREFIX.nodeEvent, PREFIX.job, PREFIX.jobEvent, PREFIX.revision, PREFIX.revisionBlob].map(p => `${p}!`)

const DATA_PREFIXES = Object.values(PREFIX).filter(p => p !== PREFIX.meta).map(p => `${p}!`)

/**
 * Validate `batch` and return the ops to write (with the batch's revision as `m!revision`)
 * and the view changes. Throws CLUSTERD_ERR_INVALID_ARGUMENT; nothing is written then.
 */
export function checkReplicated (batch: ReplicationBatch): { ops: BatchOp[], changes: ViewChanges } {
  const bad = (why: string): ClusterdError => new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `replicated batch ${batch.revision} rejected: ${why}`)
  const ops: BatchOp[] = []
  const changes: ViewChanges = { nodes: [], config: [], gseq: null, forgotten: [] }
  const forgottenEvents = new Set<string>()
  for (const op of batch.ops) {
    if (op.key === META_KEYS.revision) continue // written below from batch.revision, so the two cannot disagree
    if (op.key === META_KEYS.gseq) {
      const n = Number(op.type === 'put' ? op.value : NaN)
      if (!Number.isSafeInteger(n) || n < 0) throw bad(`${META_KEYS.gseq} is invalid`)
      changes.gseq = n
      ops.push(op)
      continue
    }
    if (!DATA_PREFIXES.some(p => op.key.startsWith(p))) throw bad(`key ${JSON.stringify(op.key)} is not part of the store layout`)
    if (op.type === 'put') {
      let value: unknown
      try {
        value = parseStored(op.key, op.value)
        if (op.key.startsWith(`${PREFIX.node}!`)) changes.nodes.push(decodeNode(op.key, stripPrefix(op.key, PREFIX.node), op.value))
      } catch (err: any) {
        throw bad(err?.message ?? String(err))
      }
      const revisionProblem = revisionEntryProblem(op.key, value)
      if (revisionProblem !== undefined) throw bad(revisionProblem)
      if (op.key.startsWith(`${PREFIX.config}!`)) changes.config.push({ key: stripPrefix(op.key, PREFIX.config), value })
      if (op.key.startsWith(`${PREFIX.nodeEvent}!`) && (value as { type?: unknown } | null)?.type === 'forgotten') forgottenEvents.add(String((value as { node?: unknown }).node))
    } else if (op.key.startsWith(`${PREFIX.node}!`)) {
      // A node entry goes only with its `forgotten` event in the same batch (checked below).
      changes.forgotten.push(stripPrefix(op.key, PREFIX.node))
    } else {
      // The manager deletes config values, and history that retention prunes (finished jobs and
      // their events, old lifecycle events, revisions nothing names); never store metadata.
      if (!DELETABLE.some(p => op.key.startsWith(p))) throw bad(`deleting ${op.key} is not allowed`)
      if (op.key.startsWith(`${PREFIX.config}!`)) changes.config.push({ key: stripPrefix(op.key, PREFIX.config), value: undefined })
    }
    ops.push(op)
  }
  const unrecorded = changes.forgotten.find(name => !forgottenEvents.has(name))
  if (unrecorded !== undefined) throw bad(`deleting node ${unrecorded} without its forgotten event is not allowed`)
  ops.push({ type: 'put', key: META_KEYS.revision, value: String(batch.revision) })
  return { ops, changes }
}
