import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ClusterdError } from '../../../../protocol/errors.js'
import { planFor } from '../../../../manager/roles/plan.js'
import type { PlanTarget } from '../../../../manager/roles/plan.js'
import type { RoleConfig } from '../../../../manager/roles/role-config.js'

const key = { type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIH5c2YlH0mNsHcOo0b0xQy3V5sD8l9C8v1R4s2l3Yk9p' }
const config: RoleConfig = {
  dir: '/pb',
  vars: { level: 'cluster-file', only_cluster: 1 },
  roles: [
    { name: 'base', playbooks: ['/pb/base.yml'], always: true, requiredVars: [], vars: { base_var: 'b' }, cleanup: [] },
    { name: 'worker', playbooks: ['/pb/worker.yml', '/pb/common.yml'], always: false, requiredVars: [], vars: { level: 'role' }, cleanup: ['/pb/worker-cleanup.yml'] },
    { name: 'storage', playbooks: ['/pb/storage.yml', '/pb/common.yml'], always: false, requiredVars: ['storage_path'], vars: {}, cleanup: ['/pb/storage-cleanup.yml'] }
  ],
  decommission: { playbooks: ['/pb/decommission.yml'], requiredVars: [], vars: {} },
  upgrade: { playbooks: ['/pb/upgrade.yml'], requiredVars: ['agent_version'], vars: { config_version: 1 } }
}
const node = (name: string, roles: string[], vars?: PlanTarget['vars']): PlanTarget =>
  ({ name, address: '10.0.0.1', hostKeys: [key], roles, ...(vars !== undefined ? { vars } : {}) })

function code (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof ClusterdError)
    return `${err.code}: ${err.message}`
  }
  assert.fail('expected a ClusterdError')
}

