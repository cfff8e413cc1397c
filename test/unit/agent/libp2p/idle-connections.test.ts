import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import type { Connection } from '@libp2p/interface'
import { IdleConnections } from '../../../../agent/libp2p/idle-connections.js'

interface FakeConn { id: string, peer: string, streams: number, open: number, closed: boolean }

function setup (conns: FakeConn[], keep: string[] = []): { idle: IdleConnections, clock: { t: number } } {
  const clock = { t: 0 }
  const libp2p = {
    getConnections: () => conns.filter(c => !c.closed).map(c => ({
      id: c.id,
      remotePeer: { toString: () => c.peer },
      streams: new Array(c.streams).fill({}),
      timeline: { open: c.open },
      close: async () => { c.closed = true },
      abort: () => { c.closed = true }
    }) as unknown as Connection)
  }
  const idle = new IdleConnections({ libp2p, logger: pino({ level: 'silent' }), keep: () => keep, now: () => clock.t }, { idleMs: 30_000 })
  return { idle, clock }
}

describe('idle connections', () => {
  it('closes a connection without streams for 30 s, and not before', async () => {
    const c: FakeConn = { id: '1', peer: 'p', streams: 0, open: 0, closed: false }
    const { idle, clock } = setup([c])
    clock.t = 29_999
    idle.sweep()
    assert.equal(c.closed, false)
    clock.t = 30_000
    idle.sweep()
    await Promise.resolve()
    assert.equal(c.closed, true)
    assert.equal(idle.closed, 1)
  })

  it('counts idleness from the last time a stream was seen', () => {
    const c: FakeConn = { id: '1', peer: 'p', streams: 1, open: 0, closed: false }
    const { idle, clock } = setup([c])
    clock.t = 40_000
    idle.sweep()
    c.streams = 0
    clock.t = 69_000
    idle.sweep()
    assert.equal(c.closed, false, '29 s after its last stream')
    clock.t = 70_000
    idle.sweep()
    assert.equal(c.closed, true)
  })

  it('never closes a connection to a kept peer (the manager)', () => {
    const m: FakeConn = { id: '1', peer: 'manager', streams: 0, open: 0, closed: false }
    const o: FakeConn = { id: '2', peer: 'other', streams: 0, open: 0, closed: false }
    const { idle, clock } = setup([m, o], ['manager'])
    clock.t = 3_600_000
    idle.sweep()
    assert.equal(m.closed, false)
    assert.equal(o.closed, true)
  })
})
