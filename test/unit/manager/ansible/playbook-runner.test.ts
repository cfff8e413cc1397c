import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { AnsibleRunner } from '../../../../manager/ansible/playbook-runner.js'
import type { PlaybookPlan } from '../../../../manager/roles/plan.js'

const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
const plan: PlaybookPlan = {
  kind: 'commission',
  cluster: 'c',
  playbooks: ['/nonexistent/base.yml'],
  hosts: [{ name: 'n1', address: '192.0.2.10', roles: ['base'], vars: {}, hostKeys: [{ type: 'ssh-ed25519', key: Buffer.concat([u32(11), Buffer.from('ssh-ed25519'), u32(32), randomBytes(32)]).toString('base64') }] }]
}

describe('AnsibleRunner without hosts', () => {
  let workDir: string
  before(async () => { workDir = await mkdtemp(join(tmpdir(), 'clusterd-runner-unit-')) })
  after(async () => { await rm(workDir, { recursive: true, force: true }) })

  it('returns cancelled without starting anything when the signal is already aborted', async () => {
    const runner = new AnsibleRunner({ logger: pino({ level: 'silent' }) }, { privateKeyPath: '/k', workDir })
    const r = await runner.run(plan, { signal: AbortSignal.abort() })
    assert.equal(r.status, 'cancelled')
    assert.deepEqual(r.hosts.map(h => [h.name, h.outcome, h.reason]), [['n1', 'failed', 'cancelled']])
    assert.deepEqual(await readdir(workDir), [])
  })

  it('reports a runner that cannot start as an error value and cleans its run dir', async () => {
    const runner = new AnsibleRunner({ logger: pino({ level: 'silent' }) }, { privateKeyPath: '/k', workDir, runnerPath: '/nonexistent/ansible-runner' })
    const r = await runner.run(plan)
    assert.equal(r.status, 'error')
    assert.match(r.message ?? '', /ENOENT|nonexistent/)
    assert.deepEqual(r.hosts.map(h => h.reason), ['runner-error'])
    assert.deepEqual(await readdir(workDir), [])
  })

  it('reports a playbook that does not exist as an error with ansible\'s message', async () => {
    const runner = new AnsibleRunner({ logger: pino({ level: 'silent' }) }, { privateKeyPath: '/k', workDir })
    const r = await runner.run(plan)
    assert.equal(r.status, 'error')
    assert.match(r.message ?? '', /nonexistent\/base\.yml/)
  })
})
