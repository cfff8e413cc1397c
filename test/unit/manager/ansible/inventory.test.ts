import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { execa } from 'execa'
import { parse } from 'yaml'
import { ClusterdError } from '../../../../protocol/errors.js'
import type { HostKey } from '../../../../protocol/members.js'
import { buildInventory, hostAlias } from '../../../../manager/ansible/inventory.js'
import type { PlaybookPlan, PlannedHost } from '../../../../manager/roles/plan.js'

function ed25519 (): HostKey {
  const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
  return { type: 'ssh-ed25519', key: Buffer.concat([u32(11), Buffer.from('ssh-ed25519'), u32(32), randomBytes(32)]).toString('base64') }
}

const HOSTILE = [
  "a;rm -rf /",
  '$(touch /tmp/clusterd-pwned)',
  '`id`',
  "{{ lookup('pipe', 'touch /tmp/clusterd-pwned') }}",
  'all',
  'localhost',
  'web[1:3]',
  '-oProxyCommand=id',
  "it's \"quoted\" & <b>",
  'Upper.Case'
]

function host (name: string, extra: Partial<PlannedHost> = {}): PlannedHost {
  return { name, address: '10.1.2.3', hostKeys: [ed25519()], roles: ['base', 'worker'], vars: { clusterd_node_name: name, note: name }, ...extra }
}

function plan (hosts: PlannedHost[]): PlaybookPlan {
  return { kind: 'commission', cluster: 'c', playbooks: ['/pb/base.yml'], hosts }
}

function invalid (fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_INVALID_ARGUMENT' && pattern.test(err.message))
}

