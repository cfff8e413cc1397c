// The membership benchmark's view watcher (bench/membership/poll-views.ts): views come from the
// agents' own status-change logs as they are written and from a slow poll of their APIs, so the
// benchmark's timing does not depend on how hard it polls. Fake agents (an output stream and a
// canned API view): this is the watcher's logic, the real agents are in `npm run bench:membership`.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import type { ChildProcess } from 'node:child_process'
import { allAlive, pollViews } from '../../../bench/membership/poll-views.js'
import { AgentOutput, loggedView, type BenchAgent, type View } from '../../../bench/membership/system.js'
import type { TestHost } from '../../../test/harness/hosts.js'

/** An agent whose log lines the test writes and whose API answers `apiView`. */
class FakeAgent {
  readonly stdout = new EventEmitter()
  readonly output: AgentOutput
  apiView: View = new Map()
  polls = 0
  readonly agent: BenchAgent

  constructor (name: string) {
    const proc = { stdout: this.stdout, stderr: new EventEmitter() } as unknown as ChildProcess
    this.output = new AgentOutput(proc, {
      ready: line => line === 'ready',
      change: line => {
        const m = /^(\S+) is (\S+)( \(log only\))?$/.exec(line)
        return m === null ? null : { member: m[1] as string, to: m[2] as string, inView: m[3] === undefined }
      }
    })
    const out = this.output
    this.agent = {
      name,
      host: { name } as unknown as TestHost,
      pid: 0,
      spawnedAt: 0,
      get readyAt () { return out.readyAt },
      changes: out.changes,
      watch: l => out.watch(l),
      view: async () => { this.polls++; return new Map(this.apiView) },
      kill: async () => {},
      tail: () => out.tail()
    }
  }

  log (line: string): void { this.stdout.emit('data', Buffer.from(line + '\n')) }
}

describe('membership benchmark: views from logs and polls', () => {
  it('folds an agent\'s logged changes into its view, leaving out what its view does not show', () => {
    const a = new FakeAgent('a')
    a.log('b is alive')
    a.log('c is alive')
    a.log('b is suspect (log only)')
    a.log('c is failed')
    assert.deepEqual([...loggedView(a.output.changes)], [['b', 'alive'], ['c', 'failed']])
    const second = a.output.changes[1]?.at as number
    assert.deepEqual([...loggedView(a.output.changes, second)].length, 2)
    assert.deepEqual([...loggedView(a.output.changes, -1)], [])
  })

  it('ends on a logged change, without waiting for the next poll round', async () => {
    const a = new FakeAgent('a')
    a.apiView = new Map([['a', 'alive']])
    const views = new Map<string, View>()
    const watching = pollViews([a.agent], (ag, v) => { views.set(ag.name, v) }, () => allAlive(views.get('a'), ['a', 'b']),
      { intervalMs: 60_000, timeoutMs: 30_000 })
    setImmediate(() => { a.log('a is alive'); a.log('b is alive') })
    const outcome = await watching
    assert.equal(outcome.done, true)
    assert.equal(outcome.rounds, 1, 'one poll round, the log did the rest')
    assert.equal(a.polls, 1)
  })

  it('replays changes logged before the watch began, each with the time it was read', async () => {
    const a = new FakeAgent('a')
    a.log('b is alive')
    const loggedAt = a.output.changes[0]?.at as number
    const firstAlive = new Map<string, number>()
    const outcome = await pollViews([a.agent], (_ag, v, at) => {
      if (v.get('b') === 'alive' && !firstAlive.has('b')) firstAlive.set('b', at)
    }, () => firstAlive.has('b'), { intervalMs: 60_000, timeoutMs: 30_000, replaySince: loggedAt - 1 })
    assert.equal(outcome.done, true)
    assert.equal(firstAlive.get('b'), loggedAt)
  })

  it('without a replay, starts from the view the log describes now', async () => {
    const a = new FakeAgent('a')
    a.log('b is alive')
    a.log('b is failed')
    const seen: string[] = []
    await pollViews([a.agent], (_ag, v) => { seen.push(v.get('b') ?? 'absent') }, () => seen.length > 0, { intervalMs: 60_000, timeoutMs: 30_000 })
    assert.deepEqual(seen, ['failed'], 'the history before the watch is not handed over')
  })

  it('in poll-only mode, sees only what the API answers', async () => {
    const a = new FakeAgent('a')
    a.apiView = new Map([['b', 'alive']])
    a.log('b is failed')
    const seen: string[] = []
    const outcome = await pollViews([a.agent], (_ag, v) => { seen.push(v.get('b') ?? 'absent') }, () => seen.length >= 2,
      { intervalMs: 1, timeoutMs: 30_000, pollOnly: true })
    assert.equal(outcome.done, true)
    assert.deepEqual(seen, ['alive', 'alive'])
  })

  it('gives up at the deadline when neither source satisfies it', async () => {
    const a = new FakeAgent('a')
    const outcome = await pollViews([a.agent], () => {}, () => false, { intervalMs: 5, timeoutMs: 50 })
    assert.equal(outcome.done, false)
    assert.ok(outcome.rounds >= 1)
  })
})
