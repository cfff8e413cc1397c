import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { classifyConnectFailure, parseEventLine, ResultCollector } from '../../../../manager/ansible/events.js'
import type { PlaybookEvent } from '../../../../manager/ansible/events.js'

// Shapes as ansible-runner 2.3.1 prints them with -j (trimmed to the fields clusterd reads).
const ev = (event: string, data: Record<string, unknown>): string => JSON.stringify({ uuid: 'u', counter: 1, stdout: '', event, event_data: { playbook: 'site.yml', play: 'role_worker', ...data } })
const names = new Map([['n1', 'node one'], ['node_ab', 'evil;name']])
const nameOf = (a: string): string => names.get(a) ?? a
const parse = (line: string): PlaybookEvent | undefined => parseEventLine(line, nameOf)

const HOSTKEY_MSG = 'Failed to connect to the host via ssh: @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\nIT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\r\nHost key for 10.0.0.2 has changed and you have requested strict checking.\r\nHost key verification failed.'

function stats (data: Record<string, Record<string, number>>): string {
  return ev('playbook_on_stats', { ok: {}, changed: {}, failures: {}, dark: {}, skipped: {}, processed: {}, rescued: {}, ignored: {}, ...data })
}

describe('event parsing', () => {
  it('maps aliases back to node names and types each event', () => {
    assert.deepEqual(parse(ev('playbook_on_task_start', { task: 'Write conf' })), { type: 'task-start', play: 'role_worker', task: 'Write conf' })
    assert.deepEqual(parse(ev('runner_on_ok', { host: 'node_ab', task: 'Write conf', res: { changed: true, diff: { before: 'a', after: 'b' } } })),
      { type: 'host-ok', host: 'evil;name', task: 'Write conf', changed: true, diff: { before: 'a', after: 'b' } })
    assert.deepEqual(parse(ev('runner_on_failed', { host: 'n1', task: 'Check', ignore_errors: null, res: { msg: 'non-zero return code', stderr: 'boom' } })),
      { type: 'host-failed', host: 'node one', task: 'Check', message: 'non-zero return code: boom', ignored: false })
    assert.equal(parse(ev('runner_on_async_poll', {})), undefined)
  })

  it('reports the failing item of a loop task', () => {
    const e = parse(ev('runner_on_failed', { host: 'n1', task: 'Files', res: { msg: 'One or more items failed', results: [{ failed: false }, { failed: true, item: '/etc/x', msg: 'Stale file handle' }] } }))
    assert.equal(e?.type === 'host-failed' ? e.message : '', 'One or more items failed: item "/etc/x": Stale file handle')
  })

  it('names the node gate\'s refusal of a session, which Ansible reports as a module failure', () => {
    const refusal = 'clusterd-gate: refused (other-lease): the node is leased to P (epoch 4, lease aa), not to this session (epoch 4, lease bb)'
    const plain = parse(ev('runner_on_failed', { host: 'n1', task: 'Check', res: { msg: 'MODULE FAILURE\nSee stdout/stderr for the exact error', module_stderr: `${refusal}\n`, rc: 77 } }))
    assert.match(plain?.type === 'host-failed' ? plain.message : '', /MODULE FAILURE[\s\S]*: clusterd-gate: refused \(other-lease\): the node is leased to P/)
    const loop = parse(ev('runner_on_failed', { host: 'n1', task: 'Dirs', res: { msg: 'One or more items failed', results: [{ failed: true, item: '/etc/x', msg: 'MODULE FAILURE', module_stderr: refusal }] } }))
    assert.match(loop?.type === 'host-failed' ? loop.message : '', /clusterd-gate: refused \(other-lease\)/)
  })

  it('classifies ssh failures: host key, authentication, plain unreachable', () => {
    const e = parse(ev('runner_on_unreachable', { host: 'n1', task: 'x', res: { unreachable: true, msg: HOSTKEY_MSG } }))
    assert.equal(e?.type === 'host-unreachable' ? e.reason : '', 'host-key-mismatch')
    assert.doesNotMatch(e?.type === 'host-unreachable' ? e.message : '', /@@@|\r/)
    assert.equal(classifyConnectFailure('Failed to connect to the host via ssh: root@10.0.0.2: Permission denied (publickey).'), 'auth-failed')
    assert.equal(classifyConnectFailure('Failed to connect to the host via ssh: ssh: connect to host 10.0.0.2 port 22: No route to host'), 'unreachable')
  })

  it('passes non-JSON lines through as output', () => {
    assert.deepEqual(parse('[WARNING]: something'), { type: 'output', text: '[WARNING]: something' })
    assert.equal(parse('   '), undefined)
  })
})

