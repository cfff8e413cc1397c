import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { machineShare, parseProcStat } from '../../../bench/commission/machine-load.js'

describe('machine CPU shares from /proc/stat', () => {
  it('reads what ran and what the hypervisor took, and their shares of all cores between two readings', () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    const a = parseProcStat('cpu  1000 0 500 8000 100 0 50 200 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n')
    assert.deepEqual(a, { busy: 1550, steal: 200, total: 9850 })
    const b = parseProcStat('cpu  1300 0 600 8350 100 0 100 400 0 0\n')
    assert.deepEqual(machineShare(a, b), { busyPct: 45, stealPct: 20 })
  })

  it('refuses what is not the cpu line, and readings that did not advance', () => {
    assert.equal(parseProcStat('cpu0 1 2 3 4 5 6 7 8\n'), null)
    assert.equal(parseProcStat('cpu 1 2 x 4 5 6 7 8\n'), null)
    assert.equal(parseProcStat('cpu 1 2 3\n'), null)
    const a = parseProcStat('cpu 1 0 1 10 0 0 0 0 0 0')
    assert.equal(machineShare(a, a), null)
    assert.equal(machineShare(null, a), null)
  })
})