describe('planFor', () => {
  it('layers variables cluster < role < node < request', () => {
    const layer = (cluster?: string, n?: string, req?: string): unknown => planFor(config, 'commission', [
      node('a', ['worker'], n !== undefined ? { level: n } : undefined)
    ], { cluster: 'c', vars: { ...(cluster !== undefined ? { cluster: { level: cluster } } : {}), ...(req !== undefined ? { request: { level: req } } : {}) } }).hosts[0]?.vars.level
    assert.equal(planFor(config, 'commission', [node('a', ['base'])], { cluster: 'c' }).hosts[0]?.vars.level, 'cluster-file')
    assert.equal(planFor(config, 'commission', [node('a', ['base'])], { cluster: 'c', vars: { cluster: { level: 'cluster' } } }).hosts[0]?.vars.level, 'cluster')
    assert.equal(layer('cluster'), 'role')
    assert.equal(layer('cluster', 'node'), 'node')
    assert.equal(layer('cluster', 'node', 'request'), 'request')
  })

  it('applies role variables only to hosts with that role', () => {
    const plan = planFor(config, 'commission', [node('a', ['worker']), node('b', [])], { cluster: 'c' })
    assert.equal(plan.hosts[0]?.vars.level, 'role')
    assert.equal(plan.hosts[1]?.vars.level, 'cluster-file')
  })

  it('adds always-roles and orders playbooks as in roles.yaml, once each', () => {
    const plan = planFor(config, 'commission', [node('a', ['storage', 'worker'])], { cluster: 'c', vars: { request: { storage_path: '/srv/x' } } })
    assert.deepEqual(plan.hosts[0]?.roles, ['base', 'worker', 'storage'])
    assert.deepEqual(plan.playbooks, ['/pb/base.yml', '/pb/worker.yml', '/pb/common.yml', '/pb/storage.yml'])
  })

  it('set-roles (reconfigure with cleanupRoles): cleanup playbooks of removed roles first, in a cleanup group; always-roles and kept roles are never cleaned', () => {
    const plan = planFor(config, 'reconfigure', [{ ...node('a', ['storage']), cleanupRoles: ['worker', 'base', 'storage', 'gone'] }, node('b', ['worker'])],
      { cluster: 'c', vars: { request: { storage_path: '/srv/x' } } })
    assert.deepEqual(plan.hosts.map(h => [h.roles, h.cleanupRoles]), [[['base', 'storage'], ['worker']], [['base', 'worker'], undefined]])
    assert.deepEqual(plan.playbooks, ['/pb/worker-cleanup.yml', '/pb/base.yml', '/pb/worker.yml', '/pb/common.yml', '/pb/storage.yml'])
    const noCleanup: RoleConfig = { ...config, roles: config.roles.map(r => r.name === 'worker' ? { ...r, cleanup: [] } : r) }
    assert.throws(() => planFor(noCleanup, 'reconfigure', [{ ...node('a', ['storage']), cleanupRoles: ['worker'] }], { cluster: 'c', vars: { request: { storage_path: '/srv/x' } } }),
      (err: any) => err.code === 'CLUSTERD_ERR_PLAYBOOK_CONFIG' && /role 'worker' has no cleanup playbooks/.test(err.message))
    assert.throws(() => planFor(config, 'upgrade', [{ ...node('a', ['storage']), cleanupRoles: ['worker'] }], { cluster: 'c', vars: { request: { agent_version: '1', storage_path: '/srv/x' } } }),
      /roles are removed only by a reconfigure/)
  })

  it('injects node identity that user variables cannot override', () => {
    const plan = planFor(config, 'commission', [node('n;1', ['worker'])], { cluster: 'prod' })
    assert.deepEqual(
      [plan.hosts[0]?.vars.clusterd_node_name, plan.hosts[0]?.vars.clusterd_roles, plan.hosts[0]?.vars.clusterd_cluster, plan.hosts[0]?.vars.clusterd_plan_kind],
      ['n;1', ['base', 'worker'], 'prod', 'commission'])
    assert.match(code(() => planFor(config, 'commission', [node('a', [], { clusterd_node_name: 'x' })], { cluster: 'c' })), /clusterd_node_name' is not allowed/)
  })

  it('refuses Ansible connection and magic variables from requests', () => {
    for (const name of ['ansible_ssh_common_args', 'ansible_host', 'hostvars', 'Upper', 'a-b']) {
      assert.match(code(() => planFor(config, 'commission', [node('a', [])], { cluster: 'c', vars: { request: { [name]: 'x' } } })),
        /^CLUSTERD_ERR_INVALID_ARGUMENT: .*is not allowed/, name)
    }
  })

  it('reports an unknown role with CLUSTERD_ERR_UNKNOWN_ROLE', () => {
    assert.match(code(() => planFor(config, 'commission', [node('a', ['gpu'])], { cluster: 'c' })), /^CLUSTERD_ERR_UNKNOWN_ROLE: role 'gpu' for node 'a'/)
  })

  it('decommissions a node whose role no longer exists', () => {
    const plan = planFor(config, 'decommission', [node('a', ['gpu', 'worker'])], { cluster: 'c' })
    assert.deepEqual(plan.playbooks, ['/pb/decommission.yml'])
    assert.deepEqual(plan.hosts[0]?.roles, ['base', 'worker'])
  })

  it('names a missing required variable and accepts it from any layer', () => {
    assert.match(code(() => planFor(config, 'commission', [node('a', ['storage'])], { cluster: 'c' })),
      /^CLUSTERD_ERR_INVALID_ARGUMENT: node 'a': required variable\(s\) storage_path have no value for commission/)
    assert.equal(planFor(config, 'commission', [node('a', ['storage'], { storage_path: '/srv/a' })], { cluster: 'c' }).hosts[0]?.vars.storage_path, '/srv/a')
    assert.match(code(() => planFor(config, 'upgrade', [node('a', ['worker'])], { cluster: 'c' })), /agent_version have no value for upgrade/)
    assert.equal(planFor(config, 'upgrade', [node('a', [])], { cluster: 'c', vars: { request: { agent_version: '1.2.3' } } }).hosts[0]?.vars.config_version, 1)
  })

  it('rejects duplicate nodes and non-JSON values', () => {
    assert.match(code(() => planFor(config, 'commission', [node('a', []), node('a', [])], { cluster: 'c' })), /appears twice/)
    assert.match(code(() => planFor(config, 'commission', [node('a', [], { x: Number.NaN })], { cluster: 'c' })), /finite/)
  })
})
