import assert from 'node:assert/strict'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { pino } from 'pino'
import { decodePush } from '../../../../manager/revisions/revision-files.js'
import { Revisions } from '../../../../manager/revisions/revisions.js'
import { shippedPlaybookDir } from '../../../../manager/roles/shipped.js'
import { checkReplicated } from '../../../../manager/store/replicated.js'
import { validateImport, type ManagerStore } from '../../../../manager/store/index.js'
import { planMerge } from '../../../../manager/store/merge.js'
import { decodeBackup, encodeBackup } from '../../../../protocol/backup-format.js'
import { readRevisionDir } from '../../../../protocol/revision-dir.js'
import { newStore } from '../store/fixture.js'

const logger = pino({ level: 'silent' })

describe('configuration revisions (real store, real files)', () => {
  let root: string
  let store: ManagerStore
  let revisions: Revisions
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'clusterd-revisions-'))
    store = newStore(join(root, 'db'))
    await store.start()
    revisions = new Revisions({ store, logger }, { dir: join(root, 'revisions') })
  })
  afterEach(async () => { await store.stop(); await rm(root, { recursive: true, force: true }) })

  const shipped = async (): Promise<Array<{ path: string, content: Buffer }>> => {
    const read = await readRevisionDir(shippedPlaybookDir())
    assert.ok(read.ok)
    return read.files
  }
  const edited = (files: Array<{ path: string, content: Buffer }>, path: string, edit: (t: string) => string): Array<{ path: string, content: Buffer }> =>
    files.map(f => f.path === path ? { path, content: Buffer.from(edit(f.content.toString())) } : f)

  it('stores the playbook directory as revision 1 once; a new manager with another directory keeps it', async () => {
    await revisions.ensureInitial(shippedPlaybookDir(), 'manager n1')
    const first = await store.listRevisions()
    assert.equal(first.length, 1)
    assert.equal(first[0]?.revision, 1)
    assert.equal(first[0]?.author, 'manager n1')
    assert.deepEqual(first[0]?.roles, ['base', 'worker', 'storage'])
    const other = join(root, 'other')
    await cp(shippedPlaybookDir(), other, { recursive: true })
    await writeFile(join(other, 'extra.yml'), '- hosts: all\n')
    await revisions.ensureInitial(other, 'manager n2')
    assert.equal((await store.listRevisions()).length, 1)
    assert.equal(await revisions.current(), 1)
  })

  it('numbers pushes 1, 2...; an unchanged push stores nothing; jobs get the revision\'s checked roles', async () => {
    const files = await shipped()
    const r1 = await revisions.push({ files, message: 'first', author: 'ops@a' })
    assert.deepEqual([r1.revision.revision, r1.created], [1, true])
    const again = await revisions.push({ files, message: 'same', author: 'ops@a' })
    assert.deepEqual([again.revision.revision, again.created], [1, false])
    const r2 = await revisions.push({ files: edited(files, 'roles.yaml', t => t.replace('worker_slots: 4', 'worker_slots: 8')), message: 'more slots', author: 'ops@b' })
    assert.deepEqual([r2.revision.revision, r2.created, await revisions.current()], [2, true, 2])
    const c1 = await revisions.roleConfig(1)
    const c2 = await revisions.roleConfig(null)
    assert.equal(c1.revision, 1)
    assert.equal(c2.revision, 2)
    assert.equal(c1.roles.find(r => r.name === 'worker')?.vars.worker_slots, 4)
    assert.equal(c2.roles.find(r => r.name === 'worker')?.vars.worker_slots, 8)
    assert.equal(c2.dir, join(root, 'revisions', r2.revision.hash), 'materialised by content hash')
  })

  it('refuses a directory that fails roles.yaml\'s checks, naming pushed paths, and stores nothing', async () => {
    const files = edited(await shipped(), 'worker.yml', t => t.replace(/hosts: role_worker/g, 'hosts: all'))
    await assert.rejects(revisions.push({ files, message: '', author: '' }), (err: any) => {
      assert.equal(err.code, 'CLUSTERD_ERR_PLAYBOOK_CONFIG')
      assert.match(err.message, /pushed roles\.yaml is invalid: .*play 1 of worker\.yml must have 'hosts: role_worker'/)
      assert.doesNotMatch(err.message, /\.tmp-/)
      return true
    })
    const missing = (await shipped()).filter(f => f.path !== 'storage.yml')
    await assert.rejects(revisions.push({ files: missing, message: '', author: '' }), /playbook file storage\.yml does not exist/)
    assert.deepEqual(await store.listRevisions(), [])
    await assert.rejects(revisions.roleConfig(null), (err: any) => err.code === 'CLUSTERD_ERR_NO_REVISION')
    await assert.rejects(revisions.roleConfig(7), (err: any) => err.code === 'CLUSTERD_ERR_REVISION_NOT_FOUND')
  })

  it('rewrites a materialised directory whose content no longer matches its hash', async () => {
    const r1 = await revisions.push({ files: await shipped(), message: '', author: '' })
    const dir = (await revisions.roleConfig(1)).dir
    await writeFile(join(dir, 'base.yml'), '- hosts: all\n  tasks: [{ command: "rm -rf /" }]\n')
    const again = await revisions.roleConfig(1)
    assert.equal(again.dir, join(root, 'revisions', r1.revision.hash))
    const base = (await shipped()).find(f => f.path === 'base.yml')
    assert.equal(await readFile(join(again.dir, 'base.yml'), 'utf8'), base?.content.toString())
  })

  it('a replica refuses a revision file that does not match its hash, and an import too', async () => {
    await revisions.push({ files: await shipped(), message: '', author: '' })
    const entries = await store.exportAll()
    const blob = entries.find(e => e.key.startsWith('rb!'))
    assert.ok(blob !== undefined)
    const forged = { revision: 99, ops: [{ type: 'put' as const, key: blob.key, value: JSON.stringify(Buffer.from('evil').toString('base64')) }] }
    assert.throws(() => checkReplicated(forged), /does not match its SHA-256/)
    assert.throws(() => validateImport(entries.map(e => e.key === blob.key ? { ...e, value: Buffer.from('evil').toString('base64') } : e)), /does not match its SHA-256/)
    assert.doesNotThrow(() => validateImport(entries))
  })

  it('decodes a push body within the limits and refuses traversal, duplicates and non-base64', () => {
    const ok = decodePush({ files: [{ path: 'roles.yaml', content: Buffer.from('x').toString('base64') }], message: 'm' })
    assert.equal(ok.files[0]?.content.toString(), 'x')
    assert.throws(() => decodePush({ files: [{ path: '../x', content: '' }] }), /path segment/)
    assert.throws(() => decodePush({ files: [{ path: 'a', content: 'eA==' }, { path: 'a', content: 'eA==' }] }), /listed twice/)
    assert.throws(() => decodePush({ files: [{ path: 'a', content: 'not base64!' }] }), /base64/)
    assert.throws(() => decodePush({ files: [{ path: 'a', content: 'eA==' }, { path: 'a/b', content: 'eA==' }] }), /both a file and a directory/)
    assert.throws(() => decodePush({ files: [], extra: 1 }), /unknown field/)
  })

  it('a merge copies the other side\'s revisions and keeps both contents when both pushed the same number', async () => {
    const files = await shipped()
    await revisions.push({ files, message: 'ours', author: '' })
    const ours = await store.exportAll()
    const otherRoot = join(root, 'other-db')
    const other = newStore(otherRoot)
    await other.start()
    const theirRevisions = new Revisions({ store: other, logger }, { dir: join(root, 'other-revs') })
    await theirRevisions.push({ files, message: 'same content', author: '' })
    await theirRevisions.push({ files: edited(files, 'roles.yaml', t => `${t}\n# theirs\n`), message: 'theirs', author: '' })
    const theirs = await other.exportAll()
    await other.stop()
    const plan = planMerge(ours, theirs, 0)
    assert.deepEqual(plan.report.revisions, ['revision 2'])
    // Both sides pushed revision 2 with different content: theirs becomes 3.
    await revisions.push({ files: edited(files, 'roles.yaml', t => `${t}\n# ours 2\n`), message: 'ours 2', author: '' })
    const plan2 = planMerge(await store.exportAll(), theirs, 0)
    assert.deepEqual(plan2.report.revisions, [`revision 2 of the other side (hash ${(theirs.find(e => e.key === 'r!000000000000002')?.value as { hash: string }).hash.slice(0, 12)}) stored as 3`])
    await store.mergeForeign(theirs)
    assert.deepEqual((await store.listRevisions()).map(r => r.message), ['ours', 'ours 2', 'theirs'])
    assert.match((await revisions.roleConfig(3)).dir, /revisions/)
  })

  it('a backup carries the revisions: restored into a new store, the same revisions materialise', async () => {
    const r1 = await revisions.push({ files: await shipped(), message: 'kept', author: 'ops@a' })
    const text = encodeBackup({ revision: store.revision, createdAt: '2026-12-06T00:00:00.000Z', source: { peerId: 'p', epoch: 1 } }, await store.exportAll())
    const decoded = decodeBackup(text)
    assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason)
    const restored = newStore(join(root, 'restored-db'))
    await restored.start()
    try {
      await restored.importAll(decoded.entries)
      assert.deepEqual(await restored.listRevisions(), await store.listRevisions())
      const again = new Revisions({ store: restored, logger }, { dir: join(root, 'restored-revs') })
      assert.equal((await again.roleConfig(1)).dir, join(root, 'restored-revs', r1.revision.hash))
    } finally {
      await restored.stop()
    }
  })
})
