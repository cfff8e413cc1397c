/**
 * Reading the database back: guarded reads that turn LevelDB failures into clear errors,
 * the full validated load on start, and validation of imported state.
 */
import { ClusterdError } from '../../protocol/errors.js'
import type { BatchOp } from './committer.js'
import { PREFIX, STORE_FORMAT } from './constants.js'
import { META_KEYS, nodeEventKey, range, stripPrefix } from './keys.js'
import { decodeNode, type NodeEntry } from './node-entry.js'
import { readMarker, type StoreDb } from './open-db.js'
import { revisionEntryProblem } from './revision-check.js'
import type { StoreEntry } from './types.js'

/** Everything the store keeps in memory, as loaded from disk. */
export interface LoadedState {
  nodes: Map<string, NodeEntry>
  config: Map<string, unknown>
  revision: number
  gseq: number
}

/** A CLUSTERD_ERR_STORE_CORRUPT error about the database at `path`. */
export function corrupt (why: string, path: string): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_STORE_CORRUPT', `manager store ${path} ${why}`, { path })
}

/** Parse a stored JSON value, naming the key if it is not JSON. */
export function parseStored (key: string, raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    throw new ClusterdError('CLUSTERD_ERR_STORE_CORRUPT', `manager store entry ${key} is not valid JSON`, { key })
  }
}

/** Await a read; a LevelDB failure becomes STORE_CORRUPT naming the key. */
export async function guardRead<T> (path: string, p: Promise<T>, key: string): Promise<T> {
  try {
    return await p
  } catch (err: any) {
    throw corrupt(`reading ${key} failed: ${err?.cause?.message ?? err?.message ?? err}`, path)
  }
}

/** Iterate; a LevelDB failure becomes STORE_CORRUPT. */
export async function * guardIterator<T> (path: string, it: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield * it
  } catch (err: any) {
    if (err instanceof ClusterdError) throw err
    throw corrupt(`reading the database failed: ${err?.cause?.message ?? err?.message ?? err}`, path)
  }
}

/** Parsed values of a key range. */
export async function readValues (path: string, db: StoreDb, options: { gt: string, lt: string, limit?: number, reverse?: boolean }): Promise<unknown[]> {
  const out: unknown[] = []
  for await (const [key, raw] of guardIterator(path, db.iterator(options))) out.push(parseStored(key, raw))
  return out
}

function readCounter (raw: string | undefined, key: string, path: string): number {
  const n = Number(raw)
  if (raw === undefined || !Number.isSafeInteger(n) || n < 0) throw corrupt(`has an invalid ${key} (${String(raw)})`, path)
  return n
}

/**
 * Load and validate the in-memory state: layout format, counters, the revision marker
 * (when `checkMarker`), the global event log's end, and every node entry with its newest
 * event. An empty database is initialised.
 */