describe('ResultCollector', () => {
  const hosts = [{ name: 'node one', alias: 'n1' }, { name: 'evil;name', alias: 'node_ab' }, { name: 'n3', alias: 'n3' }]
  const feed = (lines: string[]): ResultCollector => {
    const c = new ResultCollector(hosts)
    lines.forEach((l, i) => { const e = parse(l); if (e !== undefined) c.add(e, i * 100) })
    return c
  }

  it('fails only the host whose task failed and keeps the others ok', () => {
    const c = feed([
      ev('runner_on_start', { host: 'n1', task: 'a' }),
      ev('runner_on_ok', { host: 'n1', task: 'a', res: { changed: true } }),
      ev('runner_on_failed', { host: 'node_ab', task: 'Assert', res: { msg: 'worker_slots must be 1-1024' } }),
      ev('runner_on_unreachable', { host: 'n3', task: 'a', res: { msg: HOSTKEY_MSG } }),
      stats({ ok: { n1: 1 }, changed: { n1: 1 }, failures: { node_ab: 1 }, dark: { n3: 1 }, processed: { n1: 1, node_ab: 1, n3: 1 } })
    ])
    const [one, evil, three] = c.results('completed')
    assert.deepEqual([one?.outcome, one?.changed, one?.changes, one?.durationMs], ['ok', 1, [{ task: 'a' }], 100])
    assert.deepEqual([evil?.outcome, evil?.reason, evil?.failedTask, evil?.message], ['failed', 'task-failed', 'Assert', 'worker_slots must be 1-1024'])
    assert.deepEqual([three?.outcome, three?.reason], ['failed', 'host-key-mismatch'])
  })

  it('reports a plain connection failure as unreachable', () => {
    const c = feed([ev('runner_on_unreachable', { host: 'n1', task: 'a', res: { msg: 'Failed to connect to the host via ssh: ssh: connect to host 10.0.0.2 port 22: Connection timed out' } }), stats({ dark: { n1: 1 }, processed: { n1: 1 } })])
    assert.deepEqual([c.results('completed')[0]?.outcome, c.results('completed')[0]?.reason], ['unreachable', 'unreachable'])
  })

  it('ignores failures with ignore_errors and marks untargeted hosts not-run', () => {
    const c = feed([
      ev('runner_on_failed', { host: 'n1', task: 'opt', ignore_errors: true, res: { msg: 'meh' } }),
      stats({ ok: { n1: 2 }, ignored: { n1: 1 }, processed: { n1: 1, node_ab: 1 } })
    ])
    const r = c.results('completed')
    assert.deepEqual(r.map(h => h.outcome), ['ok', 'ok', 'failed'])
    assert.equal(r[2]?.reason, 'not-run')
  })

  it('marks unfinished hosts of a cancelled run as cancelled, keeping known failures', () => {
    const c = feed([ev('runner_on_ok', { host: 'n1', task: 'a', res: { changed: false } }), ev('runner_on_failed', { host: 'n3', task: 'b', res: { msg: 'x' } })])
    assert.equal(c.hasStats, false)
    assert.deepEqual(c.results('cancelled').map(h => h.reason), ['cancelled', 'cancelled', 'task-failed'])
    assert.deepEqual(c.results('timeout').map(h => h.reason), ['timeout', 'timeout', 'task-failed'])
  })
})

describe('unreachable loop tasks', () => {
  it('finds the host-key failure inside the items of a loop task', () => {
    const e = parseEventLine(ev('runner_on_unreachable', { host: 'n1', task: 'dirs', res: { msg: 'All items completed', unreachable: true, results: [{ item: '/etc/x', unreachable: true, msg: HOSTKEY_MSG }] } }), nameOf)
    assert.equal(e?.type === 'host-unreachable' ? e.reason : '', 'host-key-mismatch')
    assert.match(e?.type === 'host-unreachable' ? e.message : '', /does not match the key pinned/)
  })
})
