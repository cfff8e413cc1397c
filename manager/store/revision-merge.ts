/**
 * The merge rule for configuration revisions (merge.ts applies it): revision files are
 * content-addressed, so the other side's files this store lacks are copied; a revision number
 * only the other side has is copied; the same number with the same hash is the same revision;
 * the same number with another hash (both sides pushed while split) keeps ours and stores
 * theirs under the next free number, so neither content is lost. Pure.
 */
import type { RevisionInfo } from '../../protocol/revisions.js'
import type { BatchOp } from './committer.js'
import { PREFIX } from './constants.js'
import { revisionKey } from './keys.js'
import type { StoreEntry } from './types.js'

/** The writes that bring the other side's revisions into this store, and what they did. */
export function mergeRevisions (local: StoreEntry[], foreign: StoreEntry[]): { ops: BatchOp[], report: string[] } {
  const ours = new Map<string, unknown>()
  for (const e of local) if (e.key.startsWith(`${PREFIX.revision}!`) || e.key.startsWith(`${PREFIX.revisionBlob}!`)) ours.set(e.key, e.value)
  const ops: BatchOp[] = []
  const report: string[] = []
  const theirHeaders: RevisionInfo[] = []
  for (const e of foreign) {
    if (e.key.startsWith(`${PREFIX.revisionBlob}!`) && !ours.has(e.key)) ops.push({ type: 'put', key: e.key, value: JSON.stringify(e.value) })
    if (e.key.startsWith(`${PREFIX.revision}!`)) theirHeaders.push(e.value as RevisionInfo)
  }
  let next = Math.max(0, ...[...ours.values()].filter(isHeader).map(h => h.revision), ...theirHeaders.map(h => h.revision)) + 1
  const ourHashes = new Set([...ours.values()].filter(isHeader).map(h => h.hash))
  for (const their of theirHeaders) {
    const our = ours.get(revisionKey(their.revision)) as RevisionInfo | undefined
    if (our === undefined) {
      ops.push({ type: 'put', key: revisionKey(their.revision), value: JSON.stringify(their) })
      report.push(`revision ${their.revision}`)
    } else if (our.hash !== their.hash && !ourHashes.has(their.hash)) {
      const moved = { ...their, revision: next++ }
      ops.push({ type: 'put', key: revisionKey(moved.revision), value: JSON.stringify(moved) })
      report.push(`revision ${their.revision} of the other side (hash ${their.hash.slice(0, 12)}) stored as ${moved.revision}`)
    }
  }
  return { ops, report }
}

function isHeader (v: unknown): v is RevisionInfo {
  return v !== null && typeof v === 'object' && typeof (v as RevisionInfo).revision === 'number'
}