export async function loadState (db: StoreDb, path: string, options: { checkMarker: boolean }): Promise<LoadedState> {
  let format = await guardRead(path, db.get(META_KEYS.format), META_KEYS.format)
  if (format === undefined) {
    for await (const key of guardIterator(path, db.keys({ limit: 1 }))) {
      throw corrupt(`has data (${key}) but no ${META_KEYS.format} key: not a clusterd manager store, or damaged`, path)
    }
    await db.batch([
      { type: 'put', key: META_KEYS.format, value: String(STORE_FORMAT) },
      { type: 'put', key: META_KEYS.revision, value: '0' },
      { type: 'put', key: META_KEYS.gseq, value: '0' }
    ], { sync: true })
    format = String(STORE_FORMAT)
  }
  if (Number(format) !== STORE_FORMAT) throw corrupt(`has layout format ${format}; this build reads format ${STORE_FORMAT}`, path)
  const revision = readCounter(await guardRead(path, db.get(META_KEYS.revision), META_KEYS.revision), META_KEYS.revision, path)
  const gseq = readCounter(await guardRead(path, db.get(META_KEYS.gseq), META_KEYS.gseq), META_KEYS.gseq, path)

  if (options.checkMarker) {
    const marker = await readMarker(path)
    if (marker !== null && marker.revision > revision) {
      throw corrupt(`is at revision ${revision} but had reached revision ${marker.revision} (${marker.at}): acknowledged writes were lost (damaged log?)`, path)
    }
  }

  let lastGseq = 0
  for await (const key of guardIterator(path, db.keys({ ...range(PREFIX.event), reverse: true, limit: 1 }))) lastGseq = Number(stripPrefix(key, PREFIX.event))
  if (lastGseq !== gseq) throw corrupt(`event log ends at ${lastGseq} but ${META_KEYS.gseq} is ${gseq}`, path)

  const nodes = new Map<string, NodeEntry>()
  for await (const [key, raw] of guardIterator(path, db.iterator(range(PREFIX.node)))) {
    const entry = decodeNode(key, stripPrefix(key, PREFIX.node), raw)
    const last = await guardRead(path, db.get(nodeEventKey(entry.record.name, entry.lastSeq)), key)
    if (last === undefined) throw corrupt(`node ${entry.record.name} lacks its lifecycle event ${entry.lastSeq}`, path)
    nodes.set(entry.record.name, entry)
  }
  const config = new Map<string, unknown>()
  for await (const [key, raw] of guardIterator(path, db.iterator(range(PREFIX.config)))) config.set(stripPrefix(key, PREFIX.config), parseStored(key, raw))
  return { nodes, config, revision, gseq }
}

/** Turn exported entries into put operations, validating order, layout and node entries. */
export function validateImport (entries: StoreEntry[]): BatchOp[] {
  const bad = (why: string): ClusterdError => new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `import rejected: ${why}`)
  if (!Array.isArray(entries)) throw bad('entries must be an array')
  const ops: BatchOp[] = []
  const keys = new Set<string>()
  const lastEvents: string[] = []
  let previous = ''
  let lastGseq = 0
  for (const entry of entries) {
    if (typeof entry?.key !== 'string' || entry.key <= previous) throw bad(`keys must be strings in strictly ascending order (at ${JSON.stringify(entry?.key)})`)
    previous = entry.key
    keys.add(entry.key)
    if (entry.key.startsWith(`${PREFIX.event}!`)) lastGseq = Number(stripPrefix(entry.key, PREFIX.event))
    if (entry.key.startsWith(`${PREFIX.node}!`)) {
      try {
        const node = decodeNode(entry.key, stripPrefix(entry.key, PREFIX.node), entry.value)
        lastEvents.push(nodeEventKey(node.record.name, node.lastSeq))
      } catch (err: any) {
        throw bad(err?.message ?? String(err))
      }
    }
    const revisionProblem = revisionEntryProblem(entry.key, entry.value)
    if (revisionProblem !== undefined) throw bad(revisionProblem)
    const text = JSON.stringify(entry.value)
    if (text === undefined) throw bad(`entry ${entry.key} has no JSON value`)
    ops.push({ type: 'put', key: entry.key, value: text })
  }
  const value = (key: string): unknown => entries.find(e => e.key === key)?.value
  if (value(META_KEYS.format) !== STORE_FORMAT) throw bad(`layout format is ${JSON.stringify(value(META_KEYS.format))}, expected ${STORE_FORMAT}`)
  for (const key of [META_KEYS.revision, META_KEYS.gseq]) {
    const n = value(key)
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad(`${key} missing or invalid`)
  }
  if (value(META_KEYS.gseq) !== lastGseq) throw bad(`event log ends at ${lastGseq} but ${META_KEYS.gseq} is ${String(value(META_KEYS.gseq))}`)
  const missing = lastEvents.find(k => !keys.has(k))
  if (missing !== undefined) throw bad(`node event ${missing} is missing`)
  return ops
}
