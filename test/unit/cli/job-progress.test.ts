import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient } from '../../../cli/client.js'
import { ExitError } from '../../../cli/errors.js'
import { waitForJob, type WaitOptions } from '../../../cli/job-progress.js'
import { collectOutput, startManagerFixture, type ManagerFixture } from './manager-fixture.js'

const NOW = (): Date => new Date('2026-11-22T10:00:42.000Z')
const LINES: WaitOptions = { tty: false, columns: 100, now: NOW, firstDelayMs: 10 }

describe('waitForJob (--wait)', () => {
  let fx: ManagerFixture
  let client: ApiClient
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('without a terminal: a line per event of interest, a line per node result, then the summary', async () => {
    const job = await client.commission({ nodes: ['web1', 'web3'], roles: ['worker'] })
    const out = await collectOutput(waitForJob(client, job, LINES))
    assert.equal(out, [
      '2026-11-22T10:00:01.000Z  -             status        -  running',
      '2026-11-22T10:00:02.000Z  web1          precheck      -  ok',
      '2026-11-22T10:00:03.000Z  web3          precheck      -  ok',
      '2026-11-22T10:00:04.000Z  -             task-start    Install packages',
      '2026-11-22T10:00:05.000Z  web1          task-changed  Install packages',
      '2026-11-22T10:00:06.000Z  web3          task-changed  Install packages',
      '2026-11-22T10:00:07.000Z  -             status        -  job succeeded',
      '2026-11-22T10:00:42.000Z  web1          outcome       Install packages  ok (ok=3 changed=1 failed=0)',
      '2026-11-22T10:00:42.000Z  web3          outcome       Install packages  ok (ok=3 changed=1 failed=0)',
      '',
      'NODE   OUTCOME   OK   CHANGED   FAILED   MESSAGE',
      'web1   ok        3    1         0        -',
      'web3   ok        3    1         0        -',
      ''
    ].join('\n'))
  })

  it('a node not ok: the summary still prints, then exit code 7 with the reason', async () => {
    const job = await client.commission({ nodes: ['web1', 'bad1'], roles: ['worker'] })
    await assert.rejects(collectOutput(waitForJob(client, job, LINES)), (err: unknown) => {
      assert.ok(err instanceof ExitError)
      assert.equal(err.exitCode, 7)
      assert.equal(err.message, 'job commission-fail failed: 1 of 2 node(s) failed: bad1 (task Install packages failed)')
      const out = (err as ExitError & { output: string }).output
      assert.match(out, /bad1 {10}task-failed {3}Install packages {2}No package matching foo\n/)
      assert.ok(out.endsWith([
        'NODE   OUTCOME   OK   CHANGED   FAILED   MESSAGE',
        'web1   ok        3    1         0        -',
        'bad1   failed    1    0         1        task Install packages failed',
        ''
      ].join('\n')), out)
      return true
    })
  })

  it('on a terminal: one block redrawn in place, reconnects shown in it, lines cut to the width', async () => {
    const job = await client.commission({ nodes: ['flaky1'], roles: ['worker'] })
    const out = await collectOutput(waitForJob(client, job, { ...LINES, tty: true, columns: 40 }))
    const frames = out.split(/\u001b\[\d+F\u001b\[J/)
    assert.equal(frames.length, 3, 'first draw, reconnect redraw, final redraw (updates in between are throttled by the pinned clock)')
    assert.equal(frames[0], [
      'job commission-flaky  commission  queue',
      '  NODE     OUTCOME   OK   CHANGED   FAI',
      '  flaky1   pending   0    0         0  ',
      ''
    ].join('\n'))
    assert.match(frames[1] ?? '', /\n {2}\(stream broken: the manager went away\n$/)
    assert.ok(out.includes('\u001b[3F\u001b[J'), 'moves up over the 3-line block')
    assert.ok(out.includes('\u001b[4F\u001b[J'), 'and over the 4-line block with the reconnect note')
    assert.equal(frames[2], [
      'job commission-flaky  commission  succe',
      '  NODE     OUTCOME   OK   CHANGED   FAI',
      '  flaky1   ok        3    1         0  ',
      '',
      'NODE     OUTCOME   OK   CHANGED   FAILED   MESSAGE',
      'flaky1   ok        3    1         0        -',
      ''
    ].join('\n'))
  })
})
