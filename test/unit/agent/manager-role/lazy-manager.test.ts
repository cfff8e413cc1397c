import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lazyManagerFactory } from '../../../../agent/manager-role/lazy-manager.js'
import type { ManagerFactory, ManagerRole } from '../../../../protocol/manager-role.js'

/** A role that records what was done to it. */
function recordingRole (log: string[], epoch: number): ManagerRole {
  return {
    start: async () => { log.push(`start ${epoch}`) },
    stop: async () => { log.push(`stop ${epoch}`) },
    routes: () => new Map([[`GET /epoch/${epoch}`, async () => epoch]]),
    revision: () => epoch * 10
  }
}

describe('lazy manager factory', () => {
  it('loads the manager code on the first role start, not when the factory or a role is made, and only once', async () => {
    const log: string[] = []
    let loads = 0
    const factory = lazyManagerFactory(async () => {
      loads++
      return (({ epoch }) => recordingRole(log, epoch)) satisfies ManagerFactory
    })
    const first = factory({ epoch: 1 })
    assert.equal(loads, 0, 'making a role does not load the manager')
    assert.deepEqual([...first.routes().keys()], [], 'no routes before start')
    await first.start()
    assert.equal(loads, 1)
    assert.deepEqual([...first.routes().keys()], ['GET /epoch/1'])
    assert.equal(first.revision?.(), 10)
    await first.stop()
    const second = factory({ epoch: 2 })
    await second.start()
    await second.stop()
    assert.equal(loads, 1, 'the loaded code serves later epochs')
    assert.deepEqual(log, ['start 1', 'stop 1', 'start 2', 'stop 2'])
  })

  it('a failed load fails that start and is tried again on the next one', async () => {
    const log: string[] = []
    let loads = 0
    const factory = lazyManagerFactory(async () => {
      loads++
      if (loads === 1) throw new Error('cannot read chunk')
      return ({ epoch }) => recordingRole(log, epoch)
    })
    const failed = factory({ epoch: 3 })
    await assert.rejects(failed.start(), /cannot read chunk/)
    await failed.stop() // nothing started: nothing to stop
    const retry = factory({ epoch: 3 })
    await retry.start()
    assert.equal(loads, 2)
    assert.deepEqual(log, ['start 3'])
  })

  it('a role that is stopped without having started does not load anything', async () => {
    let loads = 0
    const factory = lazyManagerFactory(async () => { loads++; return ({ epoch }) => recordingRole([], epoch) })
    await factory({ epoch: 4 }).stop()
    assert.equal(loads, 0)
  })
})
