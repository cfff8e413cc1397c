/**
 * `roles push|list|show|diff`, `history` and `upgrade --plan/--to/--force` run as the real
 * clusterctl process against the fake manager (manager-fixture.ts, revision-fixture.ts): the
 * request each sends, the output, and the exit codes.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { shippedPlaybookDir } from '../../../../manager/roles/shipped.js'
import { startManagerFixture, type ManagerFixture } from '../manager-fixture.js'
import { HISTORY, PLAN, SUMMARIES } from '../revision-fixture.js'

const MAIN = fileURLToPath(new URL('../../../../cli/main.js', import.meta.url))

interface Run { code: number, stdout: string, stderr: string }

describe('clusterctl roles, history, upgrade --plan (process)', () => {
  let fx: ManagerFixture
  let tmp: string
  const clusterctl = async (...args: string[]): Promise<Run> => await new Promise(resolve => {
    execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', CLUSTERCTL_ADDR: fx.socketPath }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
  const ok = (run: Run): Run => { assert.equal(run.code, 0, run.stderr); assert.equal(run.stderr, ''); return run }

  before(async () => { fx = await startManagerFixture(); tmp = await mkdtemp(join(tmpdir(), 'clusterctl-roles-')) })
  after(async () => { await fx.close(); await rm(tmp, { recursive: true, force: true }) })

  it('roles push sends every file base64 with the message and an author', async () => {
    const run = ok(await clusterctl('roles', 'push', shippedPlaybookDir(), '-m', 'first push'))
    assert.match(run.stdout, /^revision 3 stored \(11 files, roles base, worker, hash dddddddddddd\)\n$/)
    const body = fx.requestsTo('pushRevision').at(-1)?.body as { files: Array<{ path: string, content: string }>, message: string, author: string }
    assert.deepEqual(body.files.map(f => f.path), ['agent-upgrade.yml', 'base.yml', 'decommission.yml', 'roles.yaml', 'storage-cleanup.yml', 'storage.yml', 'templates/exports.conf.j2', 'templates/worker.conf.j2', 'upgrade.yml', 'worker-cleanup.yml', 'worker.yml'])
    assert.match(Buffer.from(body.files[3]?.content ?? '', 'base64').toString(), /^# Which playbooks make up each role/)
    assert.equal(body.message, 'first push')
    assert.match(body.author, /^.+@.+$/)
  })

  it('roles push refuses a directory with a link out of it before any request (exit 2)', async () => {
    const dir = join(tmp, 'leaky')
    await mkdir(dir)
    await writeFile(join(tmp, 'secret'), 'x')
    await writeFile(join(dir, 'roles.yaml'), 'roles: {}\n')
    await symlink(join(tmp, 'secret'), join(dir, 'x.yml'))
    const before = fx.requestsTo('pushRevision').length
    const run = await clusterctl('roles', 'push', dir)
    assert.equal(run.code, 2)
    assert.match(run.stderr, /^clusterctl: .*leaky cannot be pushed: x\.yml is a symbolic link that does not resolve inside the directory\n$/)
    assert.equal(fx.requestsTo('pushRevision').length, before)
  })

  it('roles list marks the current revision; json is the API data', async () => {
    const table = ok(await clusterctl('roles', 'list'))
    assert.match(table.stdout, /^REV +HASH +CREATED +AUTHOR +FILES +MESSAGE\n1 +aaaaaaaaaaaa .* manager n1 +2 +playbook directory/)
    assert.match(table.stdout, /\n2\* +dddddddddddd .* ops@laptop +2 +worker: 8 slots\n$/)
    assert.deepEqual(JSON.parse(ok(await clusterctl('roles', 'list', '-o', 'json')).stdout), SUMMARIES)
  })

  it('roles show names files, hash and roles; an unknown revision exits 4', async () => {
    const run = ok(await clusterctl('roles', 'show', '2'))
    assert.match(run.stdout, /^revision: 2 \(current\)\nhash: +d{64}\n/)
    assert.match(run.stdout, /roles: +base, worker\n/)
    assert.match(run.stdout, /FILE +SIZE +SHA256\nbase\.yml +100 +bbbbbbbbbbbb\nroles\.yaml +100 +eeeeeeeeeeee\n/)
    const missing = await clusterctl('roles', 'show', '9')
    assert.equal(missing.code, 4)
    assert.match(missing.stderr, /there is no configuration revision 9 .*\(CLUSTERD_ERR_REVISION_NOT_FOUND\)/)
    assert.equal((await clusterctl('roles', 'show', 'x')).code, 2)
  })

  it('roles diff prints unified-style hunks per file', async () => {
    const run = ok(await clusterctl('roles', 'diff', '1', '2'))
    assert.equal(run.stdout, '--- r1/roles.yaml\n+++ r2/roles.yaml\n@@ -1,1 +1,1 @@\n-worker_slots: 4\n+worker_slots: 8\n')
    assert.match(ok(await clusterctl('roles', 'diff', '2', '2')).stdout, /hold the same files/)
  })

  it('upgrade --plan prints the groups (json: the plan); sends nodes, all and to', async () => {
    const table = ok(await clusterctl('upgrade', '--plan', '--to', '1', '--all'))
    assert.match(table.stdout, /^upgrade to revision 1, agent 0\.1\.0:\nREVISION +AGENT +NODES +ACTION +NAMES\n- -> 1 +- -> 0\.1\.0 +1 +upgrade +web2\n2 -> 1 +0\.1\.0 -> 0\.1\.0 +1 +DOWNGRADE \(refused with --to unless --force\) +db1\n$/)
    assert.deepEqual(fx.requestsTo('upgradePlan').at(-1)?.body, { nodes: [], all: true, to: 1 })
    assert.deepEqual(JSON.parse(ok(await clusterctl('upgrade', '--plan', 'db1', '-o', 'json')).stdout), PLAN)
    assert.deepEqual(fx.requestsTo('upgradePlan').at(-1)?.body, { nodes: ['db1'], all: false })
    ok(await clusterctl('upgrade', '--plan', '-l', 'role=worker'))
    assert.deepEqual(fx.requestsTo('upgradePlan').at(-1)?.body, { nodes: [], all: false, selector: 'role=worker' })
    assert.equal((await clusterctl('upgrade', '--plan', '--force', 'db1')).code, 2)
    assert.equal(fx.requestsTo('upgrade').length, 0, 'a plan starts nothing')
  })

  it('upgrade --to REV --force sends the target and the force; a bad REV exits 2 before any request', async () => {
    ok(await clusterctl('upgrade', '--to', '2', '--force', 'db1'))
    assert.deepEqual(fx.requestsTo('upgrade').at(-1)?.body, { nodes: ['db1'], all: false, vars: {}, to: 2, force: true })
    const bad = await clusterctl('upgrade', '--to', 'two', 'db1')
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--to: expected a whole number/)
    assert.equal(fx.requestsTo('upgrade').length, 1)
  })

  it('history lists what was applied where, with revisions; json is the API data', async () => {
    const run = ok(await clusterctl('history', 'db1'))
    assert.match(run.stdout, /^FINISHED +NODE +KIND +REVISION +AGENT +OUTCOME +JOB +MESSAGE\n2026-11-22T09:31:00\.000Z +db1 +commission +1 +0\.1\.0 +ok +j-20261122-1 +-\n.*upgrade +2 +0\.1\.0 +failed +j-20261122-4 +task x failed\n$/)
    assert.deepEqual(fx.requestsTo('history').at(-1)?.query, { node: 'db1' })
    assert.deepEqual(JSON.parse(ok(await clusterctl('history', '-o', 'json')).stdout), HISTORY)
  })
})
