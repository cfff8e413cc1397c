// An agent upgrade's pure decisions: version order (semver precedence), what each node's step
// is, the refusal of a no-op or a downgrade without force, the manager's own node last, the
// release's name and checksum file, and the request built from a real releases directory.

import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClusterdError } from '../../../../protocol/errors.js'
import type { NodeRecord } from '../../../../protocol/nodes.js'
import { findRelease, parseChecksumFile, parseReleaseName, readRelease } from '../../../../manager/agent-upgrade/agent-release.js'
import { agentUpgradeNodes, agentUpgradeOrder, agentUpgradeSteps, compareVersions } from '../../../../manager/agent-upgrade/agent-upgrade-plan.js'
import { agentFields, agentUpgradeRequest } from '../../../../manager/agent-upgrade/agent-upgrade-request.js'

const refused = (re: RegExp) => (err: unknown): boolean => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_UPGRADE_REFUSED' && re.test(err.message)
const invalid = (re: RegExp) => (err: unknown): boolean => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_INVALID_ARGUMENT' && re.test(err.message)

describe('compareVersions', () => {
  it('orders by semver precedence: numbers as numbers, a pre-release below its release, build ignored', () => {
    const ordered = ['0.1.0', '0.1.1-rc.1', '0.1.1-rc.2', '0.1.1-rc.10', '0.1.1', '0.2.0', '0.10.0', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-beta', '1.0.0']
    for (let i = 0; i < ordered.length - 1; i++) {
      assert.ok(compareVersions(ordered[i] as string, ordered[i + 1] as string) < 0, `${ordered[i]} < ${ordered[i + 1]}`)
      assert.ok(compareVersions(ordered[i + 1] as string, ordered[i] as string) > 0, `${ordered[i + 1]} > ${ordered[i]}`)
    }
    assert.equal(compareVersions('1.2.3+build.5', '1.2.3'), 0)
    assert.equal(compareVersions('0.1.1-test', '0.1.1-test'), 0)
    assert.ok(compareVersions('0.1.1-test', '0.1.0') > 0)
  })
})

describe('agentUpgradeSteps and agentUpgradeNodes', () => {
  const nodes = [{ name: 'a', agentVersion: '0.1.0' }, { name: 'b', agentVersion: '0.2.0' }, { name: 'c', agentVersion: null }]

  it('names each node\'s step from the version it reports', () => {
    assert.deepEqual(agentUpgradeSteps(nodes, '0.2.0'), [
      { node: 'a', from: '0.1.0', action: 'upgrade' },
      { node: 'b', from: '0.2.0', action: 'no-op' },
      { node: 'c', from: null, action: 'unknown' }
    ])
  })

  it('leaves out nodes already at the target and runs the others', () => {
    assert.deepEqual(agentUpgradeNodes(agentUpgradeSteps(nodes, '0.2.0'), '0.2.0', false), ['a', 'c'])
  })

  it('refuses a downgrade of any node, naming it, unless forced', () => {
    const steps = agentUpgradeSteps(nodes, '0.1.5')
    assert.throws(() => agentUpgradeNodes(steps, '0.1.5', false), refused(/downgrade b \(runs 0\.2\.0\); pass --force/))
    assert.deepEqual(agentUpgradeNodes(steps, '0.1.5', true), ['a', 'b', 'c'])
  })

  it('refuses a request that changes nothing unless forced', () => {
    const steps = agentUpgradeSteps([{ name: 'a', agentVersion: '0.2.0' }, { name: 'b', agentVersion: '0.2.0' }], '0.2.0')
    assert.throws(() => agentUpgradeNodes(steps, '0.2.0', false), refused(/nothing to do: a, b already run agent 0\.2\.0/))
    assert.deepEqual(agentUpgradeNodes(steps, '0.2.0', true), ['a', 'b'])
  })
})

describe('agentUpgradeOrder', () => {
  it('keeps the order and puts the manager\'s own node last', () => {
    assert.deepEqual(agentUpgradeOrder(['m', 'a', 'b'], 'm'), ['a', 'b', 'm'])
    assert.deepEqual(agentUpgradeOrder(['a', 'b'], 'm'), ['a', 'b'])
  })
})

describe('release archives', () => {
  const sum = 'ab'.repeat(32)
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'clusterd-releases-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('reads the tree id and version from the archive name', () => {
    assert.deepEqual(parseReleaseName('clusterd-0.1.1-test-b0ad25f8926b.tar.gz'), { tree: '0.1.1-test-b0ad25f8926b', version: '0.1.1-test' })
    for (const bad of ['clusterd-0.1.1.tar.gz', 'clusterd-0.1.1-B0AD25F8926B.tar.gz', 'other-0.1.1-b0ad25f8926b.tar.gz', 'clusterd-0.1.1-b0ad25f8926b.tgz', 'clusterd--b0ad25f8926b.tar.gz']) {
      assert.ok('reason' in parseReleaseName(bad), bad)
    }
  })

  it('takes the checksum only from one sha256sum line for that very archive', () => {
    assert.deepEqual(parseChecksumFile(`${sum}  clusterd-1-b0ad25f8926b.tar.gz\n`, 'clusterd-1-b0ad25f8926b.tar.gz'), { sha256: sum })
    assert.ok('reason' in parseChecksumFile(`${sum}  clusterd-2-b0ad25f8926b.tar.gz\n`, 'clusterd-1-b0ad25f8926b.tar.gz'))
    assert.ok('reason' in parseChecksumFile(`${sum.slice(1)}  clusterd-1-b0ad25f8926b.tar.gz\n`, 'clusterd-1-b0ad25f8926b.tar.gz'))
    assert.ok('reason' in parseChecksumFile(`${sum}  a\n${sum}  b\n`, 'a'))
  })

  it('finds the one archive of a version in a releases directory, with its checksum', async () => {
    const name = 'clusterd-0.3.0-0123456789ab.tar.gz'
    await writeFile(join(dir, name), 'archive')
    await writeFile(join(dir, `${name}.sha256`), `${sum}  ${name}\n`)
    assert.deepEqual(await findRelease(dir, '0.3.0'), { path: join(dir, name), tree: '0.3.0-0123456789ab', version: '0.3.0', sha256: sum })
    await assert.rejects(findRelease(dir, '0.4.0'), invalid(/no clusterd-0\.4\.0-\*\.tar\.gz in/))
    await assert.rejects(findRelease(join(dir, 'missing'), '0.3.0'), invalid(/no releases directory/))
    const other = 'clusterd-0.3.0-ba9876543210.tar.gz'
    await writeFile(join(dir, other), 'archive')
    await assert.rejects(findRelease(dir, '0.3.0'), invalid(/2 archives of version 0\.3\.0/))
    await rm(join(dir, other))
    await assert.rejects(readRelease('clusterd-0.3.0-0123456789ab.tar.gz'), invalid(/not an absolute path/))
    const lone = 'clusterd-0.5.0-0123456789ab.tar.gz'
    await writeFile(join(dir, lone), 'archive')
    await assert.rejects(readRelease(join(dir, lone)), invalid(/no checksum file/))
  })

  it('builds the job request: release variables, nodes at the target left out, unknown nodes and bad fields refused', async () => {
    const AT = '2026-12-06T08:00:00.000Z'
    const rec = (name: string, agentVersion: string | null, reachable = true): NodeRecord => ({
      name, peerId: `p-${name}`, state: 'commissioned', roles: [], vars: {}, reachable, currentJob: null, lastJob: null, reason: null,
      since: AT, discoveredAt: AT, updatedAt: AT, boot: null, drift: null, nameConflicts: [], revision: null, agentVersion, cordoned: false, labels: {}
    })
    const ctx = { releasesDir: dir, listNodes: async () => [rec('a', '0.1.0'), rec('b', '0.3.0'), rec('c', '0.1.0', false)] }
    const req = await agentUpgradeRequest(ctx, { nodes: [], all: true, vars: { agent_prefix: '/srv/clusterd' }, agentVersion: '0.3.0', force: false })
    assert.deepEqual(req, {
      kind: 'agent-upgrade',
      nodes: ['a'],
      roles: [],
      vars: { agent_prefix: '/srv/clusterd', agent_release: join(dir, 'clusterd-0.3.0-0123456789ab.tar.gz'), agent_release_sha256: sum, agent_tree: '0.3.0-0123456789ab', agent_upgrade_version: '0.3.0' },
      actor: 'operator'
    })
    await assert.rejects(agentUpgradeRequest(ctx, { nodes: ['b'], all: false, vars: {}, agentVersion: '0.3.0', force: false }), refused(/nothing to do: b already runs agent 0\.3\.0/))
    await assert.rejects(agentUpgradeRequest(ctx, { nodes: ['zz'], all: false, vars: {}, agentVersion: '0.3.0', force: false }),
      (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_NODE_NOT_FOUND')
    await assert.rejects(agentUpgradeRequest(ctx, { nodes: ['a'], all: false, vars: {}, agentRelease: join(dir, 'clusterd-0.3.0-0123456789ab.tar.gz'), agentVersion: '0.4.0', force: false }),
      invalid(/is version 0\.3\.0, not 0\.4\.0/))
    assert.throws(() => agentFields({ agentVersion: '../x' }), invalid(/agentVersion must be a version/))
    assert.throws(() => agentFields({ agentVersion: '1.0.0', force: 'yes' }), invalid(/force must be true or false/))
  })
})
