// The membership benchmark's table (bench/membership/report.ts): each of the targets is
// judged on the row that measures it. Results here are written by hand; the real figures come
// from `npm run bench:membership`.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { markdownTable, type SystemResult } from '../../../bench/membership/report.js'
import type { IdleResult, LateJoin } from '../../../bench/membership/measure.js'

const idle: IdleResult = { windowMs: 20_000, rssMedianMB: 85, rssMaxMB: 90, anonMedianMB: 30, fileMedianMB: 55, pssMedianMB: 36, cpuMedianPct: 0.6, cpuMaxPct: 0.9, machine: { busyPct: 20, stealPct: 0 } }

function result (late: LateJoin[]): SystemResult {
  const spread = { median: 100, max: 200, n: 3 }
  return {
    system: 'clusterd',
    converge: { agents: 64, fromSeedSpawnMs: 15_000, fromJoinersSpawnMs: 14_000, fromLastListeningMs: 30, seenByAllAfterListening: spread, spawnToSeesAll: spread, spawnToListening: spread, pollerCpuPct: 2 },
    idle,
    steady: idle,
    failure: { rounds: [], agentCpuMedianPct: 1 },
    late
  }
}

function join (spawnToSeesAllMs: number, spawnToSeenByAllMs: number, spawnToListeningMs: number | null): LateJoin {
  return { host: 'h', spawnToListeningMs, spawnToSeesAllMs, spawnToSeenByAllMs, listeningToSeenByAllMs: spawnToListeningMs === null ? null : spawnToSeenByAllMs - spawnToListeningMs }
}

/** The cells of the row whose label starts with `label`. */
function row (table: string, label: string): string[] {
  const line = table.split('\n').find(l => l.startsWith(`| ${label}`))
  assert.ok(line !== undefined, `no row "${label}" in\n${table}`)
  return line.split('|').slice(1, -1).map(c => c.trim())
}

describe('membership benchmark table', () => {
  it('judges the late joiner on both halves of the target: it sees all, and all see it, within 1 s of its spawn', () => {
    const fast = markdownTable(64, [result([join(450, 430, 270), join(530, 440, 280)])])
    assert.equal(row(fast, 'late joiner spawn → sees all')[3], 'met')
    assert.equal(row(fast, 'late joiner spawn → seen alive by all')[3], 'met')
    assert.equal(row(fast, 'late joiner spawn → seen alive by all')[1], '435 / 440')

    // Sees all in time, but one member learns of it only after 1.3 s.
    const slowSeen = markdownTable(64, [result([join(450, 430, 270), join(530, 1300, 280)])])
    assert.equal(row(slowSeen, 'late joiner spawn → sees all')[3], 'met')
    assert.equal(row(slowSeen, 'late joiner spawn → seen alive by all')[3], '**not met**')
  })

  it('shows a joiner seen by all before its API listened as a negative time, and none measured as n/a', () => {
    const early = markdownTable(64, [result([join(250, 175, 280), join(240, 170, 270)])])
    assert.equal(row(early, 'late joiner listening → seen alive by all')[1], '-102 / -100')
    const none = markdownTable(64, [result([])])
    assert.equal(row(none, 'late joiner spawn → seen alive by all')[3], 'n/a')
    assert.equal(row(none, 'late joiner listening → seen alive by all')[3], 'n/a')
  })

  it('sets the forming target only from 32 hosts on', () => {
    assert.equal(row(markdownTable(64, [result([])]), 'all see all, from joiners\' spawn')[3], '**not met**')
    assert.equal(row(markdownTable(16, [result([])]), 'all see all, from joiners\' spawn')[3], '')
  })
})
