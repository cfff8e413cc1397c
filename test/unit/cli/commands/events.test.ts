import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient } from '../../../../cli/client.js'
import { events, eventsFollow } from '../../../../cli/commands/events.js'
import type { EventsFilter } from '../../../../cli/client.js'
import type { LifecycleEvent } from '../../../../protocol/nodes.js'
import { ExitError, unreachableError } from '../../../../cli/errors.js'
import { EVENTS, startManagerFixture, type ManagerFixture } from '../manager-fixture.js'

describe('clusterctl events', () => {
  let fx: ManagerFixture
  let client: ApiClient
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('prints every transition, oldest first: SEQ TIME NODE TYPE FROM TO JOB ACTOR REASON', async () => {
    assert.equal(await events(client, { output: 'table' }), [
      'SEQ   TIME                       NODE   TYPE                   FROM            TO              JOB            ACTOR        REASON',
      '3     2026-11-22T09:00:00.000Z   db1    discovered             -               discovered      -              membership   -',
      '7     2026-11-22T09:30:00.000Z   db1    commission-requested   discovered      commissioning   j-20261122-1   operator     -',
      '9     2026-11-22T10:00:00.000Z   db1    job-succeeded          commissioning   commissioned    j-20261122-1   job-runner   -',
      ''
    ].join('\n'))
    assert.deepEqual(fx.requestsTo('listEvents').at(-1)?.query, {})
  })

  it('passes --node and --limit; json is the LifecycleEvents as the manager sent them', async () => {
    assert.deepEqual(JSON.parse(await events(client, { output: 'json', node: 'db1', limit: '5' })), EVENTS)
    assert.deepEqual(fx.requestsTo('listEvents').at(-1)?.query, { node: 'db1', limit: '5' })
  })

  it('refuses a bad --limit locally', async () => {
    await assert.rejects(events(client, { output: 'table', limit: 'ten' }), (err: unknown) => err instanceof ExitError && err.exitCode === 2 && /^--limit: expected a whole number from 1 to 100000; got "ten"$/.test(err.message))
    await assert.rejects(events(client, { output: 'table', limit: '0' }), (err: unknown) => err instanceof ExitError && err.exitCode === 2)
  })

  it('--follow: the header once, then new events as lines; -o json one event per line; a retry is noted on stderr', async () => {
    const [first, second, third] = EVENTS as [LifecycleEvent, LifecycleEvent, LifecycleEvent]
    const run = async (output: 'table' | 'json'): Promise<{ out: string, warnings: string[] }> => {
      const controller = new AbortController()
      const steps: Array<LifecycleEvent[] | Error> = [[first, second], unreachableError('cannot reach the agent'), [third], []]
      const scripted = {
        events: async (_filter: EventsFilter): Promise<LifecycleEvent[]> => {
          const step = steps.shift()
          if (steps.length === 0) controller.abort()
          if (step instanceof Error) throw step
          return step ?? []
        }
      } as unknown as ApiClient
      const warnings: string[] = []
      let out = ''
      const ctx = { tty: false, columns: 100, warn: (t: string) => { warnings.push(t) } }
      for await (const chunk of eventsFollow(scripted, { output, follow: true, followOptions: { pollIntervalMs: 1, firstDelayMs: 1, signal: controller.signal } }, ctx)) out += chunk
      return { out, warnings }
    }
    const table = await run('table')
    const lines = table.out.split('\n').filter(l => l !== '')
    assert.equal(lines.length, 4)
    assert.match(lines[0] ?? '', /^SEQ\s+TIME\s+NODE\s+TYPE/)
    assert.deepEqual(lines.slice(1).map(l => l.split(/\s+/)[0]), [first, second, third].map(e => String(e.gseq)))
    assert.deepEqual(table.warnings.map(w => w.replace(/\(attempt \d+\)/, '')), ['lost the manager: cannot reach the agent; retrying '])
    const json = await run('json')
    assert.deepEqual(json.out.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as LifecycleEvent), [first, second, third])
  })
})
