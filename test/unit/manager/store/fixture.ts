/** Shared helpers for the manager store tests: temp dirs, a silent logger, a fake clock, a pruning pass. */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ManagerStore } from '../../../../manager/store/index.js'
import type { StoreEntry } from '../../../../manager/store/index.js'
import type { PruneCursor, RetentionPolicy } from '../../../../manager/store/retention.js'
import type { JobRecord } from '../../../../protocol/jobs.js'
import type { LifecycleEvent, NodeRecord } from '../../../../protocol/nodes.js'

/** A fresh temp directory and a function that removes it. */
export async function tempDir (): Promise<{ path: string, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'clusterd-store-'))
  return { path: join(dir, 'db'), cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** A clock that advances one millisecond per reading, so every time is distinct and repeatable. */
export function fakeClock (start = Date.parse('2026-01-01T00:00:00.000Z')): () => Date {
  let t = start
  return () => new Date(t++)
}

/** A store on `path` with a silent logger and a fake clock. */
export function newStore (path: string, now: () => Date = fakeClock()): ManagerStore {
  return new ManagerStore({ logger: pino({ level: 'silent' }), now }, { path })
}

/** A minimal valid job record. */
export function job (id: string, nodes: string[], extra: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    kind: 'commission',
    nodes,
    roles: ['web'],
    vars: {},
    status: 'queued',
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    timeoutAt: '2026-01-01T01:00:00.000Z',
    reason: null,
    perNode: Object.fromEntries(nodes.map(n => [n, { outcome: 'pending', ok: 0, changed: 0, failed: 0 }])),
    epoch: 1,
    ...extra
  }
}

/**
 * Check what a one-batch write guarantees on a full export: every node record has exactly
 * its events 1..lastSeq, the newest of which ends in the record's state, and the global
 * log holds exactly events 1..gseq.
 */
export function assertConsistent (entries: StoreEntry[]): void {
  const byKey = new Map(entries.map(e => [e.key, e.value]))
  const globalEvents = entries.filter(e => e.key.startsWith('e!')).map(e => e.value as LifecycleEvent)
  assert.equal(byKey.get('m!gseq'), globalEvents.length, 'gseq counts the global log')
  globalEvents.forEach((e, i) => assert.equal(e.gseq, i + 1))
  for (const entry of entries.filter(e => e.key.startsWith('n!'))) {
    const { record, lastSeq } = entry.value as { record: NodeRecord, lastSeq: number }
    const own = entries.filter(e => e.key.startsWith(`x!${record.name}!`)).map(e => e.value as LifecycleEvent)
    assert.equal(own.length, lastSeq, `${record.name}: events 1..lastSeq present`)
    own.forEach((e, i) => assert.equal(e.seq, i + 1))
    const last = own.at(-1)
    assert.equal(last?.to, record.state, `${record.name}: newest event ends in the record's state`)
    assert.deepEqual(globalEvents[(last?.gseq ?? 0) - 1], last, `${record.name}: newest event is in the global log`)
  }
}

/**
 * Run pruning steps (at most `maxOps` deletes each) until the pass completes, asserting that it
 * does within 10,000 steps; each step's deletion count, in order. `afterStep` runs after each.
 */
export async function prunePass (store: ManagerStore, policy: RetentionPolicy, maxOps = 500, afterStep: () => Promise<void> = async () => {}): Promise<number[]> {
  const steps: number[] = []
  let cursor: PruneCursor | null = { afterNode: '' }
  for (let i = 0; cursor !== null && i < 10_000; i++) {
    const r: { deleted: number, next: PruneCursor | null } = await store.pruneStep(policy, cursor, { maxOps, maxNodes: 1000 })
    steps.push(r.deleted)
    cursor = r.next
    await afterStep()
  }
  assert.equal(cursor, null, 'the pass completes')
  return steps
}

