// Authorise, then read (docs/architecture.md): real agents on real hosts, attacked by a real
// libp2p peer in another process holding the cluster secret (test/integration/hostile-peer.ts).
// A non-eligible member (never a manager) sends replication frames (one of 64 MiB, then 64 streams of
// 4 MiB of valid JSON): the replica refuses them before reading, at most its stream cap get an
// answer, the rest are reset, and its peak RSS stays within a tight bound. The forwarder reads
// members' requests only within its cap and byte budget and refuses non-members unread. A
// stranger without the secret who replays an agent's hello holds an upgrade slot for seconds
// at most, and from one address only a few; the cluster keeps working throughout.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, NODE, PORT, REPO } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import { REPLICATE_MAX_INBOUND_STREAMS } from '../../agent/replica/replica.js'
import { FORWARD_READ_BUDGET_BYTES } from '../../agent/manager-role/manager-gateway.js'
import { MAX_FORWARD_REQUEST_BYTES } from '../../protocol/manager-wire.js'

const HOSTILE = join(REPO, 'dist/test/integration/hostile-peer.js')
const MiB = 1024 * 1024

interface StreamResult { handed: number, ended: 'reply' | 'reset' | 'open-refused' | 'done', ms: number, reply?: string, error?: string }

/** Resident and peak resident memory of a process, in bytes. */
async function memory (pid: number): Promise<{ rss: number, hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/** Reset a process's peak RSS to its current RSS (Linux: `5` into clear_refs). */
async function resetPeak (pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5')
}

describe('authorise, then read: hostile members and strangers on real agents', () => {
  let fleet: AgentFleet
  const h = (i: number): TestHost => fleet.host(i - 1)
  let a1: AgentProcess
  let a2: AgentProcess
  let a3: AgentProcess

  const target = async (a: AgentProcess): Promise<string> => {
    const m = (await a1.members())?.find(x => x.name === a.host.name)
    assert.ok(m !== undefined, `${a.host.name} is a member`)
    return `/ip4/${a.host.address}/tcp/${PORT}/p2p/${m.peerId}`
  }

  /** Run the hostile peer on h3: as h3's member identity, or a fresh one. */
  const attack = async (args: string[], identity: 'member' | 'fresh' = 'member'): Promise<StreamResult[]> => {
    const identityDir = identity === 'member' ? '/var/lib/clusterd' : '/tmp/hostile-fresh-identity'
    const r = await h(3).exec([NODE, HOSTILE, '--secret', fleet.secret, '--identity-dir', identityDir, '--listen', h(3).address, ...args], { timeoutMs: 120_000 })
    assert.equal(r.code, 0, r.stderr.slice(-2000))
    const line = r.stdout.trim().split('\n').at(-1) ?? ''
    return (JSON.parse(line) as { results: StreamResult[] }).results
  }

  /** Peak RSS growth of `a` while `fn` runs. */
  const peakGrowth = async (a: AgentProcess, fn: () => Promise<void>): Promise<number> => {
    const pid = a.proc.pid as number
    await resetPeak(pid)
    const before = await memory(pid)
    await fn()
    const after = await memory(pid)
    return after.hwm - before.rss
  }

  before(async () => {
    // h1 is the seed and the manager; h3 is a member that is never eligible.
    fleet = await AgentFleet.create({ suite: 'authorise-read', prefix: 'ar', count: 3, eligible: i => i !== 2 })
    a1 = await fleet.start(0)
    await waitFor(async () => (await a1.manager())?.local === true ? true : undefined, { timeoutMs: 60_000, message: 'h1 manager' })
    a2 = await fleet.start(1)
    a3 = await fleet.start(2)
    await fleet.waitForFormed()
    await fleet.waitForManager({ name: h(1).name, among: [a2], timeoutMs: 30_000 })
  })

  after(async () => {
    await fleet?.close()
  })

  it('a member that is not the manager: a 64 MiB replication frame is refused before it is read', async () => {
    const to = await target(a2)
    let results: StreamResult[] = []
    const growth = await peakGrowth(a2, async () => {
      results = await attack(['--target', to, '--protocol', 'replicate', '--streams', '1', '--bytes', String(64 * MiB)])
    })
    const r = results[0] as StreamResult
    assert.ok(r.ended === 'reply' || r.ended === 'reset', JSON.stringify(r))
    if (r.reply !== undefined) assert.match(r.reply, /not the current manager/)
    // Only what flow control let through before the refusal: yamux's initial window and one write.
    assert.ok(r.handed <= 1 * MiB, `the sender got ${r.handed} bytes into the stream`)
    assert.ok(r.ms < 10_000, `the stream ended after ${r.ms} ms`)
    assert.ok(growth < 16 * MiB, `the replica's peak RSS grew by ${(growth / MiB).toFixed(1)} MiB`)
    await waitFor(async () => /refused a replication stream before reading it/.test(a2.output) ? true : undefined, { timeoutMs: 5000, message: 'the replica logs the refusal' })
    console.log(`64 MiB frame: refused after ${r.ms} ms, ${(r.handed / 1024).toFixed(0)} KiB handed over, replica peak RSS +${(growth / MiB).toFixed(1)} MiB`)
  })

  it(`64 streams of 4 MiB replication frames: at most ${REPLICATE_MAX_INBOUND_STREAMS} answered, none read, memory bounded`, async () => {
    const to = await target(a2)
    let results: StreamResult[] = []
    const growth = await peakGrowth(a2, async () => {
      results = await attack(['--target', to, '--protocol', 'replicate', '--streams', '64', '--bytes', String(4 * MiB - 64), '--valid-json'])
    })
    const answered = results.filter(r => r.reply !== undefined)
    assert.ok(answered.length <= REPLICATE_MAX_INBOUND_STREAMS, `${answered.length} streams answered`)
    for (const r of answered) assert.match(r.reply ?? '', /not the current manager/)
    for (const r of results) assert.ok(r.handed <= 1 * MiB, `a stream took ${r.handed} bytes: ${JSON.stringify(r)}`)
    const handed = results.reduce((n, r) => n + r.handed, 0)
    // What this guards against is reading the burst (64 x 4 MiB = 256 MiB, copied several times
    // while parsed). What can arrive unread is bounded by flow control (yamux's 256 KiB initial
    // window per stream: 16 MiB for 64), and every arriving byte is copied a few times (socket
    // read, noise decryption, yamux frame) before V8 collects it, so the peak depends on when V8
    // collects: 8-32 MiB in 30 runs, 40.6 MiB once in CI beside four compilers. Hence a quarter
    // of the burst, not a figure just above the measurements.
    const bound = 64 * MiB
    assert.ok(growth < bound, `the replica's peak RSS grew by ${(growth / MiB).toFixed(1)} MiB (bound ${bound / MiB} MiB; ${(handed / MiB).toFixed(1)} MiB handed over)`)
    console.log(`64 x 4 MiB: ${answered.length} refused with a reply, ${results.length - answered.length} reset; ${(handed / MiB).toFixed(1)} MiB handed over in all; replica peak RSS +${(growth / MiB).toFixed(1)} MiB`)
  })

  it('the forwarder reads a member\'s requests only within its cap and byte budget', async () => {
    const to = await target(a1)
    // One request of 64 MiB: refused on its length, unread.
    const [big] = await attack(['--target', to, '--protocol', 'forward', '--streams', '1', '--bytes', String(64 * MiB)])
    // Unlike the replica, which refuses before it resumes the stream, the forwarder resumes it to
    // read the length prefix: what yamux had buffered by then is consumed (and its window granted
    // again) before the prefix is judged. CI saw 1.06 MiB handed over once (1 MiB was the bound),
    // so the bound is what shows the frame was not read: a small fraction of its 64 MiB.
    assert.ok(big !== undefined && big.handed <= 4 * MiB, JSON.stringify(big))
    if (big.reply !== undefined) assert.match(big.reply, /CLUSTERD_ERR_PAYLOAD_TOO_LARGE/)
    await waitFor(async () => /refused an oversized forwarded request before reading it/.test(a1.output) ? true : undefined, { timeoutMs: 5000, message: 'the forwarder logs the refusal' })
    // 64 requests at the cap: read a budget's worth at a time.
    let results: StreamResult[] = []
    const growth = await peakGrowth(a1, async () => {
      results = await attack(['--target', to, '--protocol', 'forward', '--streams', '64', '--bytes', String(MAX_FORWARD_REQUEST_BYTES - 64), '--valid-json'])
    })
    const notFound = results.filter(r => /CLUSTERD_ERR_NOT_FOUND/.test(r.reply ?? '')).length
    assert.ok(notFound > 0, `no forwarded request was read: ${JSON.stringify(results.slice(0, 3))}`)
    // Live memory is the read budget plus paused streams' windows (64 x 256 KiB); the peak RSS
    // is dominated by V8 collecting the parsed requests lazily (each 1.25 MiB frame is copied
    // about four times while it is parsed), so it depends on when V8 collects: measured +111 MiB
    // on loopback and +180 MiB once in CI with the machine also running a unit suite, where a
    // 64 x 4 MiB burst against the code before the budget peaked at +139 MiB after reading all
    // 256 MiB. So this bound guards against holding the burst (64 frames x 4 copies = 320 MiB),
    // not the budget itself: the budget (at most FORWARD_READ_BUDGET_BYTES read at once, FIFO)
    // is proven by test/unit/protocol/streams/bounded-frames.test.ts.
    const bound = 256 * MiB + FORWARD_READ_BUDGET_BYTES
    assert.ok(growth < bound, `the manager's peak RSS grew by ${(growth / MiB).toFixed(1)} MiB (bound ${(bound / MiB).toFixed(0)} MiB)`)
    console.log(`forwarder, 64 x ${(MAX_FORWARD_REQUEST_BYTES / MiB).toFixed(2)} MiB from a member: ${notFound} read and answered, manager peak RSS +${(growth / MiB).toFixed(1)} MiB`)
  })

  it('a secret holder that is not a member is refused by the forwarder and the replica before they read', async () => {
    const fwd = await attack(['--target', await target(a1), '--protocol', 'forward', '--streams', '1', '--bytes', String(MiB), '--valid-json'], 'fresh')
    assert.match(fwd[0]?.reply ?? '', /does not know the forwarding agent as a member/, JSON.stringify(fwd))
    assert.ok((fwd[0]?.handed ?? Infinity) <= MiB)
    const rep = await attack(['--target', await target(a2), '--protocol', 'replicate', '--streams', '1', '--bytes', String(MiB), '--valid-json'], 'fresh')
    assert.ok(rep[0]?.ended === 'reply' || rep[0]?.ended === 'reset', JSON.stringify(rep))
    assert.match(rep[0]?.reply ?? 'not the current manager', /not the current manager/)
  })

  it('a stranger replaying an agent\'s hello holds an upgrade slot for seconds at most, and only a few per address', async () => {
    const raw = async (streams: number, garbage: boolean): Promise<Array<{ closedMs: number, refusedAtConnect: boolean, received: number }>> => {
      const r = await h(3).exec([NODE, HOSTILE, '--raw-hello', '--host', h(1).address, '--port', String(PORT), '--streams', String(streams), ...(garbage ? ['--garbage'] : [])], { timeoutMs: 60_000 })
      assert.equal(r.code, 0, r.stderr.slice(-2000))
      return (JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { results: Array<{ closedMs: number, refusedAtConnect: boolean, received: number }> }).results
    }
    // Garbage after the replayed hello: the key confirmation fails at once.
    for (const c of await raw(3, true)) assert.ok(c.closedMs >= 0 && c.closedMs < 1500, `closed after ${c.closedMs} ms`)
    // Silent after the replayed hello, 20 at once from one address: a few are held, for the
    // upgrade timeout at most; the rest are closed at once.
    const t0 = Date.now()
    const during = (async () => {
      // Meanwhile another member's requests still reach the manager over new connections.
      await new Promise(resolve => setTimeout(resolve, 500))
      return await a2.client.request('GET', '/v1/nodes')
    })()
    const silent = await raw(20, false)
    assert.ok(Array.isArray(await during), 'h2 was served while the stranger held its slots')
    const held = silent.filter(c => c.received > 0 && c.closedMs > 1000)
    assert.ok(held.length <= 4, `${held.length} connections from one address were held: ${JSON.stringify(silent)}`)
    for (const c of silent) assert.ok(c.closedMs >= 0 && c.closedMs < 6000, `a connection was held for ${c.closedMs} ms`)
    console.log(`hello replay: 20 silent connections from one address, ${held.length} held for at most ${Math.max(...silent.map(c => c.closedMs))} ms; run took ${Date.now() - t0} ms`)
  })

  it('after all that the cluster is intact: same manager, every member alive, writes replicate', async () => {
    assert.equal((await a1.manager())?.name, h(1).name)
    for (const a of fleet.agents) {
      assert.equal(a.proc.exitCode, null, `${a.host.name} still runs`)
      assert.equal((await a.members())?.filter(m => m.status === 'alive').length, 3, `${a.host.name} sees 3 alive`)
    }
    await a3.client.request('PUT', '/v1/config/job-timeout', { value: '777' })
    await waitFor(async () => {
      const m = await a1.client.request<{ revision: number }>('GET', '/v1/replica')
      const r = await a2.client.request<{ revision: number }>('GET', '/v1/replica')
      return r.revision === m.revision ? true : undefined
    }, { timeoutMs: 30_000, message: 'h2 replicates the write' })
  })
})
