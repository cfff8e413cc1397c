import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { MemberFacts, type MemberFactsComponents } from '../../../../agent/membership/member-facts.js'
import type { NodeFacts } from '../../../../protocol/members.js'
import type { WireResult } from '../../../../protocol/membership-wire.js'
import { waitFor } from '../../../harness/poll.js'

const logger = pino({ level: 'silent' })
const facts = (hostname: string): NodeFacts => ({
  hostname, addresses: [], os: { platform: 'linux', release: '6', distro: 'd' }, kernel: 'k', arch: 'x64', cpus: 1, memoryBytes: 1, disks: [], agentVersion: '0', sshHostKeys: []
})

/** A fake network: each member serves the facts named by its digest, or fails while `down`. */
interface Setup { mf: MemberFacts, calls: string[], down: Set<string>, digests: Map<string, string>, fetched: string[], release: () => void, hold: () => void, clock: number }

function setup (init: { retryMs?: number } = {}): Setup {
  const calls: string[] = []
  const down = new Set<string>()
  const digests = new Map<string, string>()
  const fetched: string[] = []
  let gate: Promise<void> | null = null
  let open: () => void = () => {}
  const c: MemberFactsComponents = {
    logger,
    fetch: async (id, _addr, digest): Promise<WireResult<NodeFacts>> => {
      calls.push(`${id}@${digest}`)
      if (gate !== null) await gate
      return down.has(id) ? { ok: false, reason: 'unreachable' } : { ok: true, value: facts(`${id}-${digest}`) }
    },
    onFetched: id => { fetched.push(id) },
    currentDigest: id => digests.get(id) ?? null
  }
  const t: Setup = {
    mf: null as unknown as MemberFacts, calls, down, digests, fetched, clock: 1000,
    hold: () => { gate = new Promise(resolve => { open = resolve }) },
    release: () => { gate = null; open() }
  }
  t.mf = new MemberFacts(c, { concurrency: 2, retries: 3, retryMs: init.retryMs ?? 10, now: () => t.clock })
  return t
}

