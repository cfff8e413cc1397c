import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient } from '../../../../cli/client.js'
import { driftText, formatBytes, nodeShow } from '../../../../cli/commands/node-show.js'
import { ExitError } from '../../../../cli/errors.js'
import { DB1, startManagerFixture, type ManagerFixture } from '../manager-fixture.js'

describe('clusterctl node show', () => {
  let fx: ManagerFixture
  let client: ApiClient
  const now = new Date('2026-11-22T10:05:00.000Z')
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
  })
  after(async () => { await fx.close() })

  it('prints the record, key facts and recent events (oldest first)', async () => {
    assert.equal(await nodeShow(client, 'db1', { output: 'table', now }), [
      'NAME:         db1',
      'PEER-ID:      12D3KooWA',
      'STATE:        commissioned (since 5m ago, 2026-11-22T10:00:00.000Z)',
      'ROLES:        base, storage',
      'REACHABLE:    yes',
      'CORDONED:     no',
      'LABELS:       -',
      'MEMBER:       alive',
      'CURRENT-JOB:  -',
      'LAST-JOB:     j-20261122-1',
      'REASON:       -',
      'VARS:         disk=/dev/vdb',
      'DRIFT:        1 task(s) would change: Worker config is rendered (checked 4m ago by j-20261122-3)',
      'CONFLICTS:    12D3KooWX (since 2026-11-22T10:02:00.000Z) refused; clusterctl node rebind or forget decides',
      'DISCOVERED:   2026-11-22T09:00:00.000Z',
      '',
      'Facts:',
      '  OS:         Debian GNU/Linux 12 (bookworm) (linux 6.1.0-13-amd64)',
      '  KERNEL:     6.1.0-13-amd64',
      '  ARCH:       x64',
      '  CPUS:       4',
      '  MEMORY:     4.0 GiB',
      '  ADDRESSES:  10.0.0.1, fd00::1',
      '  HOST-KEYS:  ssh-ed25519, ecdsa-sha2-nistp256',
      '  AGENT:      0.1.0',
      '',
      'Recent events:',
      '  SEQ   TIME                       NODE   TYPE                   FROM            TO              JOB            ACTOR        REASON',
      '  3     2026-11-22T09:00:00.000Z   db1    discovered             -               discovered      -              membership   -',
      '  7     2026-11-22T09:30:00.000Z   db1    commission-requested   discovered      commissioning   j-20261122-1   operator     -',
      '  9     2026-11-22T10:00:00.000Z   db1    job-succeeded          commissioning   commissioned    j-20261122-1   job-runner   -',
      ''
    ].join('\n'))
  })

  it('prints {node, member, facts, events} as json, and asks for the name percent-encoded', async () => {
    assert.deepEqual(JSON.parse(await nodeShow(client, 'db1', { output: 'json', now })), DB1)
    assert.deepEqual(fx.requestsTo('showNode').at(-1)?.params, { name: 'db1' })
  })

  it('shows a clean check as none and a never-checked node as -', () => {
    assert.equal(driftText(null, now), '-')
    assert.equal(driftText({ checkedAt: '2026-11-22T10:04:00.000Z', jobId: 'j-1', changed: 0, tasks: [] }, now), 'none (checked 1m ago by j-1)')
  })

  it('refuses a malformed name before asking', async () => {
    const before = fx.requests.length
    await assert.rejects(nodeShow(client, '../x', { output: 'table', now }), (err: unknown) => err instanceof ExitError && err.exitCode === 2 && /is not a valid node name/.test(err.message))
    assert.equal(fx.requests.length, before)
  })

  it('formats byte sizes', () => {
    assert.equal(formatBytes(512), '512 B')
    assert.equal(formatBytes(1536), '1.5 KiB')
    assert.equal(formatBytes(3.8 * 1024 ** 3), '3.8 GiB')
  })
})
