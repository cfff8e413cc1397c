import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { readRevisionDir } from '../../../protocol/revision-dir.js'
import { MAX_REVISION_BYTES, MAX_REVISION_FILES, MAX_REVISION_FILE_BYTES, revisionHash, revisionPathProblem, sha256Hex } from '../../../protocol/revisions.js'

describe('revision content hash', () => {
  const f = (path: string, text: string): { path: string, sha256: string } => ({ path, sha256: sha256Hex(Buffer.from(text)) })
  it('depends on names and contents, not on order', () => {
    const a = revisionHash([f('roles.yaml', 'x'), f('base.yml', 'y')])
    assert.equal(a, revisionHash([f('base.yml', 'y'), f('roles.yaml', 'x')]))
    assert.notEqual(a, revisionHash([f('base.yml', 'y'), f('roles.yaml', 'x2')]))
    assert.notEqual(a, revisionHash([f('base2.yml', 'y'), f('roles.yaml', 'x')]))
    assert.match(a, /^[0-9a-f]{64}$/)
  })
})

describe('revision file paths', () => {
  it('accepts relative paths of plain segments', () => {
    for (const p of ['roles.yaml', 'templates/worker.conf.j2', 'files/a_b-c+d.txt']) assert.equal(revisionPathProblem(p), undefined, p)
  })
  it('refuses traversal, absolute, hidden, empty and overlong paths', () => {
    for (const p of ['../x.yml', '/etc/passwd', 'a/../b', '.git/config', 'a//b', '', 'a\\b', 'x'.repeat(300), 'a/b/c/d/e/f/g/h/i', '-rf', 42]) {
      assert.notEqual(revisionPathProblem(p), undefined, String(p))
    }
  })
})

describe('readRevisionDir (real files)', () => {
  let root: string
  before(async () => { root = await mkdtemp(join(tmpdir(), 'clusterd-revdir-')) })
  after(async () => { await rm(root, { recursive: true, force: true }) })

  const dir = async (name: string, files: Record<string, string | Buffer>): Promise<string> => {
    const d = join(root, name)
    for (const [p, c] of Object.entries(files)) {
      await mkdir(join(d, p, '..'), { recursive: true })
      await writeFile(join(d, p), c)
    }
    return d
  }

  it('reads regular files in path order and skips hidden entries', async () => {
    const d = await dir('ok', { 'roles.yaml': 'r', 'templates/a.j2': 't', 'base.yml': 'b', '.git/HEAD': 'h', '.swp': 's' })
    const res = await readRevisionDir(d)
    assert.ok(res.ok)
    assert.deepEqual(res.files.map(f => f.path), ['base.yml', 'roles.yaml', 'templates/a.j2'])
    assert.equal(res.files[2]?.content.toString(), 't')
  })

  it('follows a symbolic link to a file inside the directory, refuses one pointing out', async () => {
    const d = await dir('links', { 'roles.yaml': 'r', 'real.yml': 'x' })
    await symlink(join(d, 'real.yml'), join(d, 'alias.yml'))
    const ok = await readRevisionDir(d)
    assert.ok(ok.ok)
    assert.equal(ok.files.find(f => f.path === 'alias.yml')?.content.toString(), 'x')
    await writeFile(join(root, 'secret'), 'do not send')
    await symlink(join(root, 'secret'), join(d, 'leak.yml'))
    const bad = await readRevisionDir(d)
    assert.equal(bad.ok, false)
    assert.match(bad.ok ? '' : bad.problems.join(';'), /leak\.yml is a symbolic link that does not resolve inside the directory/)
  })

  it('refuses a file over the per-file limit, too many files, and too many bytes in all', async () => {
    const big = await dir('big', { 'roles.yaml': 'r', 'huge.bin': Buffer.alloc(MAX_REVISION_FILE_BYTES + 1) })
    const r1 = await readRevisionDir(big)
    assert.equal(r1.ok, false)
    assert.match(r1.ok ? '' : r1.problems.join(';'), /huge\.bin has \d+ bytes, more than/)
    const many: Record<string, string> = {}
    for (let i = 0; i <= MAX_REVISION_FILES; i++) many[`f${i}.yml`] = 'x'
    const r2 = await readRevisionDir(await dir('many', many))
    assert.match(r2.ok ? '' : r2.problems.join(';'), new RegExp(`more than ${MAX_REVISION_FILES} files`))
    const heavy: Record<string, Buffer> = {}
    for (let i = 0; i * MAX_REVISION_FILE_BYTES <= MAX_REVISION_BYTES; i++) heavy[`h${i}.bin`] = Buffer.alloc(MAX_REVISION_FILE_BYTES)
    const r3 = await readRevisionDir(await dir('heavy', heavy))
    assert.match(r3.ok ? '' : r3.problems.join(';'), /add up to more than/)
  })

  it('names a missing directory and an empty one', async () => {
    const missing = await readRevisionDir(join(root, 'nope'))
    assert.match(missing.ok ? '' : missing.problems.join(';'), /cannot read .*ENOENT/)
    await mkdir(join(root, 'empty'))
    const empty = await readRevisionDir(join(root, 'empty'))
    assert.match(empty.ok ? '' : empty.problems.join(';'), /holds no files/)
  })
})