describe('member facts cache (fetched on demand, keyed by digest)', () => {
  it('fetches once per digest, shares concurrent fetches, and serves the cache until the digest changes', async () => {
    const t = setup()
    t.digests.set('a', 'd1')
    t.hold()
    const both = Promise.all([t.mf.load([{ id: 'a', addr: '/x', digest: 'd1' }], AbortSignal.timeout(5000)), t.mf.load([{ id: 'a', addr: '/x', digest: 'd1' }], AbortSignal.timeout(5000))])
    await waitFor(() => t.calls.length === 1 ? true : undefined, { timeoutMs: 2000 })
    t.release()
    await both
    assert.deepEqual(t.calls, ['a@d1'])
    assert.equal(t.mf.get('a', 'd1')?.hostname, 'a-d1')
    await t.mf.load([{ id: 'a', addr: '/x', digest: 'd1' }], AbortSignal.timeout(5000))
    assert.equal(t.calls.length, 1, 'cached')
    assert.equal(t.mf.get('a', 'd2'), null, 'a new digest is not served from the old facts')
    await t.mf.load([{ id: 'a', addr: '/x', digest: 'd2' }], AbortSignal.timeout(5000))
    assert.equal(t.mf.get('a', 'd2')?.hostname, 'a-d2')
    assert.equal(t.mf.get('a', null), null)
  })

  it('load gives up at its signal and leaves failures uncached', async () => {
    const t = setup()
    t.down.add('b')
    await t.mf.load([{ id: 'b', addr: '/x', digest: 'd1' }], AbortSignal.timeout(5000))
    assert.equal(t.mf.get('b', 'd1'), null)
    await t.mf.load([{ id: 'b', addr: '/x', digest: 'd1' }], AbortSignal.timeout(5000))
    assert.equal(t.calls.filter(c => c.startsWith('b@')).length, 1, 'a recent failure is not asked again at once')
    t.down.delete('b')
    t.clock += 5000
    await t.mf.load([{ id: 'b', addr: '/x', digest: 'd1' }], AbortSignal.timeout(5000))
    assert.notEqual(t.mf.get('b', 'd1'), null, 'asked again after the hold')
    t.hold()
    const started = Date.now()
    // A ref'd timer (AbortSignal.timeout's is unref'd and the held fetch keeps nothing alive).
    const ac = new AbortController()
    const timer = setTimeout(() => { ac.abort() }, 100)
    await t.mf.load([{ id: 'c', addr: '/x', digest: 'd1' }], ac.signal)
    clearTimeout(timer)
    assert.ok(Date.now() - started < 2000)
    t.release()
    t.mf.stop()
  })

  it('fetchNow asks one member at once despite a recent failure (the member that failed while it started), and gives up at its signal', async () => {
    const t = setup()
    t.down.add('b')
    const wanted = { id: 'b', addr: '/x', digest: 'd1' }
    await t.mf.load([wanted], AbortSignal.timeout(5000))
    assert.equal(await t.mf.fetchNow(wanted, AbortSignal.timeout(5000)), false, 'still down')
    assert.equal(t.calls.length, 2, 'the failure moments ago did not hold fetchNow back')
    t.down.delete('b')
    await t.mf.load([wanted], AbortSignal.timeout(5000))
    assert.equal(t.calls.length, 2, 'load still holds the member back')
    assert.equal(await t.mf.fetchNow(wanted, AbortSignal.timeout(5000)), true)
    assert.equal(t.mf.get('b', 'd1')?.hostname, 'b-d1')
    assert.equal(await t.mf.fetchNow(wanted, AbortSignal.timeout(5000)), true, 'cached')
    assert.equal(t.calls.length, 3)
    t.hold()
    const ac = new AbortController()
    const pending = t.mf.fetchNow({ id: 'c', addr: '/x', digest: 'd1' }, ac.signal)
    await waitFor(() => t.calls.length === 4 ? true : undefined, { timeoutMs: 2000 })
    ac.abort()
    assert.equal(await pending, false, 'the held fetch is not waited for past the signal')
    t.release()
    t.mf.stop()
  })

  it('fetches in the background only while watched, retries failures, and reports arrivals', async () => {
    const t = setup()
    t.digests.set('a', 'd1')
    t.mf.noticed({ id: 'a', addr: '/x', digest: 'd1' })
    assert.equal(t.calls.length, 0, 'nobody watches: nothing fetched')
    const unwatch = t.mf.watch()
    t.down.add('a')
    t.mf.noticed({ id: 'a', addr: '/x', digest: 'd1' })
    await waitFor(() => t.calls.length >= 2 ? true : undefined, { timeoutMs: 2000, message: 'no retry' })
    t.down.delete('a')
    await waitFor(() => t.fetched.includes('a') ? true : undefined, { timeoutMs: 2000, message: 'no arrival after retries' })
    assert.equal(t.mf.get('a', 'd1')?.hostname, 'a-d1')
    unwatch()
    assert.equal(t.mf.watching, false)
    t.mf.stop()
  })

  it('does not report facts whose digest is no longer the member\'s', async () => {
    const t = setup()
    const unwatch = t.mf.watch()
    t.digests.set('a', 'd2')
    t.mf.noticed({ id: 'a', addr: '/x', digest: 'd1' })
    await waitFor(() => t.mf.stats.fetches === 1 && t.calls.length === 1 ? true : undefined, { timeoutMs: 2000 })
    await waitFor(() => t.mf.get('a', 'd1') !== null ? true : undefined, { timeoutMs: 2000 })
    assert.deepEqual(t.fetched, [])
    unwatch()
    t.mf.stop()
  })

  it('runs at most `concurrency` fetches at once', async () => {
    const t = setup()
    t.hold()
    const all = t.mf.load(['a', 'b', 'c', 'd', 'e'].map(id => ({ id, addr: '/x', digest: 'd1' })), AbortSignal.timeout(5000))
    await waitFor(() => t.calls.length === 2 ? true : undefined, { timeoutMs: 2000 })
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(t.calls.length, 2)
    t.release()
    await all
    assert.equal(t.calls.length, 5)
    for (const id of ['a', 'b', 'c', 'd', 'e']) assert.notEqual(t.mf.get(id, 'd1'), null)
  })
})
