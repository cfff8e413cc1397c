/**
 * This agent's own stalls do not count against others: a probe that ran through a stall
 * accuses nobody, and a suspicion's deadline moves out by the stall.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { Awareness } from '../../../../agent/membership/awareness.js'
import { MemberTable, type MemberEntry } from '../../../../agent/membership/member-table.js'
import { Prober, type ProbeTransport } from '../../../../agent/membership/prober.js'
import type { NodeRecord, SignedRecord } from '../../../../protocol/membership-wire.js'

const timing = { probeIntervalMs: 500, suspicionMult: 2, suspicionMinMs: 1200, suspicionMaxMult: 4, reapAfterMs: 60_000 }
const probeTiming = { probeIntervalMs: 500, probeTimeoutMs: 500, indirectTimeoutMs: 800, indirectChecks: 3, stallGraceMs: 250 }

function rec (peerId: string): [NodeRecord, SignedRecord] {
  const r: NodeRecord = { v: 1, name: `n-${peerId}`, peerId, incarnation: 1, state: 'alive', addrs: [], labels: {}, managerEligible: true, facts: null, signedAt: 0 }
  return [r, { payload: JSON.stringify(r), sig: 'x' }]
}

/** A prober over members a, b, c whose transport never answers and takes `takesMs` of fake time. */
function prober (takesMs: number): { p: Prober, accused: string[], awareness: Awareness, target: MemberEntry } {
  const t = new MemberTable({ selfPeerId: 'self', timing })
  t.setSelf(...rec('self'), 0)
  for (const id of ['a', 'b', 'c']) t.applyRecord(...rec(id), 0)
  const clock = { t: 0 }
  const transport: ProbeTransport = {
    ping: async () => { clock.t += takesMs / 2; return false },
    pingReq: async () => 'timeout'
  }
  const accused: string[] = []
  const awareness = new Awareness({ max: 8 })
  const p = new Prober({
    logger: pino({ level: 'silent' }),
    transport,
    awareness,
    probeable: () => t.probeable(),
    onAlive: () => {},
    onUnreachable: e => { accused.push(e.record.peerId) },
    now: () => clock.t
  }, probeTiming)
  return { p, accused, awareness, target: t.get('a') as MemberEntry }
}

describe('stalls of this agent', () => {
  it('a probe that failed within its deadlines accuses the target', async () => {
    const { p, accused, awareness, target } = prober(1300)
    await p.probe(target, new AbortController().signal)
    assert.deepEqual(accused, ['a'])
    assert.equal(awareness.health, 1, 'helpers neither acked nor nacked')
  })

  it('a probe that ran through a stall of ours accuses nobody and marks us the slow one', async () => {
    const { p, accused, awareness, target } = prober(1300 + 250 + 2000)
    await p.probe(target, new AbortController().signal)
    assert.deepEqual(accused, [])
    assert.equal(awareness.health, 1)
  })

  it('a suspicion deadline moves out by the stall', () => {
    const t = new MemberTable({ selfPeerId: 'self', timing })
    t.setSelf(...rec('self'), 0)
    t.applyRecord(...rec('a'), 0)
    t.applySuspect('a', 1, 'b', 1000)
    const deadline = t.get('a')?.suspicion?.deadline as number
    assert.ok(deadline > 1000)
    t.postponeSuspicions(3000)
    assert.deepEqual(t.tick(deadline), [], 'not dead at the old deadline')
    assert.equal(t.get('a')?.status, 'suspect')
    assert.equal(t.tick(deadline + 3000).length, 1, 'dead at the moved one')
    assert.equal(t.get('a')?.status, 'dead')
  })
})
