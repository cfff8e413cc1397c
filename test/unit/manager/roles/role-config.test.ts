import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { ClusterdError } from '../../../../protocol/errors.js'
import { loadRoleConfig } from '../../../../manager/roles/role-config.js'
import { shippedPlaybookDir } from '../../../../manager/roles/shipped.js'

const dirs: string[] = []
after(async () => { await Promise.all(dirs.map(async d => await rm(d, { recursive: true, force: true }))) })

async function fixture (files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'clusterd-roles-'))
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
  return dir
}

const play = (hosts: string): string => `- hosts: ${hosts}\n  tasks: []\n`
const good = {
  'base.yml': play('role_base'),
  'worker.yml': play('role_worker'),
  'decom.yml': play('all'),
  'up.yml': play('all')
}
const goodConfig = `
roles:
  base: { playbooks: [base.yml], always: true }
  worker: { playbooks: [worker.yml], requiredVars: [slots], vars: { slots: 2 } }
decommission: { playbooks: [decom.yml] }
upgrade: { playbooks: [up.yml] }
`

async function rejects (files: Record<string, string>, pattern: RegExp): Promise<void> {
  const dir = await fixture(files)
  await assert.rejects(loadRoleConfig(dir), (err: unknown) => {
    assert.ok(err instanceof ClusterdError)
    assert.equal(err.code, 'CLUSTERD_ERR_PLAYBOOK_CONFIG')
    assert.match(err.message, pattern)
    return true
  })
}

describe('loadRoleConfig', () => {
  it('loads the shipped playbook directory with base always applied', async () => {
    const config = await loadRoleConfig(shippedPlaybookDir())
    assert.deepEqual(config.roles.map(r => [r.name, r.always]), [['base', true], ['worker', false], ['storage', false]])
    assert.deepEqual(config.roles.find(r => r.name === 'storage')?.requiredVars, ['storage_path'])
    assert.ok(config.decommission.playbooks[0]?.endsWith('/playbooks/decommission.yml'))
    assert.deepEqual(config.upgrade.requiredVars, ['agent_version'])
    assert.deepEqual(config.roles.map(r => r.cleanup.map(f => f.split('/').at(-1))), [[], ['worker-cleanup.yml'], ['storage-cleanup.yml']])
  })

  it('reads a role\'s cleanup playbooks, which must target cleanup_<role>', async () => {
    const withCleanup = goodConfig.replace('worker: { playbooks: [worker.yml],', 'worker: { playbooks: [worker.yml], cleanup: [worker-off.yml],')
    assert.notEqual(withCleanup, goodConfig)
    const dir = await fixture({ ...good, 'worker-off.yml': play('cleanup_worker'), 'roles.yaml': withCleanup })
    assert.deepEqual((await loadRoleConfig(dir)).roles.map(r => r.cleanup), [[], [join(dir, 'worker-off.yml')]])
    await rejects({ ...good, 'worker-off.yml': play('role_worker'), 'roles.yaml': withCleanup }, /roles\.worker\.cleanup: play 1 of .*worker-off\.yml must have 'hosts: cleanup_worker'/)
    await rejects({ ...good, 'roles.yaml': withCleanup }, /roles\.worker\.cleanup: playbook file .*worker-off\.yml does not exist/)
    await rejects({ ...good, 'roles.yaml': goodConfig.replace('worker: { playbooks: [worker.yml],', 'worker: { playbooks: [worker.yml], cleanup: [],') }, /roles\.worker\.cleanup must be a non-empty list/)
  })

  it('reads the optional per-role test playbooks (rolling upgrades), checked like the playbooks', async () => {
    const withTest = (list: string): string => goodConfig.replace('always: true }', `always: true, test: ${list} }`)
    const dir = await fixture({ ...good, 'base-test.yml': play('role_base'), 'roles.yaml': withTest('[base-test.yml]') })
    const config = await loadRoleConfig(dir)
    assert.deepEqual(config.roles.map(r => r.test), [[join(dir, 'base-test.yml')], []])
    const wrongHosts = /roles\.base\.test: play 1 of .*base-test\.yml must have 'hosts: role_base'/
    await rejects({ ...good, 'base-test.yml': play('all'), 'roles.yaml': withTest('[base-test.yml]') }, wrongHosts)
    await rejects({ ...good, 'roles.yaml': withTest('[missing.yml]') }, /roles\.base\.test: playbook file .*missing\.yml does not exist/)
    await rejects({ ...good, 'roles.yaml': withTest('base.yml') }, /roles\.base\.test must be a list of playbook file names/)
  })

  it('resolves playbooks to absolute paths in file order', async () => {
    const dir = await fixture({ ...good, 'roles.yaml': goodConfig })
    const config = await loadRoleConfig(dir)
    assert.deepEqual(config.roles.map(r => r.playbooks), [[join(dir, 'base.yml')], [join(dir, 'worker.yml')]])
    assert.deepEqual(config.roles[1]?.vars, { slots: 2 })
  })

  it('rejects a missing roles.yaml', async () => {
    await rejects(good, /cannot read it: ENOENT/)
  })

  it('rejects malformed YAML', async () => {
    await rejects({ ...good, 'roles.yaml': 'roles:\n  base: { playbooks: [base.yml\n' }, /malformed YAML/)
  })

  it('rejects a playbook file that does not exist', async () => {
    await rejects({ ...good, 'roles.yaml': goodConfig.replace('worker.yml', 'nope.yml') }, /playbook file .*nope\.yml does not exist/)
  })

  it('rejects playbook names that leave the directory', async () => {
    await rejects({ ...good, 'roles.yaml': goodConfig.replace('[worker.yml]', '[../worker.yml]') }, /must be a file name in the playbook directory/)
  })

  it('rejects a role playbook whose play targets all hosts', async () => {
    await rejects({ ...good, 'worker.yml': play('all'), 'roles.yaml': goodConfig }, /must have 'hosts: role_worker' \(got "all"\)/)
  })

  it('rejects unknown keys, bad role names and reserved variable names together', async () => {
    const dir = await fixture({
      ...good,
      'roles.yaml': `
roles:
  base: { playbooks: [base.yml], alwys: true }
  Bad-Role: { playbooks: [base.yml] }
  worker: { playbooks: [worker.yml], requiredVars: [ansible_ssh_common_args], vars: { hostvars: 1 } }
decommission: { playbooks: [decom.yml] }
upgrade: { playbooks: [up.yml] }
`
    })
    await assert.rejects(loadRoleConfig(dir), (err: any) => {
      const problems: string[] = err.details.problems
      assert.ok(problems.some(p => /roles\.base: unknown key 'alwys'/.test(p)), problems.join('\n'))
      assert.ok(problems.some(p => /role name 'Bad-Role'/.test(p)))
      assert.ok(problems.some(p => /required variable 'ansible_ssh_common_args' is not allowed/.test(p)))
      assert.ok(problems.some(p => /variable 'hostvars' is not allowed/.test(p)))
      return true
    })
  })

  it('rejects the same variable defaulted by two roles', async () => {
    await rejects({ ...good, 'roles.yaml': goodConfig.replace('always: true }', 'always: true, vars: { slots: 1 } }') },
      /variable 'slots' has defaults in both roles 'base' and 'worker'/)
  })

  it('rejects a config without decommission playbooks', async () => {
    await rejects({ ...good, 'roles.yaml': goodConfig.replace('decommission: { playbooks: [decom.yml] }', '') },
      /decommission must be a mapping/)
  })
})
