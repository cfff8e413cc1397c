import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseEventLine, ResultCollector } from '../../../../manager/ansible/events.js'
import { describeDrift, driftOf, isMaintenanceKind, maintenanceNote } from '../../../../manager/jobs/maintenance.js'
import type { JobNodeProgress } from '../../../../protocol/jobs.js'

// A check-mode (--check --diff) run as ansible-runner 2.3.1 prints it with -j, trimmed to
// the fields clusterd reads: two tasks would change n1 (one of them in a loop), none n2.
const ev = (event: string, data: Record<string, unknown>): string => JSON.stringify({ event, event_data: { playbook: 'site.yml', play: 'clusterd worker', ...data } })
const CHECK_RUN = [
  ev('runner_on_ok', { host: 'n1', task: 'State directories exist', res: { changed: false } }),
  ev('runner_on_ok', { host: 'n1', task: 'Worker config is rendered', res: { changed: true, diff: [{ before: 'slots = 9\n', after: 'slots = 8\n' }] } }),
  ev('runner_on_ok', { host: 'n2', task: 'Worker config is rendered', res: { changed: false } }),
  ev('runner_on_ok', { host: 'n1', task: 'Kernel tuning drop-in is present', res: { changed: true } }),
  ev('playbook_on_stats', { ok: { n1: 3, n2: 1 }, changed: { n1: 2 }, failures: {}, dark: {}, skipped: {}, processed: { n1: 1, n2: 1 } })
]

function hostsOf (lines: string[]): ReturnType<ResultCollector['results']> {
  const c = new ResultCollector([{ name: 'n1', alias: 'n1' }, { name: 'n2', alias: 'n2' }])
  for (const l of lines) { const e = parseEventLine(l, a => a); if (e !== undefined) c.add(e, 0) }
  return c.results('completed')
}

const progress = (over: Partial<JobNodeProgress>): JobNodeProgress => ({ outcome: 'ok', ok: 3, changed: 0, failed: 0, ...over })

describe('drift from a check-mode run', () => {
  it('names the tasks that would change a host, counted by Ansible', () => {
    const [n1, n2] = hostsOf(CHECK_RUN)
    assert.deepEqual(driftOf(n1 as any), { changed: 2, tasks: ['Worker config is rendered', 'Kernel tuning drop-in is present'] })
    assert.deepEqual(driftOf(n2 as any), { changed: 0, tasks: [] })
  })

  it('a task changing in two plays is named once', () => {
    assert.deepEqual(driftOf({ changed: 2, changes: [{ task: 'x' }, { task: 'x' }] }), { changed: 2, tasks: ['x'] })
  })

  it('says no drift or names the tasks', () => {
    assert.equal(describeDrift({ changed: 0, tasks: [] }), 'no drift: the node matches its roles')
    assert.equal(describeDrift({ changed: 1, tasks: ['a'] }), 'drift: 1 task(s) would change: a')
  })
})

describe('what a maintenance job records on its node', () => {
  const at = '2026-11-22T10:00:00.000Z'

  it('only verify and reconfigure are maintenance kinds', () => {
    assert.deepEqual(['commission', 'decommission', 'upgrade', 'verify', 'reconfigure'].filter(k => isMaintenanceKind(k as any)), ['verify', 'reconfigure'])
  })

  it('verify that ran: drift-checked with the drift, set on the record even when clean', () => {
    const note = maintenanceNote('verify', 'j-1', progress({ drift: { changed: 1, tasks: ['Worker config is rendered'] } }), at)
    assert.equal(note.type, 'drift-checked')
    assert.deepEqual(note.drift, { checkedAt: at, jobId: 'j-1', changed: 1, tasks: ['Worker config is rendered'] })
    assert.match(note.reason ?? '', /Worker config is rendered/)
    assert.deepEqual(maintenanceNote('verify', 'j-2', progress({ drift: { changed: 0, tasks: [] } }), at).drift, { checkedAt: at, jobId: 'j-2', changed: 0, tasks: [] })
  })

  it('verify that could not check: verify-failed, drift left as it was', () => {
    const note = maintenanceNote('verify', 'j-1', progress({ outcome: 'unreachable', message: 'pre-check failed (unreachable): timeout' }), at)
    assert.equal(note.type, 'verify-failed')
    assert.equal(note.drift, undefined)
    assert.match(note.reason ?? '', /unreachable/)
  })

  it('reconfigure: success clears drift; failure keeps it and gives the reason', () => {
    assert.deepEqual(maintenanceNote('reconfigure', 'j-3', progress({ changed: 1 }), at), { type: 'reconfigured', actor: 'job-runner', jobId: 'j-3', reason: null, drift: null })
    const failed = maintenanceNote('reconfigure', 'j-4', progress({ outcome: 'failed', message: 'task-failed: task "Worker user exists"' }), at)
    assert.equal(failed.type, 'reconfigure-failed')
    assert.equal(failed.drift, undefined)
    assert.match(failed.reason ?? '', /Worker user exists/)
  })
})
