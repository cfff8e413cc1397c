/**
 * followEvents against a scripted client: the recent events, then only new ones (by gseq, or
 * by the node's seq with --node), retries with a note while the manager is out of reach and
 * resumes without repeating an event, gives up after the window, and fails at once on an
 * error that is not about reachability.
 */

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { ApiClient, EventsFilter } from '../../../cli/client.js'
import { ExitError, unreachableError } from '../../../cli/errors.js'
import { followEvents, type EventsFollowItem } from '../../../cli/events-follow.js'
import { ClusterdError } from '../../../protocol/errors.js'
import type { LifecycleEvent } from '../../../protocol/nodes.js'

const event = (gseq: number, node = 'db1', seq = gseq): LifecycleEvent => ({
  node, seq, gseq, at: '2026-12-06T10:00:00.000Z', type: 'discovered', from: null, to: 'discovered', jobId: null, actor: 'membership', reason: null
} as unknown as LifecycleEvent)

/** A client whose `events` answers from a script, one step per call; records each filter. After the script, aborts. */
function scripted (steps: Array<LifecycleEvent[] | Error>, controller: AbortController): { client: ApiClient, filters: EventsFilter[] } {
  const filters: EventsFilter[] = []
  const client = {
    events: async (filter: EventsFilter): Promise<LifecycleEvent[]> => {
      filters.push({ ...filter })
      const step = steps.shift()
      if (steps.length === 0) controller.abort()
      if (step instanceof Error) throw step
      return step ?? []
    }
  } as unknown as ApiClient
  return { client, filters }
}

async function collect (items: AsyncIterable<EventsFollowItem>): Promise<EventsFollowItem[]> {
  const out: EventsFollowItem[] = []
  for await (const item of items) out.push(item)
  return out
}

describe('followEvents', () => {
  it('starts with the recent events, then yields only new ones, each once, across retries', async () => {
    const controller = new AbortController()
    const { client, filters } = scripted([
      [event(1), event(2)],
      [],
      unreachableError('cannot reach the agent'),
      new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'no manager is elected'),
      [event(2), event(3)], // a new manager answering from an older point: 2 is not repeated
      [event(4)],
      []
    ], controller)
    const items = await collect(followEvents(client, { limit: 50, pollIntervalMs: 1, firstDelayMs: 1, signal: controller.signal }))
    assert.deepEqual(items.map(i => i.type === 'events' ? i.events.map(e => e.gseq) : i.attempt), [[1, 2], 1, 2, [3], [4]])
    const notes = items.filter(i => i.type === 'reconnect').map(i => i.type === 'reconnect' ? i.reason : '')
    assert.match(notes[1] ?? '', /CLUSTERD_ERR_NO_MANAGER/)
    assert.deepEqual(filters, [{ limit: 50 }, { after: 2, limit: 1000 }, { after: 2, limit: 1000 }, { after: 2, limit: 1000 }, { after: 2, limit: 1000 }, { after: 3, limit: 1000 }, { after: 4, limit: 1000 }])
  })

  it('with --node, the cursor is the node\'s own seq', async () => {
    const controller = new AbortController()
    const { client, filters } = scripted([[event(10, 'db1', 1), event(12, 'db1', 2)], [event(20, 'db1', 3)], []], controller)
    const items = await collect(followEvents(client, { node: 'db1', pollIntervalMs: 1, signal: controller.signal }))
    assert.deepEqual(items.map(i => i.type === 'events' ? i.events.map(e => e.seq) : null), [[1, 2], [3]])
    assert.deepEqual(filters, [{ node: 'db1' }, { node: 'db1', after: 2, limit: 1000 }, { node: 'db1', after: 3, limit: 1000 }])
  })

  it('gives up when the manager stays out of reach for the window, and fails at once on another error', async () => {
    const controller = new AbortController()
    const down = Array.from({ length: 50 }, () => unreachableError('cannot reach the agent'))
    const { client } = scripted([[], ...down], controller)
    await assert.rejects(collect(followEvents(client, { pollIntervalMs: 1, firstDelayMs: 5, reconnectWindowMs: 40 })),
      (err: unknown) => err instanceof ExitError && err.exitCode === 6 && /lost the lifecycle event log for 0 s/.test(err.message))
    const other = scripted([new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', 'after must be an integer')], new AbortController())
    await assert.rejects(collect(followEvents(other.client, { pollIntervalMs: 1 })), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_INVALID_ARGUMENT')
  })
})
