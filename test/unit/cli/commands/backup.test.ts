// clusterctl backup FILE: the manager's stream becomes a verified backup file with mode 0600,
// replaced atomically; a stream that breaks, ends early or miscounts leaves no file behind and
// an existing FILE untouched.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiClient } from '../../../../cli/client.js'
import { backup, writeBackup } from '../../../../cli/commands/backup.js'
import { decodeBackup } from '../../../../protocol/backup-format.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import { MANAGER, startManagerFixture, type ManagerFixture } from '../manager-fixture.js'

const START = { backup: 'start', revision: 3, createdAt: '2026-11-22T10:00:00.000Z', source: { peerId: 'p', epoch: 1 } }
const ENTRIES = { backup: 'entries', entries: [{ key: 'm!format', value: 1 }] }

/** A client whose backup stream is `items` (then, if given, throws `fail`). */
function scripted (items: unknown[], fail?: Error): ApiClient {
  return {
    backup: async function * () {
      yield * items
      if (fail !== undefined) throw fail
    }
  } as unknown as ApiClient
}

describe('clusterctl backup', () => {
  let fx: ManagerFixture
  let client: ApiClient
  let dir: string
  before(async () => {
    fx = await startManagerFixture()
    client = new ApiClient({ addr: fx.socketPath })
    dir = await mkdtemp(join(tmpdir(), 'clusterctl-backup-'))
  })
  after(async () => {
    await fx.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('writes the stream as a backup file with mode 0600 that decodes to the same entries', async () => {
    const file = join(dir, 'a.backup')
    const out = await backup(client, file)
    assert.match(out, /^backup of manager store revision 3 \(4 entries, \d+ bytes\) written to .*a\.backup\n$/)
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const d = decodeBackup(await readFile(file))
    assert.ok(d.ok, JSON.stringify(d))
    assert.deepEqual(d.header.source, { peerId: MANAGER.peerId, epoch: MANAGER.epoch })
    assert.deepEqual(d.entries.map(e => e.key), ['c!vars', 'm!format', 'm!gseq', 'm!revision'])
    assert.equal(fx.requestsTo('backup').length, 1)
    assert.deepEqual(await readdir(dir), ['a.backup'], 'no temporary file left')
  })

  const broken: Array<[string, ApiClient, RegExp]> = [
    ['ends before its end item', scripted([START, ENTRIES]), /ended early/],
    ['miscounts its entries', scripted([START, ENTRIES, { backup: 'end', entries: 2 }]), /ended with 2 entries but sent 1/],
    ['sends entries before its start', scripted([ENTRIES]), /outside its start and end/],
    ['sends a malformed item', scripted([START, { nonsense: true }]), /malformed/],
    ['breaks (the manager went away)', scripted([START, ENTRIES], new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'the manager went away')), /the manager went away/]
  ]
  for (const [what, c, message] of broken) {
    it(`a stream that ${what} leaves the existing file untouched and no temporary file`, async () => {
      const sub = await mkdtemp(join(dir, 'sub-'))
      const file = join(sub, 'b.backup')
      await writeFile(file, 'previous backup\n', { mode: 0o600 })
      await assert.rejects(writeBackup(c, file), message)
      assert.equal(await readFile(file, 'utf8'), 'previous backup\n')
      assert.deepEqual(await readdir(sub), ['b.backup'])
    })
  }

  it('a FILE in a directory that does not exist is a usage error (exit 2)', async () => {
    await assert.rejects(writeBackup(client, join(dir, 'missing', 'c.backup')), (err: any) => err.exitCode === 2 && /cannot create/.test(err.message))
  })
})