describe('inventory', () => {
  it('keeps plain host names as aliases and maps everything else to node_<hash>', () => {
    assert.equal(hostAlias('worker-1.example'), 'worker-1.example')
    for (const name of HOSTILE) {
      assert.match(hostAlias(name), /^node_[0-9a-f]{16}$/, name)
    }
    assert.equal(hostAlias('a;b'), hostAlias('a;b'), 'aliases are stable')
    assert.notEqual(hostAlias('a;b'), hostAlias('a;c'))
  })

  it('puts a host losing a role in cleanup_<role> (node set-roles), not in role_<role>', () => {
    const inv = buildInventory(plan([host('n1', { roles: ['base', 'storage'], cleanupRoles: ['worker'] }), host('n2')]), { privateKeyPath: '/keys/id' })
    const doc = parse(inv.yaml, { customTags: [{ tag: '!unsafe', resolve: (s: string) => s }] })
    assert.deepEqual(Object.keys(doc.all.children.cleanup_worker.hosts), ['n1'])
    assert.deepEqual(Object.keys(doc.all.children.role_worker.hosts), ['n2'])
  })

  it('refuses names with control characters', () => {
    invalid(() => hostAlias('a\nb'), /printable/)
    invalid(() => hostAlias(''), /printable/)
  })

  it('writes root, the pinned interpreter, the key file, role groups and HostKeyAlias', () => {
    const inv = buildInventory(plan([host('n1'), host('n2', { roles: ['base'], port: 2222 })]), { privateKeyPath: '/keys/id' })
    const doc = parse(inv.yaml, { customTags: [{ tag: '!unsafe', resolve: (s: string) => s }] })
    assert.deepEqual(doc.all.vars, { ansible_user: 'root', ansible_python_interpreter: '/usr/bin/python3', ansible_ssh_private_key_file: '/keys/id' })
    assert.deepEqual(Object.keys(doc.all.children.role_base.hosts), ['n1', 'n2'])
    assert.deepEqual(Object.keys(doc.all.children.role_worker.hosts), ['n1'])
    assert.equal(doc.all.children.cleanup_worker, undefined, 'no cleanup group without a role being removed')
    assert.equal(doc.all.hosts.n1.ansible_host, '10.1.2.3')
    assert.equal(doc.all.hosts.n2.ansible_port, 2222)
    assert.equal(doc.all.hosts.n1.ansible_ssh_extra_args, '-o HostKeyAlias=n1')
    const lines = inv.knownHosts.trim().split('\n')
    assert.equal(lines.length, 2)
    assert.match(lines[0] ?? '', /^n1 ssh-ed25519 [A-Za-z0-9+/=]+$/)
  })

  it('sends a host\'s session environment (the node lease) with every ssh, sftp and scp session, and refuses values an option string cannot carry', () => {
    const inv = buildInventory(plan([host('n1', { sshEnv: { CLUSTERD_LEASE: `7:${'ab'.repeat(16)}` } }), host('n2')]), { privateKeyPath: '/k' })
    const doc = parse(inv.yaml, { customTags: [{ tag: '!unsafe', resolve: (s: string) => s }] })
    assert.equal(doc.all.hosts.n1.ansible_ssh_common_args, `-o SetEnv=CLUSTERD_LEASE=7:${'ab'.repeat(16)}`)
    assert.equal(doc.all.hosts.n2.ansible_ssh_common_args, undefined)
    invalid(() => buildInventory(plan([host('n1', { sshEnv: { CLUSTERD_LEASE: '1:ab -o ProxyCommand=id' } })]), { privateKeyPath: '/k' }), /cannot be sent safely/)
    invalid(() => buildInventory(plan([host('n1', { sshEnv: { 'A B': 'x' } })]), { privateKeyPath: '/k' }), /cannot be sent safely/)
  })

  it('tags every user string !unsafe, nested ones included', () => {
    const inv = buildInventory(plan([host('n1', { vars: { a: '{{ x }}', deep: { list: ['{{ y }}', 3] } } })]), { privateKeyPath: '/k' })
    assert.match(inv.yaml, /a: !unsafe "\{\{ x \}\}"/)
    assert.match(inv.yaml, /- !unsafe "\{\{ y \}\}"/)
    assert.doesNotMatch(inv.yaml, /ansible_host: !unsafe/)
  })

  it('refuses an address that ssh would read as an option, a missing or mangled host key', () => {
    invalid(() => buildInventory(plan([host('n1', { address: '-oProxyCommand=id' })]), { privateKeyPath: '/k' }), /not an IP address or host name/)
    invalid(() => buildInventory(plan([host('n1', { hostKeys: [] })]), { privateKeyPath: '/k' }), /no pinned SSH host key/)
    invalid(() => buildInventory(plan([host('n1', { hostKeys: [{ type: 'ssh-rsa', key: ed25519().key }] })]), { privateKeyPath: '/k' }), /does not hold a ssh-rsa key/)
    invalid(() => buildInventory(plan([host('n1', { hostKeys: [{ type: 'ssh-dss', key: 'AAAA' }] })]), { privateKeyPath: '/k' }), /unsupported key type/)
    invalid(() => buildInventory(plan([host('n1', { port: 70000 })]), { privateKeyPath: '/k' }), /out of range/)
  })

  it('is read by real ansible-inventory with hostile names kept as data', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clusterd-inv-'))
    try {
      const inv = buildInventory(plan(HOSTILE.map(n => host(n))), { privateKeyPath: '/k' })
      await writeFile(join(dir, 'hosts.yml'), inv.yaml)
      await writeFile(join(dir, 'ansible.cfg'), '')
      const r = await execa('/usr/bin/ansible-inventory', ['-i', join(dir, 'hosts.yml'), '--list', '--export'], {
        extendEnv: false, env: { PATH: '/usr/bin:/bin', HOME: dir, LC_ALL: 'C.UTF-8', ANSIBLE_INVENTORY_ENABLED: 'yaml', ANSIBLE_CONFIG: join(dir, 'ansible.cfg') }, reject: false, cwd: dir
      })
      assert.equal(r.exitCode, 0, r.stderr)
      const out = JSON.parse(r.stdout)
      const names = Object.values(out._meta.hostvars).map((v: any) => String(v.note?.__ansible_unsafe ?? v.note)).sort()
      assert.deepEqual(names, [...HOSTILE].sort())
      assert.deepEqual([...out.role_worker.hosts].sort(), HOSTILE.map(hostAlias).sort())
      assert.doesNotMatch(r.stderr, /WARNING/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
