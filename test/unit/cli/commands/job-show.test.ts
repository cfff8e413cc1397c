import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient } from '../../../../cli/client.js'
import { jobShow } from '../../../../cli/commands/job-show.js'
import { jobCancel } from '../../../../cli/commands/job-cancel.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import { FAILED_JOB, startManagerFixture, type ManagerFixture } from '../manager-fixture.js'

describe('clusterctl job show / job cancel', () => {
  let fx: ManagerFixture
  let client: ApiClient
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('prints a header, then NODE OUTCOME STEP TASK OK CHANGED FAILED MESSAGE in the job order', async () => {
    assert.equal(await jobShow(client, FAILED_JOB.id, { output: 'table' }), [
      'ID:        j-20261122-2',
      'KIND:      commission',
      'STATUS:    failed',
      'NODES:     web2, db1',
      'ROLES:     worker',
      'VARS:      ntp_server=10.0.0.9',
      'CREATED:   2026-11-22T10:01:00.000Z',
      'STARTED:   2026-11-22T10:01:01.000Z',
      'FINISHED:  2026-11-22T10:03:00.000Z',
      'TIMEOUT:   2026-11-22T10:31:00.000Z',
      'REASON:    1 of 2 node(s) failed: web2 (task Install packages failed)',
      'EPOCH:     4',
      '',
      'NODE   OUTCOME   STEP       TASK               OK   CHANGED   FAILED   MESSAGE',
      'web2   failed    playbook   Install packages   2    1         1        task Install packages failed',
      'db1    ok        playbook   Start service      5    2         0        -',
      ''
    ].join('\n'))
    assert.deepEqual(JSON.parse(await jobShow(client, FAILED_JOB.id, { output: 'json' })), FAILED_JOB)
  })

  it('cancel posts to the job and says where it stands; a finished job is CLUSTERD_ERR_JOB_FINISHED', async () => {
    const job = await client.commission({ nodes: ['web1'], roles: ['worker'] })
    assert.equal(await jobCancel(client, job.id), 'job commission-ok cancelled: cancelled: by operator\n')
    const req = fx.requestsTo('cancelJob').at(-1)
    assert.deepEqual([req?.method, req?.params, req?.body], ['POST', { id: 'commission-ok' }, undefined])
    await assert.rejects(jobCancel(client, FAILED_JOB.id), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_JOB_FINISHED' && err.exitCode === 5)
  })
})
