import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { agreement } from '../../harness/agent-process.js'
import type { ManagerInfo } from '../../../protocol/manager-wire.js'

const m = (peerId: string, epoch: number): ManagerInfo => ({ peerId, epoch, name: `n-${peerId}`, since: '2025-01-01T00:00:00.000Z', local: false })

describe('agreement (the manager a set of agents agrees on)', () => {
  it('is the manager every view names, same peer and same epoch', () => {
    assert.deepEqual(agreement([m('a', 2), m('a', 2), m('a', 2)]), m('a', 2))
  })

  it('is undefined while one view names another peer or epoch, or none', () => {
    assert.equal(agreement([m('a', 2), m('b', 2)]), undefined)
    assert.equal(agreement([m('a', 2), m('a', 3)]), undefined)
    assert.equal(agreement([m('a', 2), null]), undefined)
    assert.equal(agreement([null, m('a', 2)]), undefined)
  })

  it('is undefined for no views at all', () => {
    assert.equal(agreement([]), undefined)
  })
})
