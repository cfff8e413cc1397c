// The sweeper on this machine's real process table: real child processes tagged with leases,
// one ignoring SIGTERM, one forking a child that clears its environment.
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { LeaseSweeper, tagOf, victims, type ProcInfo } from '../../../../agent/fencing/lease-sweeper.js'
import { waitFor } from '../../../harness/poll.js'

// Random ids: the sweep looks at every process of this machine (other tests' too).
const A = `3:${randomBytes(16).toString('hex')}`
const B = `4:${randomBytes(16).toString('hex')}`
const OTHER = `9:${randomBytes(16).toString('hex')}`

describe('lease sweeper', () => {
  it('finds the tag in an environ blob, only as a whole variable name', () => {
    assert.equal(tagOf(Buffer.from(`PATH=/bin\0CLUSTERD_LEASE=${A}\0HOME=/root\0`)), A)
    assert.equal(tagOf(Buffer.from(`CLUSTERD_LEASE=${A}`)), A)
    assert.equal(tagOf(Buffer.from(`XCLUSTERD_LEASE=${A}\0`)), undefined)
    assert.equal(tagOf(Buffer.from('CLUSTERD_LEASE=\0')), undefined)
    assert.equal(tagOf(Buffer.alloc(0)), undefined)
    assert.equal(tagOf(Buffer.from(`CLUSTERD_LEASE=${'x'.repeat(1000)}`))?.length, 64)
  })

  it('chooses processes of ended leases this node granted and their descendants, never the kept lease, others\' or excluded ones', () => {
    const procs: ProcInfo[] = [
      { pid: 10, ppid: 1, start: '1', tag: A },
      { pid: 11, ppid: 10, start: '1' }, // child that cleared its environment
      { pid: 12, ppid: 11, start: '1' },
      { pid: 20, ppid: 1, start: '1', tag: B },
      { pid: 30, ppid: 1, start: '1', tag: OTHER }, // not granted by this node
      { pid: 40, ppid: 1, start: '1' },
      { pid: 50, ppid: 1, start: '1', tag: A }
    ]
    const pids = (ps: ProcInfo[]): number[] => ps.map(p => p.pid).sort((x, y) => x - y)
    assert.deepEqual(pids(victims(procs, new Set([A, B]), B)), [10, 11, 12, 50])
    assert.deepEqual(pids(victims(procs, new Set([A, B]), null)), [10, 11, 12, 20, 50])
    assert.deepEqual(pids(victims(procs, new Set([A, B]), null, new Set([50]))), [10, 11, 12, 20])
    assert.deepEqual(victims(procs, new Set(), null), [])
  })

  const children: ChildProcess[] = []
  after(() => { for (const c of children) { try { c.kill('SIGKILL') } catch {} } })
  const start = (tag: string | undefined, script: string): ChildProcess => {
    const c = spawn('/bin/sh', ['-c', script], { env: { PATH: '/usr/bin:/bin', ...(tag !== undefined ? { CLUSTERD_LEASE: tag } : {}) }, stdio: 'ignore' })
    children.push(c)
    return c
  }
  const alive = async (pid: number): Promise<boolean> => {
    try { return !/^\S+ \(.*\) [ZX] /.test(await readFile(`/proc/${pid}/stat`, 'latin1')) } catch { return false }
  }

  it('stops every process of an ended lease on this machine, SIGKILL for one that ignores SIGTERM, and leaves the rest', async () => {
    const plain = start(A, 'exec sleep 60')
    const stubborn = start(A, 'trap "" TERM; sleep 60 & wait; sleep 60')
    // A child that starts with an empty environment: found as a descendant.
    const parent = start(A, 'env -i /bin/sleep 61 & wait')
    const kept = start(B, 'exec sleep 60')
    const foreign = start(OTHER, 'exec sleep 60')
    const untagged = start(undefined, 'exec sleep 60')
    const sweeper = new LeaseSweeper({ graceMs: 300, deadlineMs: 3000 })
    await waitFor(async () => (await sweeper.scan()).filter(p => p.tag === A).length >= 3 ? true : undefined, { timeoutMs: 5000, intervalMs: 20, message: 'children not started' })
    const started = Date.now()
    const r = await sweeper.sweep(new Set([A, B]), B)
    assert.deepEqual(r.survivors, [])
    assert.ok(Date.now() - started < 3000)
    for (const c of [plain, stubborn, parent]) assert.equal(await alive(c.pid as number), false, `pid ${String(c.pid)} of the ended lease lives`)
    assert.ok(!(await sweeper.scan()).some(p => p.tag === A), 'a tagged process of A is left')
    for (const c of [kept, foreign, untagged]) assert.equal(await alive(c.pid as number), true, `pid ${String(c.pid)} should live`)
    assert.ok(r.signalled.some(p => p.tag === null), 'the cleared-environment child was stopped as a descendant')
    assert.ok(r.signalled.every(p => p.tag === null || p.tag === A))
  })
})
